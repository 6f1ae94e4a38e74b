/**
 * The rest of KafkaJS's consumer API a program uses, end to end through a real sidecar: seek,
 * pause/resume (a partition, and a whole topic), stop/disconnect and running again, describeGroup,
 * and the events a program typically listens to (GROUP_JOIN, COMMIT_OFFSETS, CRASH).
 */
import { randomTopic, startCluster, startTestSidecar, waitFor } from '@kafka-sidecar/test-support'
import kafkajs from 'kafkajs'
import type { Consumer, EachMessagePayload, InstrumentationEvent } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import {
  consumerOf,
  expectedValues,
  offsetsReader,
  produceTo,
  sidecarKafka,
  topicWithRecords,
  valuesByPartition,
  type Seen,
} from './e2e-helpers.js'

/** What the GROUP_JOIN and COMMIT_OFFSETS payloads hold that these tests read. */
interface GroupEventPayload {
  readonly memberAssignment?: Record<string, number[]>
  readonly topics?: Array<{ topic: string; partitions: Array<{ partition: number | string; offset: string }> }>
}

const record =
  (seen: Seen[]) =>
  async ({ topic, partition, message }: EachMessagePayload) =>
    void seen.push({ partition, offset: Number(message.offset), value: message.value!.toString(), topic })

async function started(consumer: Consumer, topics: string[], seen: Seen[]): Promise<void> {
  await consumer.connect()
  await consumer.subscribe({ topics, fromBeginning: true })
  await consumer.run({ eachMessage: record(seen) })
}

async function setUp(partitions: number, perPartition: number) {
  const cluster = await startCluster({ brokers: 1 })
  const topic = randomTopic('e2e-api')
  await topicWithRecords(cluster, topic, partitions, perPartition)
  const sidecar = await startTestSidecar(cluster)
  return {
    cluster,
    topic,
    sidecar,
    kafka: sidecarKafka(cluster, sidecar.address),
    offsets: await offsetsReader(cluster),
  }
}

describe('end to end: seek, pause/resume, stop and run again', () => {
  it('seek replays a partition from the offset sought, and the commits end where processing did', async () => {
    const { topic, kafka, offsets } = await setUp(2, 30)
    const groupId = randomTopic('group')
    const seen: Seen[] = []
    const consumer = consumerOf(kafka, { groupId })
    await started(consumer, [topic], seen)
    await waitFor('60 records', () => seen.length >= 60, 15_000)
    consumer.seek({ topic, partition: 0, offset: '10' })
    await waitFor('p0 from 10 again', () => seen.length >= 80, 15_000)
    const again = seen.slice(60)
    expect(again.map((s) => s.value)).toEqual(expectedValues(1, 20, 10)[0])
    await waitFor(
      'commits at 30, 30',
      async () => JSON.stringify(await offsets(groupId, topic)) === '{"0":"30","1":"30"}',
    )
  })

  it('pause of a partition and of a whole topic holds their records; resume delivers them, nothing lost', async () => {
    const { cluster, topic, kafka } = await setUp(2, 5)
    const other = randomTopic('e2e-other')
    await topicWithRecords(cluster, other, 1, 5)
    const seen: Seen[] = []
    const consumer = consumerOf(kafka, { groupId: randomTopic('group') })
    await started(consumer, [topic, other], seen)
    await waitFor('15 records', () => seen.length >= 15, 15_000)

    consumer.pause([{ topic, partitions: [0] }])
    consumer.pause([{ topic: other }])
    expect(consumer.paused().sort((a, b) => a.topic.localeCompare(b.topic))).toEqual(
      [
        { topic, partitions: [0] },
        { topic: other, partitions: [0] },
      ].sort((a, b) => a.topic.localeCompare(b.topic)),
    )
    await produceTo(cluster, topic, 2, 5, 5)
    await produceTo(cluster, other, 1, 5, 5)
    // Partition 1 is not paused: once its new records came, the paused ones had the same chance.
    await waitFor('p1 5..9', () => seen.filter((s) => s.topic === topic && s.partition === 1).length >= 10, 15_000)
    expect(seen.filter((s) => s.topic === topic && s.partition === 0)).toHaveLength(5)
    expect(seen.filter((s) => s.topic === other)).toHaveLength(5)

    consumer.resume([{ topic, partitions: [0] }])
    consumer.resume([{ topic: other }])
    await waitFor('all 30', () => seen.length >= 30, 15_000)
    const mine = valuesByPartition(seen.filter((s) => s.topic === topic))
    expect(mine).toEqual(expectedValues(2, 10))
    expect(seen.filter((s) => s.topic === other).map((s) => s.value)).toEqual(expectedValues(1, 10)[0])
  })

  it('stop, disconnect, then connect and run again: the second run starts where the first committed', async () => {
    const { cluster, topic, kafka, offsets } = await setUp(3, 20)
    const groupId = randomTopic('group')
    const first: Seen[] = []
    const consumer = consumerOf(kafka, { groupId })
    await started(consumer, [topic], first)
    await waitFor('60 records', () => first.length >= 60, 15_000)
    await consumer.stop()
    await consumer.disconnect()
    expect(await offsets(groupId, topic)).toEqual({ 0: '20', 1: '20', 2: '20' })

    await produceTo(cluster, topic, 3, 20, 10)
    const second: Seen[] = []
    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({ eachMessage: record(second) })
    await waitFor('30 new records', () => second.length >= 30, 15_000)
    expect(valuesByPartition(second)).toEqual(expectedValues(3, 10, 20))
    await waitFor(
      'commits at 30',
      async () => JSON.stringify(await offsets(groupId, topic)) === '{"0":"30","1":"30","2":"30"}',
    )
    expect(first).toHaveLength(60)
    expect(second).toHaveLength(30)
  })
})

describe('end to end: describeGroup and events', () => {
  it("describeGroup shows the pod's one member for two consumers of the group; KafkaJS shows two", async () => {
    const { cluster, topic, kafka } = await setUp(4, 5)
    const groupId = randomTopic('group')
    const seen: Seen[] = []
    const a = consumerOf(kafka, { groupId })
    const b = consumerOf(kafka, { groupId })
    await started(a, [topic], seen)
    await started(b, [topic], seen)
    await waitFor('20 records', () => seen.length >= 20, 15_000)
    const described = await a.describeGroup()
    expect(described).toMatchObject({ groupId, state: 'Stable', protocolType: 'consumer' })
    expect(described.members).toHaveLength(1)

    const plain = new kafkajs.Kafka({
      clientId: 'e2e-app',
      brokers: cluster.bootstrapServers,
      logLevel: kafkajs.logLevel.NOTHING,
    })
    const directGroup = randomTopic('group-direct')
    const directSeen: Seen[] = []
    const c = consumerOf(plain, { groupId: directGroup })
    const d = consumerOf(plain, { groupId: directGroup })
    await started(c, [topic], directSeen)
    await started(d, [topic], directSeen)
    await waitFor('both KafkaJS members', async () => (await c.describeGroup()).members.length === 2, 15_000)
  })

  it('GROUP_JOIN gives this process its partitions, COMMIT_OFFSETS what was committed, as KafkaJS', async () => {
    const { cluster, topic, kafka } = await setUp(3, 4)
    const plain = new kafkajs.Kafka({
      clientId: 'e2e-app',
      brokers: cluster.bootstrapServers,
      logLevel: kafkajs.logLevel.NOTHING,
    })
    const runs = await Promise.all(
      [kafka, plain].map(async (k) => {
        const events: Array<InstrumentationEvent<GroupEventPayload>> = []
        const seen: Seen[] = []
        const consumer = consumerOf(k, { groupId: randomTopic('group') })
        consumer.on(consumer.events.GROUP_JOIN, (e) => void events.push(e))
        consumer.on(consumer.events.COMMIT_OFFSETS, (e) => void events.push(e))
        await started(consumer, [topic], seen)
        await waitFor('12 records', () => seen.length >= 12, 15_000)
        const committedTo = () =>
          events
            .filter((e) => e.type === 'consumer.commit_offsets')
            .flatMap((e) =>
              (e.payload.topics ?? []).flatMap((t) => t.partitions.map((p) => `${p.partition}:${p.offset}`)),
            )
        await waitFor('commits of 4 in each partition', () =>
          ['0:4', '1:4', '2:4'].every((c) => committedTo().includes(c)),
        )
        return events
      }),
    )
    const [viaSidecar, direct] = runs.map((events) => events.find((e) => e.type === 'consumer.group_join')!.payload)
    expect(viaSidecar.memberAssignment).toEqual({ [topic]: [0, 1, 2] })
    expect(viaSidecar.memberAssignment).toEqual(direct.memberAssignment)
    expect(Object.keys(viaSidecar).sort()).toEqual(Object.keys(direct).sort())
  })

  it('a handler that keeps failing with restartOnFailure false: CRASH with restart false, as KafkaJS', async () => {
    const { cluster, topic, sidecar } = await setUp(1, 3)
    const crashes = await Promise.all(
      ['sidecar', 'kafkajs'].map(async (mode) => {
        const retry = { retries: 1, initialRetryTime: 20, restartOnFailure: async () => false }
        const kafka =
          mode === 'sidecar'
            ? sidecarKafka(cluster, sidecar.address)
            : new kafkajs.Kafka({
                clientId: 'e2e-app',
                brokers: cluster.bootstrapServers,
                logLevel: kafkajs.logLevel.NOTHING,
              })
        const consumer = consumerOf(kafka, { groupId: randomTopic('group'), retry })
        const crashed: Array<InstrumentationEvent<{ error: Error; groupId: string; restart: boolean }>> = []
        consumer.on(consumer.events.CRASH, (e) => void crashed.push(e))
        await consumer.connect()
        await consumer.subscribe({ topic, fromBeginning: true })
        await consumer.run({
          eachMessage: async () => {
            throw new Error('handler keeps failing')
          },
        })
        await waitFor(`${mode}: CRASH`, () => crashed.length > 0, 15_000)
        return crashed[0]!.payload
      }),
    )
    const [viaSidecar, direct] = crashes
    expect(viaSidecar.restart).toBe(false)
    expect(direct.restart).toBe(false)
    expect(viaSidecar.error.name).toBe(direct.error.name)
    expect(viaSidecar.error.message).toBe(direct.error.message)
    expect(viaSidecar.groupId).toEqual(expect.any(String))
  })
})
