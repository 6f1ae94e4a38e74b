/**
 * A process that keeps saying `alive` but never answers `revoke` (its handler never returns) does
 * not keep its partitions for ever: after the group's rebalanceTimeout they are taken, given to
 * the other process (its undone records counted as redelivered), and the stuck process hears its
 * partitions without them. Nothing is lost; no Kafka rebalance.
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
import type { RunningSidecar } from '../src/index.js'
import { consumerClient, joinRequest, TestConsumer } from './consumer-helpers.js'

async function metric(sidecar: RunningSidecar, name: string): Promise<number> {
  const values = (await sidecar.metrics.registry.getSingleMetric(name)!.get()).values
  return values.reduce((sum, v) => sum + v.value, 0)
}

const REBALANCE_TIMEOUT_MS = 1_500

describe('Consume: a revoke never answered', () => {
  it("takes the partition after the group's rebalanceTimeout and gives it to another process", async () => {
    const cluster = await startCluster({ brokers: 1 })
    const topic = randomTopic('revoke')
    await cluster.createTopic({ topic, partitions: 2 })
    const producer = await connectedProducer(kafkaFor(cluster))
    for (const partition of [0, 1])
      await producer.send({
        topic,
        messages: Array.from({ length: 10 }, (_, i) => ({ partition, value: `p${partition}-${i}` })),
      })
    const sidecar = await startTestSidecar(cluster)
    const groupId = randomTopic('group')
    const client = consumerClient(sidecar)
    const settings = {
      maxWaitTimeMs: 100,
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 500,
      rebalanceTimeoutMs: REBALANCE_TIMEOUT_MS,
    }
    // Holds its batches (a handler that never returns) and so never answers a revoke; stays alive.
    const stuck = TestConsumer.join(client, joinRequest(groupId, [topic], { settings }), { hold: true })
    await waitFor('the stuck process holds a batch of each partition', () => stuck.held.length === 2, 20_000)

    const other = TestConsumer.join(client, joinRequest(groupId, [topic], { settings }))
    await waitFor('a revoke to the stuck process', () => stuck.events$('revoke').length === 1, 10_000)
    const revoked = stuck.events$('revoke')[0]!.partitions
    expect(revoked).toHaveLength(1)
    const movedAt = Date.now()
    await waitFor('the revoked partition at the other process', () => other.partitions().length === 1, 10_000)
    expect(Date.now() - movedAt).toBeGreaterThanOrEqual(REBALANCE_TIMEOUT_MS - 200)
    expect(other.partitions()).toEqual([`${topic}|${revoked[0]!.partition}`])
    expect(stuck.partitions()).toEqual([`${topic}|${1 - revoked[0]!.partition}`])
    await waitFor('its 10 records at the other process', () => other.consumed.length === 10, 10_000)
    expect(other.redelivered).toBe(10)
    expect(await metric(sidecar, 'kafka_sidecar_consumer_records_redelivered_total')).toBe(10)
    expect(await metric(sidecar, 'kafka_sidecar_consumer_kafka_rebalances_total')).toBe(0)
    // The stuck process's late report about the taken partition moves nothing: the other's ownership stands.
    stuck.finish()
    await waitFor(
      'the stuck process finishes both held batches (its report of the taken one is ignored)',
      () => stuck.consumed.length === 20,
      10_000,
    )
    expect(other.partitions()).toHaveLength(1)
  })

  it('never gives the taken partition straight back to the late owner: only once it says its batch is over', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const topic = randomTopic('revoke')
    await cluster.createTopic({ topic, partitions: 2 })
    const producer = await connectedProducer(kafkaFor(cluster))
    for (const partition of [0, 1])
      await producer.send({
        topic,
        messages: Array.from({ length: 10 }, (_, i) => ({ partition, value: `p${partition}-${i}` })),
      })
    const sidecar = await startTestSidecar(cluster)
    const groupId = randomTopic('group')
    const client = consumerClient(sidecar)
    const settings = {
      maxWaitTimeMs: 100,
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 500,
      rebalanceTimeoutMs: REBALANCE_TIMEOUT_MS,
    }
    const stuck = TestConsumer.join(client, joinRequest(groupId, [topic], { settings }), { hold: true, commit: false })
    await waitFor('the stuck process holds a batch of each partition', () => stuck.held.length === 2, 20_000)
    const other = TestConsumer.join(client, joinRequest(groupId, [topic], { settings }))
    await waitFor('a revoke to the stuck process', () => stuck.events$('revoke').length === 1, 10_000)
    const taken = stuck.events$('revoke')[0]!.partitions[0]!.partition
    // The other process goes before the revoke times out: the stuck process is the only one left.
    other.cancel()
    await new Promise((r) => setTimeout(r, REBALANCE_TIMEOUT_MS + 500))
    // Taken from it, and not given back while its batch of it may still run.
    expect(stuck.partitions()).toEqual([`${topic}|${1 - taken}`])
    expect(stuck.events$('batch').filter((b) => b.partition === taken)).toHaveLength(1)
    stuck.finish()
    await waitFor(
      'the partition back at the stuck process once its batch is over',
      () => stuck.partitions().length === 2,
      10_000,
    )
    await waitFor(
      'its records again',
      () => stuck.events$('batch').filter((b) => b.partition === taken).length === 2,
      10_000,
    )
  })
})
