import type { Consumer, EachMessagePayload, Kafka } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import {
  connectedConsumer,
  connectedProducer,
  kafkaFor,
  randomTopic,
  startCluster,
  waitFor,
} from '@kafka-sidecar/test-support'

/** Latest assignment of a consumer (topic -> partitions), from its GROUP_JOIN events. */
function trackAssignment(consumer: Consumer): { partitions: () => number[]; generation: () => number } {
  let partitions: number[] = []
  let generation = -1
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    partitions = Object.values(payload.memberAssignment)
      .flat()
      .sort((a, b) => a - b)
    generation = payload.groupId ? generation + 1 : generation
  })
  return { partitions: () => partitions, generation: () => generation }
}

async function produceNumbers(kafka: Kafka, topic: string, from: number, to: number): Promise<void> {
  const producer = await connectedProducer(kafka)
  const messages = []
  for (let i = from; i < to; i++) messages.push({ key: `k${i % 7}`, value: String(i) })
  await producer.send({ topic, messages })
}

describe('consumer groups (KafkaJS consumers over TCP)', () => {
  it('gives a single member every partition and delivers every record', async () => {
    const cluster = await startCluster({ brokers: 3 })
    const kafka = kafkaFor(cluster)
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 3 })
    await produceNumbers(kafka, topic, 0, 30)
    const consumer = await connectedConsumer(kafka, { groupId: randomTopic('group') })
    const assignment = trackAssignment(consumer)
    await consumer.subscribe({ topic, fromBeginning: true })
    const seen: number[] = []
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(Number(message.value)) })
    await waitFor('30 records', () => seen.length === 30)
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i))
    expect(assignment.partitions()).toEqual([0, 1, 2])
  })

  it('splits partitions across three members and rebalances when one leaves', async () => {
    const cluster = await startCluster({ brokers: 3 })
    const kafka = kafkaFor(cluster)
    const topic = randomTopic()
    const groupId = randomTopic('group')
    await cluster.createTopic({ topic, partitions: 6 })
    const members = await Promise.all(
      [0, 1, 2].map(() => connectedConsumer(kafka, { groupId, heartbeatInterval: 100 })),
    )
    const assignments = members.map(trackAssignment)
    const seen = new Set<number>()
    for (const member of members) {
      await member.subscribe({ topic, fromBeginning: true })
      await member.run({ eachMessage: async ({ message }: EachMessagePayload) => void seen.add(Number(message.value)) })
    }
    const all = () =>
      assignments
        .map((a) => a.partitions())
        .flat()
        .sort((a, b) => a - b)
    await waitFor(
      'three members sharing six partitions',
      () => JSON.stringify(all()) === '[0,1,2,3,4,5]' && assignments.every((a) => a.partitions().length === 2),
    )

    await produceNumbers(kafka, topic, 0, 60)
    await waitFor('60 records', () => seen.size === 60)

    await members[2]!.disconnect()
    const remaining = assignments.slice(0, 2)
    await waitFor('two members sharing six partitions', () => {
      const owned = remaining
        .map((a) => a.partitions())
        .flat()
        .sort((a, b) => a - b)
      return JSON.stringify(owned) === '[0,1,2,3,4,5]' && remaining.every((a) => a.partitions().length === 3)
    })
    await produceNumbers(kafka, topic, 60, 120)
    await waitFor('120 records after the rebalance', () => seen.size === 120)
  })

  it('groupGeneration counts the rebalances: a join, a second member, a leave, the group emptied', async () => {
    const cluster = await startCluster({ brokers: 3 })
    const kafka = kafkaFor(cluster)
    const topic = randomTopic()
    const groupId = randomTopic('group')
    await cluster.createTopic({ topic, partitions: 4 })
    expect(cluster.groupGeneration(groupId)).toBeUndefined()
    const join = async () => {
      const member = await connectedConsumer(kafka, { groupId, heartbeatInterval: 100 })
      const assignment = trackAssignment(member)
      await member.subscribe({ topic })
      await member.run({ eachMessage: async () => {} })
      return { member, assignment }
    }
    const first = await join()
    await waitFor('the first member owns every partition', () => first.assignment.partitions().length === 4)
    expect(cluster.groupGeneration(groupId)).toBe(1)
    const second = await join()
    await waitFor('two members share the partitions', () => second.assignment.partitions().length === 2)
    expect(cluster.groupGeneration(groupId)).toBe(2)
    await second.member.disconnect()
    await waitFor('the first member owns every partition again', () => first.assignment.partitions().length === 4)
    expect(cluster.groupGeneration(groupId)).toBe(3)
    await first.member.disconnect()
    expect(cluster.groupGeneration(groupId)).toBe(4)
  })

  it('resumes from the committed offset after a restart', async () => {
    const cluster = await startCluster({ brokers: 3 })
    const kafka = kafkaFor(cluster)
    const topic = randomTopic()
    const groupId = randomTopic('group')
    await cluster.createTopic({ topic, partitions: 1 })
    await produceNumbers(kafka, topic, 0, 10)

    const first = kafka.consumer({ groupId, maxWaitTimeInMs: 100 })
    await first.connect()
    await first.subscribe({ topic, fromBeginning: true })
    const firstSeen: number[] = []
    await first.run({
      autoCommit: true,
      eachMessage: async ({ message }) => void firstSeen.push(Number(message.value)),
    })
    await waitFor('first consumer reads 10', () => firstSeen.length === 10)
    await first.disconnect() // commits what it consumed
    expect(cluster.committedOffset(groupId, topic, 0)).toBe(10)

    await produceNumbers(kafka, topic, 10, 15)
    const second = await connectedConsumer(kafka, { groupId })
    await second.subscribe({ topic, fromBeginning: true })
    const secondSeen: number[] = []
    await second.run({ eachMessage: async ({ message }) => void secondSeen.push(Number(message.value)) })
    await waitFor('second consumer reads the 5 new records', () => secondSeen.length >= 5)
    expect(secondSeen).toEqual([10, 11, 12, 13, 14])
  })

  it('lets an admin read and reset committed offsets', async () => {
    const cluster = await startCluster()
    const kafka = kafkaFor(cluster)
    const topic = randomTopic()
    const groupId = randomTopic('group')
    await cluster.createTopic({ topic, partitions: 2 })
    const admin = kafka.admin()
    await admin.connect()
    try {
      await admin.setOffsets({
        groupId,
        topic,
        partitions: [
          { partition: 0, offset: '5' },
          { partition: 1, offset: '7' },
        ],
      })
      const offsets = await admin.fetchOffsets({ groupId, topics: [topic] })
      expect(offsets[0]!.partitions.sort((a, b) => a.partition - b.partition)).toEqual([
        { partition: 0, offset: '5', metadata: null },
        { partition: 1, offset: '7', metadata: null },
      ])
    } finally {
      await admin.disconnect()
    }
  })
})
