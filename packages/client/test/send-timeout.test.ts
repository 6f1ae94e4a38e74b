/**
 * A send's `timeout` means what it means in KafkaJS: the broker's ack timeout, 0 included. The
 * sidecar's own deadlines (its queue, the client's wait for an answer, the retries of a full
 * sidecar) do not shrink with it. Issue 12, finding 6b.
 */
import { describe, expect, it } from 'vitest'
import { produceLog, randomTopic, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import { SIDECAR_EVENTS } from '../src/index.js'
import { connectedProducer, sidecarBesidePlainKafkaJS } from './helpers.js'

describe('the send timeout', () => {
  it('reaches the broker as the send gave it, 0 included, as from KafkaJS', async () => {
    const log = produceLog()
    const { ours, theirs, client, plain } = await sidecarBesidePlainKafkaJS({ logger: log.logger })
    for (const timeout of [0, 1_234, undefined, 45_000, 600_000]) {
      await plain.send({ topic: theirs, timeout, messages: [{ value: `t${timeout}` }] })
      await client.send({ topic: ours, timeout, messages: [{ value: `t${timeout}` }] })
    }
    expect(log.batches(theirs).map((b) => b.timeoutMs)).toEqual([0, 1_234, 30_000, 45_000, 600_000])
    expect(log.batches(ours).map((b) => b.timeoutMs)).toEqual(log.batches(theirs).map((b) => b.timeoutMs))
  })

  it(
    'timeout 0: the client waits for a sidecar that answers after more than 5 s, instead of giving up and sending directly',
    { timeout: 60_000 },
    async () => {
      const cluster = await startCluster()
      const topic = randomTopic()
      await cluster.createTopic({ topic, partitions: 1 })
      // A long broker check keeps the sidecar accepting (and retrying) while the brokers are down.
      const sidecar = await startTestSidecar(cluster, { kafkaProbeIntervalMs: 60_000 })
      const client = await connectedProducer({ cluster, mode: 'sidecar', address: sidecar.address })
      const fallbacks: unknown[] = []
      client.on(SIDECAR_EVENTS.FALLBACK, (event) => void fallbacks.push(event.payload))
      await client.send({ topic, messages: [{ value: 'warm-up' }] })
      await cluster.stopBrokers()
      const sent = client.send({ topic, timeout: 0, messages: [{ value: 'waited' }] })
      await new Promise((resolve) => setTimeout(resolve, 6_500))
      await cluster.startBrokers()
      const metadata = await sent
      expect(metadata).toHaveLength(1)
      expect(fallbacks).toEqual([])
      expect((await cluster.records(topic)).map((r) => r.value!.toString())).toEqual(['warm-up', 'waited'])
    },
  )

  it('timeout 1: sends behind a full sidecar are still retried and written, as KafkaJS would write them', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster, { maxQueuedRecords: 5 })
    const client = await connectedProducer({ cluster, mode: 'sidecar', address: sidecar.address })
    const sends = Array.from({ length: 20 }, (_, i) =>
      client.send({ topic, timeout: 1, messages: Array.from({ length: 5 }, (_, j) => ({ value: `${i}-${j}` })) }),
    )
    const outcomes = await Promise.allSettled(sends)
    expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([])
    expect((await cluster.records(topic)).map((r) => r.value!.toString())).toEqual(
      Array.from({ length: 20 }, (_, i) => Array.from({ length: 5 }, (_, j) => `${i}-${j}`)).flat(),
    )
  })
})
