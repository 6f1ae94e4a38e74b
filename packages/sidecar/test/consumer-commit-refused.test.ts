/**
 * A commit naming partitions the instance no longer owns (moved to another process since) commits
 * the ones it still owns and names the others as refused, instead of refusing the whole request;
 * only a commit of nothing owned is refused whole (FAILED_PRECONDITION, ILLEGAL_GENERATION).
 */
import { status } from '@grpc/grpc-js'
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
import { committedOffsets, consumerClient, joinRequest, TestConsumer } from './consumer-helpers.js'

describe('Consume: a commit naming a partition that moved', () => {
  it('commits the owned subset and names the refused partitions', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('refused')
    await cluster.createTopic({ topic, partitions: 2 })
    const producer = await connectedProducer(kafkaFor(cluster))
    for (const partition of [0, 1])
      await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ partition, value: `${i}` })) })
    const sidecar = await startTestSidecar(cluster)
    const groupId = randomTopic('group')
    const client = consumerClient(sidecar)
    const first = TestConsumer.join(client, joinRequest(groupId, [topic]), { hold: true, commit: false })
    await waitFor('a batch of each partition', () => first.held.length === 2, 20_000)
    const ownerships = first.held.map((b) => ({ topic, partition: b.partition, assignmentId: b.assignmentId }))

    const second = TestConsumer.join(client, joinRequest(groupId, [topic]), { commit: false })
    await waitFor('a revoke of one partition', () => first.events$('revoke').length === 1, 10_000)
    const moved = first.events$('revoke')[0]!.partitions[0]!.partition
    first.finish()
    await waitFor('the moved partition at the second process', () => second.partitions().length === 1, 10_000)

    const result = await first.commit(ownerships.map((o) => ({ ...o, nextOffset: 10 })))
    expect(result.error).toBeUndefined()
    expect(result.committed.map((o) => o.partition)).toEqual([1 - moved])
    expect(result.refused.map((o) => o.partition)).toEqual([moved])
    const admin = await connectedAdmin(kafkaFor(cluster))
    const committed = await committedOffsets(admin, groupId, topic)
    expect(committed.get(1 - moved)).toBe(10)
    expect(committed.get(moved)).toBe(-1)

    // Nothing of it owned: the whole commit is refused, as before.
    const none = await first.commit(
      ownerships.filter((o) => o.partition === moved).map((o) => ({ ...o, nextOffset: 5 })),
    )
    expect(none.error?.grpcCode).toBe(status.FAILED_PRECONDITION)
    expect(none.error?.message).toMatch(new RegExp(`does not own ${topic}\\[${moved}\\]`))
    expect(none.refused).toEqual([])
    expect(first.status).toBeNull()
  })
})
