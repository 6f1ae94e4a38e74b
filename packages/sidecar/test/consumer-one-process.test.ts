import {
  connectedAdmin,
  connectedProducer,
  kafkaFor,
  randomTopic,
  startCluster,
  startTestSidecar,
  waitFor,
} from '@kafka-sidecar/test-support'
import { describe, expect, it } from 'vitest'
import { byPartition, committedOffsets, consumerClient, joinRequest, TestConsumer } from './consumer-helpers.js'

/** `perPartition` records to each partition of `topic`, values "p<partition>-<i>". */
async function produce(
  cluster: Parameters<typeof kafkaFor>[0],
  topic: string,
  partitions: number,
  perPartition: number,
) {
  const producer = await connectedProducer(kafkaFor(cluster))
  for (let p = 0; p < partitions; p++)
    await producer.send({
      topic,
      messages: Array.from({ length: perPartition }, (_, i) => ({ partition: p, value: `p${p}-${i}` })),
    })
}

const expected = (partitions: number, perPartition: number) =>
  new Map(
    Array.from({ length: partitions }, (_, p) => [p, Array.from({ length: perPartition }, (_, i) => `p${p}-${i}`)]),
  )

describe('Consume: one process of the group', () => {
  it('gets every partition, reads every record once in order, and the committed offsets are what it processed', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('consume')
    await cluster.createTopic({ topic, partitions: 3 })
    await produce(cluster, topic, 3, 50)
    const sidecar = await startTestSidecar(cluster)
    const groupId = randomTopic('group')
    const consumer = TestConsumer.join(consumerClient(sidecar), joinRequest(groupId, [topic]))

    await waitFor('150 records', () => consumer.consumed.length >= 150, 20_000)
    expect(consumer.partitions()).toEqual([`${topic}|0`, `${topic}|1`, `${topic}|2`])
    expect(byPartition(consumer.consumed)).toEqual(expected(3, 50))
    expect(consumer.redelivered).toBe(0)
    expect(consumer.events$('joined')).toEqual([
      { memberId: expect.any(String), warnings: [], maxBatchesPerPartition: 0 },
    ])
    const admin = await connectedAdmin(kafkaFor(cluster))
    await waitFor('commits of 50 per partition', async () => {
      const offsets = await committedOffsets(admin, groupId, topic)
      return [0, 1, 2].every((p) => offsets.get(p) === 50)
    })
  })

  it('commits only what the process reported processed: a held batch commits nothing past what it resolved', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('consume')
    await cluster.createTopic({ topic, partitions: 1 })
    await produce(cluster, topic, 1, 20)
    const sidecar = await startTestSidecar(cluster)
    const groupId = randomTopic('group')
    const consumer = TestConsumer.join(consumerClient(sidecar), joinRequest(groupId, [topic]), { hold: true })
    await waitFor('a batch', () => consumer.held.length === 1, 20_000)
    const batch = consumer.held[0]!
    const { assignmentId } = batch
    // Progress to 5, then a commit of 5 is taken; a commit of 15 was delivered, so it counts as processed too.
    consumer.send({ request: { $case: 'progress', value: { topic, partition: 0, assignmentId, nextOffset: 5 } } })
    expect((await consumer.commit([{ topic, partition: 0, assignmentId, nextOffset: 5 }])).error).toBeUndefined()
    const admin = await connectedAdmin(kafkaFor(cluster))
    expect((await committedOffsets(admin, groupId, topic)).get(0)).toBe(5)
  })

  it('takes an offset past what was delivered as the end of what was delivered (KafkaJS accepts resolveOffset past the batch): no stream kill', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('consume')
    await cluster.createTopic({ topic, partitions: 1 })
    await produce(cluster, topic, 1, 20)
    const sidecar = await startTestSidecar(cluster)
    const groupId = randomTopic('group')
    const consumer = TestConsumer.join(consumerClient(sidecar), joinRequest(groupId, [topic]), {
      hold: true,
      commit: false,
    })
    await waitFor('a batch of all 20', () => consumer.held.length === 1, 20_000)
    const { assignmentId, lastOffset } = consumer.held[0]!
    expect(lastOffset).toBe(19)
    consumer.send({ request: { $case: 'progress', value: { topic, partition: 0, assignmentId, nextOffset: 500 } } })
    const tooFar = await consumer.commit([{ topic, partition: 0, assignmentId, nextOffset: 999 }])
    expect(tooFar.error).toBeUndefined()
    expect(tooFar.committed).toEqual([{ topic, partition: 0, assignmentId, nextOffset: 20 }])
    const admin = await connectedAdmin(kafkaFor(cluster))
    expect((await committedOffsets(admin, groupId, topic)).get(0)).toBe(20)
    consumer.finish()
    await new Promise((r) => setTimeout(r, 300))
    expect(consumer.status).toBeNull()
  })
})
