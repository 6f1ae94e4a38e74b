/**
 * Pipelining over a real Consume stream: a process that joins with max_batches_per_partition gets
 * the next batch of a partition before it said `done` for the first, a short `done` takes the
 * later batches back (they are not to be answered), and the next batch says so in `rewinds`.
 */
import {
  connectedProducer,
  kafkaFor,
  randomTopic,
  startCluster,
  startTestSidecar,
  waitFor,
} from '@kafka-sidecar/test-support'
import { describe, expect, it } from 'vitest'
import { consumerClient, joinRequest, TestConsumer } from './consumer-helpers.js'

describe('Consume with max_batches_per_partition', () => {
  it('two batches in flight; a short done rewinds: the next batch starts at the processed offset with rewinds 1', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('pipeline')
    await cluster.createTopic({ topic, partitions: 1 })
    const producer = await connectedProducer(kafkaFor(cluster))
    await producer.send({ topic, messages: Array.from({ length: 40 }, (_, i) => ({ partition: 0, value: `${i}` })) })
    const sidecar = await startTestSidecar(cluster)
    const client = consumerClient(sidecar)
    // 20 records in flight at most: batches of 10 (half), two of them in flight.
    const join = joinRequest(randomTopic('group'), [topic], { maxBatchesPerPartition: 2, maxRecordsInFlight: 20 })
    const consumer = TestConsumer.join(client, join, { hold: true, commit: false })
    await waitFor('two batches held', () => consumer.held.length === 2, 20_000)
    expect(consumer.events$('joined')[0]!.maxBatchesPerPartition).toBe(2)
    const [first, second] = consumer.held.splice(0)
    expect(first!.records.map((r) => r.offset)).toEqual(range(0, 10))
    expect(second!.records.map((r) => r.offset)).toEqual(range(10, 20))
    expect([first!.rewinds, second!.rewinds]).toEqual([0, 0])

    // The first batch done in full: a third batch follows the second.
    const owned = { topic, partition: 0, assignmentId: first!.assignmentId }
    consumer.send({
      request: { $case: 'done', value: { batchId: first!.batchId, processed: { ...owned, nextOffset: 10 } } },
    })
    await waitFor('a third batch', () => consumer.held.length === 1, 10_000)
    const third = consumer.held.splice(0)[0]!
    expect(third.records.map((r) => r.offset)).toEqual(range(20, 30))

    // The second stops at 15: the third is taken back, and delivery starts again at 15.
    consumer.send({
      request: { $case: 'done', value: { batchId: second!.batchId, processed: { ...owned, nextOffset: 15 } } },
    })
    await waitFor('two batches after the rewind', () => consumer.held.length === 2, 10_000)
    const again = consumer.held.splice(0)
    expect(again.map((b) => b.records[0]!.offset)).toEqual([15, 25])
    expect(again.map((b) => b.rewinds)).toEqual([1, 1])

    // A done for the batch taken back is a protocol error: a client drops such a batch unanswered.
    consumer.send({
      request: { $case: 'done', value: { batchId: third.batchId, processed: { ...owned, nextOffset: 30 } } },
    })
    const status = await consumer.ended()
    expect(status.details).toMatch(/is not the oldest in flight/)
  })

  it('a seek naming an ownership that ended is ignored; naming the current one rewinds', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('pipeline')
    await cluster.createTopic({ topic, partitions: 1 })
    const producer = await connectedProducer(kafkaFor(cluster))
    await producer.send({ topic, messages: Array.from({ length: 20 }, (_, i) => ({ partition: 0, value: `${i}` })) })
    const sidecar = await startTestSidecar(cluster)
    const join = joinRequest(randomTopic('group'), [topic], { maxBatchesPerPartition: 2, maxRecordsInFlight: 10 })
    const consumer = TestConsumer.join(consumerClient(sidecar), join, { hold: true, commit: false })
    await waitFor('two batches held', () => consumer.held.length === 2, 20_000)
    const { assignmentId } = consumer.held[0]!
    consumer.send({
      request: { $case: 'seek', value: { topic, partition: 0, offset: 3, assignmentId: assignmentId + 1_000 } },
    })
    consumer.send({ request: { $case: 'seek', value: { topic, partition: 0, offset: 2, assignmentId } } })
    await waitFor('the batch from the seek', () => consumer.held.length >= 3, 10_000)
    const fromSeek = consumer.held[2]!
    expect(fromSeek.records[0]!.offset).toBe(2)
    expect(fromSeek.rewinds).toBe(1)
  })
})

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i)
}
