/**
 * `idempotent: true` against a lost Produce answer (embedded-kafka appends the first batch to a
 * partition and closes the connection instead of answering), in every mode: plain KafkaJS, this
 * client direct, and this client through the sidecar. KafkaJS retries the write; with
 * idempotence the broker recognises the retry and every record is in Kafka once, in each mode.
 * Without it the retry writes a second copy, in each mode too (KafkaJS's behaviour, and proof
 * that the fault bites). Before the sidecar honoured EmitRequest.idempotent, sidecar mode wrote
 * the duplicate although the producer said isIdempotent().
 */
import kafkajs from 'kafkajs'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import { randomTopic, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import { connectedProducer } from './helpers.js'

const N = 12
const PARTITIONS = 3
const T = { timeout: 30_000 }

type Path = 'kafkajs' | 'direct' | 'sidecar'
type Send = (record: { value: string; partition: number }) => Promise<kafkajs.RecordMetadata[]>

async function sender(cluster: EmbeddedKafka, path: Path, topic: string, idempotent: boolean): Promise<Send> {
  const config = { idempotent, createPartitioner: kafkajs.Partitioners.DefaultPartitioner }
  if (path === 'kafkajs') {
    const producer = new kafkajs.Kafka({
      clientId: 'idempotence-test',
      brokers: cluster.bootstrapServers,
      logLevel: kafkajs.logLevel.NOTHING,
    }).producer(config)
    await producer.connect()
    onTestFinished(() => producer.disconnect())
    return (record) => producer.send({ topic, messages: [record] })
  }
  const sidecar = path === 'sidecar' ? await startTestSidecar(cluster) : null
  const producer = await connectedProducer({ cluster, mode: path, address: sidecar?.address, config })
  expect(producer.isIdempotent()).toBe(idempotent)
  return (record) => producer.send({ topic, messages: [record] })
}

/** How many times each value is in the topic's partition logs. */
async function copies(cluster: EmbeddedKafka, topic: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>()
  for (const r of await cluster.records(topic))
    counts.set(r.value!.toString(), (counts.get(r.value!.toString()) ?? 0) + 1)
  return counts
}

describe('idempotent: true against a lost Produce answer', () => {
  for (const path of ['kafkajs', 'direct', 'sidecar'] as const) {
    for (const idempotent of [true, false]) {
      it(
        `${path}, idempotent ${idempotent}: ${idempotent ? 'each record is in Kafka exactly once' : 'the retry writes a duplicate'}`,
        T,
        async () => {
          const cluster = await startCluster()
          const topic = randomTopic(`lost-${path}`)
          await cluster.createTopic({ topic, partitions: PARTITIONS })
          const send = await sender(cluster, path, topic, idempotent)
          const fault = cluster.loseProduceResponses({ topic, partition: 0 })
          const values = Array.from({ length: N }, (_, i) => `v${i}`)
          const offsets: string[] = []
          // One send at a time: KafkaJS's own idempotent producer is only safe that way (docs/delivery-semantics.md).
          for (const [i, value] of values.entries())
            offsets.push((await send({ value, partition: i % PARTITIONS }))[0]!.baseOffset!)
          expect(fault.fired).toBe(1)
          const stored = await copies(cluster, topic)
          expect([...stored.keys()].sort()).toEqual([...values].sort())
          if (idempotent) {
            expect([...stored.entries()].filter(([, n]) => n !== 1)).toEqual([])
            // And each send resolved with the offset its record is at.
            const records = await cluster.records(topic)
            values.forEach((value, i) =>
              expect(
                records
                  .find((r) => r.partition === i % PARTITIONS && String(r.offset) === offsets[i])
                  ?.value?.toString(),
              ).toBe(value),
            )
          } else {
            expect(stored.get('v0')).toBe(2)
          }
        },
      )
    }
  }

  it('sidecar: concurrent sends of many producers stay exactly once', T, async () => {
    const cluster = await startCluster()
    const topic = randomTopic('lost-concurrent')
    await cluster.createTopic({ topic, partitions: PARTITIONS })
    const sidecar = await startTestSidecar(cluster)
    const producers = await Promise.all(
      [0, 1, 2].map(() =>
        connectedProducer({ cluster, mode: 'sidecar', address: sidecar.address, config: { idempotent: true } }),
      ),
    )
    // One lost answer: with several at once, KafkaJS 2.2.4's reconnects can race (a request on a
    // broker whose connection is up but not yet initialised fails with "Broker not connected").
    const fault = cluster.loseProduceResponses({ topic })
    const values = Array.from({ length: 60 }, (_, i) => `c${i}`)
    await Promise.all(
      values.map((value, i) =>
        producers[i % producers.length]!.send({ topic, messages: [{ key: `k${i % 7}`, value }] }),
      ),
    )
    expect(fault.fired).toBe(1)
    const stored = await copies(cluster, topic)
    expect([...stored.keys()].sort()).toEqual([...values].sort())
    expect([...stored.entries()].filter(([, n]) => n !== 1)).toEqual([])
  })

  it(
    'sidecar: when the brokers refuse the sidecar a producer id, the send fails naming idempotence, and nothing is written without it',
    T,
    async () => {
      const cluster = await startCluster()
      const topic = randomTopic('refused')
      await cluster.createTopic({ topic, partitions: 1 })
      const sidecar = await startTestSidecar(cluster)
      const producer = await connectedProducer({
        cluster,
        mode: 'sidecar',
        address: sidecar.address,
        config: { idempotent: true },
      })
      const fallbacks: unknown[] = []
      producer.on(producer.events.FALLBACK, (event) => void fallbacks.push(event))
      cluster.refuseProducerIds()
      const error = await producer.send({ topic, messages: [{ value: 'x' }] }).catch((e: Error) => e)
      expect(error).toBeInstanceOf(kafkajs.KafkaJSNonRetriableError)
      expect((error as Error).message).toMatch(
        /idempotent write refused, nothing was written: .*CLUSTER_AUTHORIZATION_FAILED/,
      )
      expect(fallbacks).toEqual([])
      expect(producer.breakerState).toBe('closed')
      expect(await cluster.records(topic)).toEqual([])
    },
  )
})
