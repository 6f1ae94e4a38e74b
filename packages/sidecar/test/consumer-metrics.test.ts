/**
 * The consumer metrics per group, read from the sidecar's real prom-client registry while a real
 * group consumes from embedded-kafka: lag per partition (from the member's fetches and commits,
 * and from the brokers while the member fetches nothing), records and bytes in flight per process
 * (a series per consumer instance, gone when it leaves), the commit round trip.
 */
import {
  connectedProducer,
  kafkaFor,
  randomTopic,
  startCluster,
  startTestSidecar,
  waitFor,
} from '@kafka-sidecar/test-support'
import type { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import { describe, expect, it } from 'vitest'
import type { RunningSidecar } from '../src/index.js'
import { consumerClient, joinRequest, TestConsumer } from './consumer-helpers.js'

type Labels = Record<string, string | number>

/** Every series of a metric: its labels and value. */
async function series(sidecar: RunningSidecar, name: string): Promise<Array<{ labels: Labels; value: number }>> {
  const metric = sidecar.metrics.registry.getSingleMetric(name)!
  return (await metric.get()).values.map((v) => ({ labels: v.labels as Labels, value: v.value }))
}

/** The lag by partition of `groupId`'s partitions of `topic`. */
async function lagOf(sidecar: RunningSidecar, groupId: string, topic: string): Promise<Map<number, number>> {
  const lags = await series(sidecar, 'kafka_sidecar_consumer_lag')
  return new Map(
    lags
      .filter((s) => s.labels.group === groupId && s.labels.topic === topic)
      .map((s) => [Number(s.labels.partition), s.value]),
  )
}

async function produce(cluster: EmbeddedKafka, topic: string, partition: number, count: number, value = 'v') {
  const producer = await connectedProducer(kafkaFor(cluster))
  await producer.send({ topic, messages: Array.from({ length: count }, () => ({ partition, value })) })
}

function instanceOf(join: ReturnType<typeof joinRequest>): string {
  if (join.request?.$case !== 'join') throw new Error('not a join')
  return join.request.value.instanceId
}

describe('consumer metrics per group', () => {
  it('lag per partition: what the group has not committed, down to 0 once processed and committed, up again with new records', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('lag')
    await cluster.createTopic({ topic, partitions: 2 })
    await produce(cluster, topic, 0, 30)
    await produce(cluster, topic, 1, 20)
    const sidecar = await startTestSidecar(cluster)
    const groupId = randomTopic('group')
    const consumer = TestConsumer.join(consumerClient(sidecar), joinRequest(groupId, [topic]), { hold: true })
    await waitFor('a batch of each partition', () => consumer.held.length === 2, 20_000)
    // Nothing committed yet: counted from where the member started reading (offset 0, fromBeginning).
    expect(await lagOf(sidecar, groupId, topic)).toEqual(
      new Map([
        [0, 30],
        [1, 20],
      ]),
    )

    consumer.finish()
    let lag = new Map<number, number>()
    await waitFor(
      () => `lag 0 on both partitions (now ${JSON.stringify([...lag])})`,
      async () => {
        lag = await lagOf(sidecar, groupId, topic)
        return lag.get(0) === 0 && lag.get(1) === 0
      },
      10_000,
    )
    const commits = await series(sidecar, 'kafka_sidecar_consumer_commit_duration_seconds')
    const count = commits.find((s) => s.labels.group === groupId && String(s.labels.le) === '+Inf')
    expect(count?.value).toBeGreaterThanOrEqual(2)

    await produce(cluster, topic, 0, 7)
    await waitFor('a batch of the 7 new records', () => consumer.held.length === 1, 10_000)
    expect((await lagOf(sidecar, groupId, topic)).get(0)).toBe(7)
    consumer.finish()
    await waitFor('lag 0 again', async () => (await lagOf(sidecar, groupId, topic)).get(0) === 0, 10_000)
    expect(consumer.consumed).toHaveLength(57)
  })

  it('lag keeps growing while the member fetches nothing (its buffer full, the partition paused in KafkaJS): the brokers say', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('paused-lag')
    await cluster.createTopic({ topic, partitions: 1 })
    const value = 'x'.repeat(100)
    await produce(cluster, topic, 0, 20, value)
    const sidecar = await startTestSidecar(cluster, { consumerBufferBytesPerPartition: 1_000 })
    const groupId = randomTopic('group')
    const join = joinRequest(groupId, [topic], {
      settings: { maxWaitTimeMs: 100, maxBytesPerPartition: 1_000, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500 },
    })
    const slow = TestConsumer.join(consumerClient(sidecar), join, { hold: true })
    await waitFor('a batch held', () => slow.held.length === 1, 20_000)
    await new Promise((r) => setTimeout(r, 500))
    const buffered = async () => (await series(sidecar, 'kafka_sidecar_consumer_buffered_bytes'))[0]!.value
    const before = await buffered()
    expect(before).toBeGreaterThanOrEqual(1_000)

    await produce(cluster, topic, 0, 100, value)
    await waitFor('lag 120', async () => (await lagOf(sidecar, groupId, topic)).get(0) === 120, 10_000)
    // Nothing more was fetched: the lag came from the brokers, not from a fetch's high watermark.
    expect(await buffered()).toBe(before)
    await waitFor(
      'all 120 read',
      () => {
        slow.finish()
        return slow.consumed.length === 120
      },
      20_000,
    )
    await waitFor('lag 0', async () => (await lagOf(sidecar, groupId, topic)).get(0) === 0, 10_000)
  })

  it('lag series go with the partition: a member that leaves the group takes its series along', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('lag-gone')
    await cluster.createTopic({ topic, partitions: 1 })
    await produce(cluster, topic, 0, 5)
    const sidecar = await startTestSidecar(cluster, { consumerGroupIdleMs: 200 })
    const groupId = randomTopic('group')
    const consumer = TestConsumer.join(consumerClient(sidecar), joinRequest(groupId, [topic]))
    await waitFor('lag 0', async () => (await lagOf(sidecar, groupId, topic)).get(0) === 0, 20_000)
    consumer.cancel()
    await waitFor('no lag series', async () => (await lagOf(sidecar, groupId, topic)).size === 0, 10_000)
    expect((await series(sidecar, 'kafka_sidecar_consumer_member_in_group')).map((s) => s.labels.group)).not.toContain(
      groupId,
    )
  })

  it('records and bytes in flight per process: one series per consumer instance, gone when it leaves', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('in-flight')
    await cluster.createTopic({ topic, partitions: 2 })
    const sidecar = await startTestSidecar(cluster)
    const groupId = randomTopic('group')
    const client = consumerClient(sidecar)
    const joinA = joinRequest(groupId, [topic])
    const joinB = joinRequest(groupId, [topic])
    const a = TestConsumer.join(client, joinA, { hold: true })
    await waitFor('a owns both', () => a.partitions().length === 2, 20_000)
    const b = TestConsumer.join(client, joinB, { hold: true })
    await waitFor('one each', () => a.partitions().length === 1 && b.partitions().length === 1, 10_000)
    const value = 'y'.repeat(50)
    await produce(cluster, topic, 0, 5, value)
    await produce(cluster, topic, 1, 5, value)
    await waitFor('a batch each', () => a.held.length === 1 && b.held.length === 1, 10_000)

    const perProcess = async (name: string) =>
      new Map(
        (await series(sidecar, name))
          .filter((s) => s.labels.group === groupId)
          .map((s) => [String(s.labels.process), s.value]),
      )
    const records = await perProcess('kafka_sidecar_consumer_process_records_in_flight')
    expect(records).toEqual(
      new Map([
        [instanceOf(joinA), 5],
        [instanceOf(joinB), 5],
      ]),
    )
    const bytes = await perProcess('kafka_sidecar_consumer_process_bytes_in_flight')
    expect(bytes.get(instanceOf(joinA))).toBe(5 * 50)
    expect(bytes.get(instanceOf(joinB))).toBe(5 * 50)

    a.cancel()
    // a's partition goes to b, whose in-flight now holds that partition's records too (redelivered).
    await waitFor('b holds both batches', () => b.held.length === 2, 10_000)
    expect(await perProcess('kafka_sidecar_consumer_process_records_in_flight')).toEqual(
      new Map([[instanceOf(joinB), 10]]),
    )
    expect([...(await perProcess('kafka_sidecar_consumer_process_bytes_in_flight')).keys()]).toEqual([
      instanceOf(joinB),
    ])
    b.finish()
    await waitFor(
      'nothing in flight',
      async () => (await perProcess('kafka_sidecar_consumer_process_records_in_flight')).get(instanceOf(joinB)) === 0,
      10_000,
    )
  })
})
