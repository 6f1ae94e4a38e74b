/**
 * What one stream or one pod can make the sidecar hold is bounded: buffered bytes across all group
 * members (consumerBufferBytes), the ownerships a long-lived stream is remembered by, and the time
 * a stream may stay open without joining (consumerJoinTimeoutMs).
 */
import { status } from '@grpc/grpc-js'
import {
  connectedProducer,
  kafkaFor,
  randomTopic,
  startCluster,
  startTestSidecar,
  waitFor,
} from '@kafka-sidecar/test-support'
import { describe, expect, it } from 'vitest'
import type { RunningSidecar } from '../src/index.js'
import { ConsumerProcess } from '../src/consumer/consumer-process.js'
import { parseSubscriptions } from '../src/consumer/subscriptions.js'
import { consumerClient, joinRequest, TestConsumer } from './consumer-helpers.js'

async function metric(sidecar: RunningSidecar, name: string): Promise<number> {
  const values = (await sidecar.metrics.registry.getSingleMetric(name)!.get()).values
  return values.reduce((sum, v) => sum + v.value, 0)
}

describe('Consume: bounds', () => {
  it('ends a stream that never sends join after consumerJoinTimeoutMs', async () => {
    const cluster = await startCluster()
    const sidecar = await startTestSidecar(cluster, { consumerJoinTimeoutMs: 300 })
    const started = Date.now()
    const silent = new TestConsumer(consumerClient(sidecar), { aliveMs: 0 })
    const ended = await silent.ended(5_000)
    expect(ended.code).toBe(status.DEADLINE_EXCEEDED)
    expect(ended.details).toMatch(/no join within 300 ms/)
    expect(Date.now() - started).toBeLessThan(2_000)
  })

  it('bounds the bytes buffered by all group members together, and reads everything once there is room', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('global-bound')
    await cluster.createTopic({ topic, partitions: 4 })
    const producer = await connectedProducer(kafkaFor(cluster))
    const value = 'x'.repeat(100)
    for (let partition = 0; partition < 4; partition++)
      for (let send = 0; send < 20; send++)
        await producer.send({ topic, messages: Array.from({ length: 10 }, () => ({ partition, value })) })
    const sidecar = await startTestSidecar(cluster, { consumerBufferBytes: 2_000 })
    const join = joinRequest(randomTopic('group'), [topic], {
      settings: { maxWaitTimeMs: 100, maxBytesPerPartition: 1_000, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500 },
      maxRecordsInFlight: 5,
    })
    const slow = TestConsumer.join(consumerClient(sidecar), join, { hold: true })
    await waitFor('batches', () => slow.held.length === 1, 20_000)
    await new Promise((r) => setTimeout(r, 800))
    // The bound, plus at most one fetch per partition (a record batch over maxBytesPerPartition) landing on top.
    expect(await metric(sidecar, 'kafka_sidecar_consumer_buffered_bytes')).toBeLessThanOrEqual(2_000 + 4 * 1_500)
    await waitFor(
      'all 800 read',
      () => {
        slow.finish()
        return slow.consumed.length === 800
      },
      30_000,
    )
  })

  it("forgets a stream's ended ownerships beyond the latest 1,000, and still ignores late reports naming them", () => {
    const stream = { send() {}, end() {}, left() {} }
    const subscriptions = parseSubscriptions([{ topicOrPattern: { $case: 'topic', value: 't' }, fromBeginning: false }])
    const identity = { id: 'p#1', instanceId: 'p', clientId: 'c', appName: 'a' }
    const process = new ConsumerProcess(
      identity,
      subscriptions,
      undefined,
      { maxRecordsInFlight: 1, maxBytesInFlight: 1, maxBatchesPerPartition: 0 },
      stream,
    )
    for (let id = 5_000; id < 10_000; id++) {
      process.issue(id, 't|0')
      process.ownershipEnded(id)
    }
    process.issue(10_000, 't|0')
    const remembered = process as unknown as { issued: Map<number, string>; ended: Map<number, string> }
    expect(remembered.issued.size).toBe(1)
    expect(remembered.ended.size).toBe(1_000)
    expect(process.issuedFor(10_000)).toBe('t|0')
    expect(process.issuedFor(9_999)).toBe('t|0')
    expect(process.issuedFor(5_000)).toBe('ended-long-ago')
    expect(process.issuedFor(4_999)).toBeUndefined()
    expect(process.issuedFor(10_001)).toBeUndefined()
  })
})

describe('Consume: a full buffer pauses and resumes without KafkaJS fetch sleeps', () => {
  it("resumes a partition paused for its full buffer without waiting out KafkaJS's fetch wait (5 s by default)", async () => {
    const cluster = await startCluster()
    const topic = randomTopic('resume')
    await cluster.createTopic({ topic, partitions: 1 })
    const producer = await connectedProducer(kafkaFor(cluster))
    const value = 'x'.repeat(100)
    for (let send = 0; send < 10; send++)
      await producer.send({ topic, messages: Array.from({ length: 10 }, () => ({ partition: 0, value })) })
    // A buffer of 1,000 bytes: the one partition, so the one broker's fetches, pause after each fetch.
    const sidecar = await startTestSidecar(cluster, { consumerBufferBytesPerPartition: 1_000 })
    const join = joinRequest(randomTopic('group'), [topic], {
      settings: { maxBytesPerPartition: 1_000, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500 },
      maxRecordsInFlight: 10,
    })
    const started = Date.now()
    const reader = TestConsumer.join(consumerClient(sidecar), join)
    // Each fetch fills the buffer and pauses the partition (all of its broker's); KafkaJS's fetcher
    // then sleeps its fetch wait before it looks again: 5 s a time at KafkaJS's default, 10 times.
    await waitFor('all 100 read', () => reader.consumed.length === 100, 15_000)
    expect(Date.now() - started).toBeLessThan(15_000)
    // The reader counts a record when it arrives and acks it after; the buffer empties on the ack.
    // The group's series must be there (a group gone would read as an empty buffer too).
    await waitFor('the group buffering nothing after the last ack', async () => {
      const gauge = sidecar.metrics.registry.getSingleMetric('kafka_sidecar_consumer_buffered_bytes')!
      const values = (await gauge.get()).values
      return values.length === 1 && values[0]!.value === 0
    })
  })
})
