/**
 * End to end (embedded-kafka, a real sidecar in this process, the client over grpc-js): what the
 * consumer review found when partitions leave a process mid-batch. A Kafka rebalance that takes
 * the partition whose message is in hand (H1) must not crash the consumer; a handler that never
 * returns must lose its partitions after the process timeout, as a KafkaJS member's session (M2).
 */
import { randomTopic, startCluster, startTestSidecar, waitFor } from '@kafka-sidecar/test-support'
import kafkajs from 'kafkajs'
import type { InstrumentationEvent } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { consumerOf, recordWriter, sidecarKafka } from './e2e-helpers.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('end to end: partitions leaving a process mid-batch', () => {
  it('a KafkaJS member taking the partition in hand: no CRASH, the consumer goes on with what it keeps', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const topic = randomTopic('move')
    await cluster.createTopic({ topic, partitions: 2 })
    const write = await recordWriter(cluster)
    await write(topic, 2, 0, 20)
    const sidecar = await startTestSidecar(cluster)
    const groupId = randomTopic('group')
    const consumer = consumerOf(sidecarKafka(cluster, sidecar.address), { groupId })
    const crashes: Array<InstrumentationEvent<unknown>> = []
    consumer.on(consumer.events.CRASH, (e) => void crashes.push(e))
    const seen: string[] = []
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        seen.push(`${partition}@${message.offset}`)
        await sleep(800)
      },
    })
    await waitFor('a message in hand', () => seen.length > 0, 15_000)
    const plain = new kafkajs.Kafka({ brokers: cluster.bootstrapServers, logLevel: kafkajs.logLevel.NOTHING })
    const member = consumerOf(plain, { groupId })
    await member.connect()
    await member.subscribe({ topic, fromBeginning: true })
    await member.run({ eachMessage: async () => {} })
    const before = seen.length
    await waitFor('consumption going on after the rebalance', () => seen.length >= before + 4, 30_000)
    expect(crashes).toEqual([])
  }, 60_000)

  it('a handler that never returns loses its partition after processTimeoutMs; a pod-mate takes it from there', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const topic = randomTopic('hung')
    await cluster.createTopic({ topic, partitions: 2 })
    const write = await recordWriter(cluster)
    await write(topic, 2, 0, 5)
    const sidecar = await startTestSidecar(cluster)
    const kafka = sidecarKafka(cluster, sidecar.address)
    const groupId = randomTopic('group')
    const seen: string[] = []
    let release!: () => void
    const hung = new Promise<void>((resolve) => (release = resolve))
    const consumers = ['a', 'b'].map((name) => ({
      name,
      consumer: consumerOf(kafka, { groupId, sidecar: { processTimeoutMs: 2_000 } } as never),
    }))
    for (const { name, consumer } of consumers) {
      await consumer.connect()
      await consumer.subscribe({ topic, fromBeginning: true })
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          // The first consumer to meet offset 2 hangs there for good (until the test ends).
          if (message.offset === '2' && !seen.some((s) => s.endsWith('@2 hangs'))) {
            seen.push(`${name}:${partition}@2 hangs`)
            await hung
          }
          seen.push(`${name}:${partition}@${message.offset}`)
        },
      })
    }
    try {
      await waitFor('a handler hanging', () => seen.some((s) => s.endsWith('hangs')), 15_000)
      const [stuck, partition] = seen.find((s) => s.endsWith('hangs'))!.split(/[:@]/)
      const other = stuck === 'a' ? 'b' : 'a'
      // KafkaJS's session would take it after sessionTimeout; here the process timeout (2 s, plus a tick).
      await waitFor(
        'the pod-mate processing the rest of the hung partition',
        () => seen.includes(`${other}:${partition}@4`),
        15_000,
      )
    } finally {
      release()
    }
  }, 60_000)
})
