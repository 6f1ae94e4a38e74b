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
import { consumerClient, joinRequest, TestConsumer } from './consumer-helpers.js'

async function metric(sidecar: RunningSidecar, name: string): Promise<number> {
  const values = (await sidecar.metrics.registry.getSingleMetric(name)!.get()).values
  return values.reduce((sum, v) => sum + v.value, 0)
}

describe("Consume: the group member's lifecycle", () => {
  it('bounds the buffer of a partition whose process is slow: the partition is paused in KafkaJS, and resumed when drained', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('bound')
    await cluster.createTopic({ topic, partitions: 1 })
    const producer = await connectedProducer(kafkaFor(cluster))
    const value = 'x'.repeat(100)
    for (let send = 0; send < 40; send++)
      await producer.send({ topic, messages: Array.from({ length: 5 }, () => ({ value })) })
    const sidecar = await startTestSidecar(cluster, { consumerBufferBytesPerPartition: 1_000 })
    const join = joinRequest(randomTopic('group'), [topic], {
      settings: { maxWaitTimeMs: 100, maxBytesPerPartition: 1_000, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500 },
      maxRecordsInFlight: 5,
    })
    const slow = TestConsumer.join(consumerClient(sidecar), join, { hold: true })
    await waitFor('a batch', () => slow.held.length === 1, 20_000)
    await new Promise((r) => setTimeout(r, 500))
    // The bound, plus at most one fetch (maxBytesPerPartition, a whole record batch over it) landing on top.
    const buffered = await metric(sidecar, 'kafka_sidecar_consumer_buffered_bytes')
    expect(buffered).toBeGreaterThanOrEqual(1_000)
    expect(buffered).toBeLessThanOrEqual(1_000 + 1_000 + 500)
    await waitFor(
      'all 200 read',
      () => {
        slow.finish()
        return slow.consumed.length === 200
      },
      20_000,
    )
    expect(slow.consumed.map((c) => c.offset)).toEqual(Array.from({ length: 200 }, (_, i) => i))
  })

  it('warns a later process whose settings or fromBeginning differ from the member it joins', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('warn')
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)
    const groupId = randomTopic('group')
    const client = consumerClient(sidecar)
    const first = TestConsumer.join(client, joinRequest(groupId, [topic]))
    await waitFor('joined', () => first.events$('joined').length === 1, 10_000)
    const second = TestConsumer.join(
      client,
      joinRequest(groupId, [topic], {
        settings: { maxWaitTimeMs: 100, sessionTimeoutMs: 9_000, heartbeatIntervalMs: 500 },
        subscriptions: [{ topicOrPattern: { $case: 'topic', value: topic }, fromBeginning: false }],
      }),
    )
    await waitFor('joined', () => second.events$('joined').length === 1, 10_000)
    expect(second.events$('joined')[0]!.warnings).toEqual([
      "settings.sessionTimeoutMs: 9000 ignored, the group member was created with 6000 (the first process's)",
      `topic "${topic}": fromBeginning false ignored, the group member reads it with true`,
    ])
  })

  it('a process subscribing to a topic the member lacks: the member is recreated with the union (one Kafka rebalance); patterns work', async () => {
    const cluster = await startCluster()
    const prefix = randomTopic('grow')
    const [t1, t2] = [`${prefix}-a`, `${prefix}-b`]
    await cluster.createTopic({ topic: t1, partitions: 1 })
    await cluster.createTopic({ topic: t2, partitions: 1 })
    const producer = await connectedProducer(kafkaFor(cluster))
    await producer.send({ topic: t1, messages: [{ value: 'one' }] })
    await producer.send({ topic: t2, messages: [{ value: 'two' }] })
    const sidecar = await startTestSidecar(cluster)
    const groupId = randomTopic('group')
    const client = consumerClient(sidecar)
    const a = TestConsumer.join(client, joinRequest(groupId, [t1]))
    await waitFor('a reads t1', () => a.consumed.length === 1, 20_000)
    const b = TestConsumer.join(
      client,
      joinRequest(groupId, [], {
        subscriptions: [
          { topicOrPattern: { $case: 'pattern', value: { source: `^${prefix}-b$`, flags: '' } }, fromBeginning: true },
        ],
      }),
    )
    await waitFor('b reads t2', () => b.consumed.length === 1, 20_000)
    expect(b.consumed[0]!.value).toBe('two')
    expect(a.partitions()).toEqual([`${t1}|0`])
    expect(b.partitions()).toEqual([`${t2}|0`])
    // a processed and committed "one" before: it is not read again after the member was recreated.
    expect(a.consumed.map((c) => c.value)).toEqual(['one'])
    expect(await metric(sidecar, 'kafka_sidecar_consumer_kafka_rebalances_total')).toBe(1)
  })

  it('keeps the group member for the idle grace after the last process left, so a restarted worker rejoins without a rebalance', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('idle')
    await cluster.createTopic({ topic, partitions: 2 })
    const sidecar = await startTestSidecar(cluster, { consumerGroupIdleMs: 1_500 })
    const groupId = randomTopic('group')
    const client = consumerClient(sidecar)
    const before = TestConsumer.join(client, joinRequest(groupId, [topic]))
    await waitFor('joined the group', () => before.partitions().length === 2, 20_000)
    const memberId = before.events$('assigned').at(-1)!.memberId
    before.cancel()
    await waitFor('no process', async () => (await metric(sidecar, 'kafka_sidecar_consumer_processes')) === 0)
    const after = TestConsumer.join(client, joinRequest(groupId, [topic]))
    await waitFor('owns both again', () => after.partitions().length === 2, 10_000)
    expect(after.events$('joined')[0]!.memberId).toBe(memberId)
    expect(await metric(sidecar, 'kafka_sidecar_consumer_kafka_rebalances_total')).toBe(0)
    after.cancel()
    // Past the grace time the member leaves the group.
    await waitFor(
      'the member left the group',
      async () => {
        const state = await new Promise<string>((resolve, reject) =>
          client.describeGroup({ groupId }, (e, r) => (e ? reject(e) : resolve(r.state))),
        )
        return state === 'Empty'
      },
      10_000,
    )
  })

  it('at sidecar shutdown revokes from the processes, lets them release, leaves the group and ends their streams UNAVAILABLE', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('shutdown')
    await cluster.createTopic({ topic, partitions: 2 })
    const sidecar = await startTestSidecar(cluster)
    const groupId = randomTopic('group')
    const consumer = TestConsumer.join(consumerClient(sidecar), joinRequest(groupId, [topic]))
    await waitFor('owns both', () => consumer.partitions().length === 2, 20_000)
    await sidecar.stop()
    expect(consumer.events$('revoke').at(-1)!.partitions).toHaveLength(2)
    const ended = await consumer.ended()
    expect(ended.code).toBe(status.UNAVAILABLE)
    expect(ended.details).toMatch(/shutting down/)
    const describe = await connectedAdminDescribe(cluster, groupId)
    expect(describe).toBe('Empty')
  })
})

async function connectedAdminDescribe(cluster: Parameters<typeof kafkaFor>[0], groupId: string): Promise<string> {
  const admin = kafkaFor(cluster).admin()
  await admin.connect()
  try {
    return (await admin.describeGroups([groupId])).groups[0]!.state
  } finally {
    await admin.disconnect()
  }
}
