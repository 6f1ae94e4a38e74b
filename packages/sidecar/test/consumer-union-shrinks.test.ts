/**
 * The group member's subscriptions follow the pod's processes both ways: when the last process
 * needing a topic leaves, the member is recreated with the smaller union after the group idle
 * grace (one Kafka rebalance), so it stops fetching that topic and no longer asks Kafka for it.
 */
import {
  connectedAdmin,
  connectedProducer,
  kafkaFor,
  randomTopic,
  startCluster,
  startTestSidecar,
  waitFor,
} from '@kafka-sidecar/test-support'
import { AssignerProtocol } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { consumerClient, joinRequest, TestConsumer } from './consumer-helpers.js'

describe('Consume: the subscription union shrinks', () => {
  it("recreates the member without a topic once its last process left, after the group's idle grace", async () => {
    const cluster = await startCluster()
    const kept = randomTopic('kept')
    const dropped = randomTopic('dropped')
    await cluster.createTopic({ topic: kept, partitions: 1 })
    await cluster.createTopic({ topic: dropped, partitions: 1 })
    const sidecar = await startTestSidecar(cluster, { consumerGroupIdleMs: 1_000 })
    const groupId = randomTopic('group')
    const client = consumerClient(sidecar)
    const admin = await connectedAdmin(kafkaFor(cluster))
    const subscribed = async () => {
      const { groups } = await admin.describeGroups([groupId])
      const members = groups[0]!.members
      if (members.length !== 1) return []
      return [...AssignerProtocol.MemberMetadata.decode(members[0]!.memberMetadata)!.topics].sort()
    }
    const a = TestConsumer.join(client, joinRequest(groupId, [kept]))
    await waitFor('a has its partition', () => a.partitions().length === 1, 20_000)
    const b = TestConsumer.join(client, joinRequest(groupId, [dropped]))
    await waitFor('b has its partition', () => b.partitions().length === 1, 20_000)
    expect(await subscribed()).toEqual([kept, dropped].sort())

    b.cancel()
    const left = Date.now()
    await waitFor(
      'the member subscribes to the kept topic only',
      async () => (await subscribed()).join() === kept,
      15_000,
    )
    expect(Date.now() - left).toBeGreaterThanOrEqual(900)
    // The remaining process reads on after the member's rebalance.
    await waitFor('a has its partition again', () => a.partitions().length === 1, 10_000)
    const producer = await connectedProducer(kafkaFor(cluster))
    await producer.send({ topic: kept, messages: [{ value: 'after' }] })
    await waitFor('a reads on', () => a.consumed.some((c) => c.value === 'after'), 10_000)
  })

  it('a process needing the topic again within the grace keeps the member as it is', async () => {
    const cluster = await startCluster()
    const kept = randomTopic('kept')
    const back = randomTopic('back')
    await cluster.createTopic({ topic: kept, partitions: 1 })
    await cluster.createTopic({ topic: back, partitions: 1 })
    const sidecar = await startTestSidecar(cluster, { consumerGroupIdleMs: 1_000 })
    const groupId = randomTopic('group')
    const client = consumerClient(sidecar)
    const a = TestConsumer.join(client, joinRequest(groupId, [kept]))
    await waitFor('a has its partition', () => a.partitions().length === 1, 20_000)
    // b needs a topic the member lacks: the member is recreated with both (a is revoked once).
    const b = TestConsumer.join(client, joinRequest(groupId, [back]))
    await waitFor(
      'both have a partition after the member was recreated',
      () => a.events$('revoke').length === 1 && a.partitions().length === 1 && b.partitions().length === 1,
      20_000,
    )
    const revokesBefore = a.events$('revoke').length
    b.cancel()
    await new Promise((r) => setTimeout(r, 300))
    const again = TestConsumer.join(client, joinRequest(groupId, [back]))
    await waitFor('the returning process gets the partition', () => again.partitions().length === 1, 10_000)
    await new Promise((r) => setTimeout(r, 1_500))
    expect(a.events$('revoke').length).toBe(revokesBefore)
  })
})
