/**
 * What `assigned` tells: a process that gets no partition still hears `assigned` (empty), as
 * KafkaJS's run() resolves and GROUP_JOIN fires with an empty assignment; and assignment ids start
 * from a random base per sidecar process, so an id kept from before a sidecar restart cannot name
 * a live ownership.
 */
import { randomTopic, startCluster, startTestSidecar, waitFor } from '@kafka-sidecar/test-support'
import { describe, expect, it } from 'vitest'
import { consumerClient, joinRequest, TestConsumer } from './consumer-helpers.js'

describe('Consume: assigned', () => {
  it('a process that gets no partition hears an empty assigned', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('one-partition')
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)
    const groupId = randomTopic('group')
    const client = consumerClient(sidecar)
    const first = TestConsumer.join(client, joinRequest(groupId, [topic]))
    await waitFor('the partition at the first process', () => first.partitions().length === 1, 20_000)
    const second = TestConsumer.join(client, joinRequest(groupId, [topic]))
    await waitFor('an assigned at the second process', () => second.events$('assigned').length === 1, 5_000)
    expect(second.events$('assigned')[0]!.partitions).toEqual([])
    expect(second.events$('assigned')[0]!.memberId).not.toBe('')
  })

  it('assignment ids start from a random base per sidecar process', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('ids')
    await cluster.createTopic({ topic, partitions: 1 })
    const firstIds: number[] = []
    for (let run = 0; run < 2; run++) {
      const sidecar = await startTestSidecar(cluster)
      const consumer = TestConsumer.join(consumerClient(sidecar), joinRequest(randomTopic('group'), [topic]))
      await waitFor('a partition', () => consumer.partitions().length === 1, 20_000)
      firstIds.push(consumer.owned.values().next().value!.assignmentId)
      consumer.cancel()
      await sidecar.stop()
    }
    expect(firstIds[0]).not.toBe(firstIds[1])
    expect(Math.min(...firstIds)).toBeGreaterThan(1)
    expect(Math.max(...firstIds)).toBeLessThan(Number.MAX_SAFE_INTEGER / 1024)
  })
})
