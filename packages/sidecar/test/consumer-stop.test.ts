/**
 * The sidecar's stop revokes every partition for good: Kafka rebalances during stop()'s grace
 * (another member joins, then leaves, so the sidecar's member is given every partition again) do
 * not hand partitions out to the pod's processes again.
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

describe('Consume: sidecar stop', () => {
  it('Kafka rebalances during the stop grace give nothing out again', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('stop')
    await cluster.createTopic({ topic, partitions: 2 })
    const producer = await connectedProducer(kafkaFor(cluster))
    await producer.send({ topic, messages: [{ partition: 0, value: 'in hand' }] })
    const sidecar = await startTestSidecar(cluster, { shutdownTimeoutMs: 8_000 })
    const groupId = randomTopic('group')
    const settings = {
      maxWaitTimeMs: 100,
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 200,
      rebalanceTimeoutMs: 3_000,
    }
    const process = TestConsumer.join(consumerClient(sidecar), joinRequest(groupId, [topic], { settings }), {
      hold: true,
    })
    await waitFor(
      'both partitions, a batch of p0 in hand',
      () => process.partitions().length === 2 && process.held.length === 1,
      20_000,
    )
    // p1 is released at once; p0's batch stays in hand, so the stop's grace runs on.
    const stopping = sidecar.stop()
    await waitFor('revoked', () => process.events$('revoke').length === 1, 5_000)
    const assignedBefore = process.events$('assigned').length
    const plain = kafkaFor(cluster).consumer({
      groupId,
      sessionTimeout: 6_000,
      heartbeatInterval: 200,
      rebalanceTimeout: 3_000,
      maxWaitTimeInMs: 100,
    })
    let joins = 0
    plain.on(plain.events.GROUP_JOIN, () => joins++)
    await plain.connect()
    await plain.subscribe({ topics: [topic] })
    await plain.run({ eachMessage: async () => {} })
    await waitFor('the plain member joined', () => joins > 0, 10_000)
    // It leaves: the sidecar's member is given both partitions again.
    await plain.disconnect()
    await new Promise((r) => setTimeout(r, 1_500))
    expect(
      process
        .events$('assigned')
        .slice(assignedBefore)
        .flatMap((a) => a.partitions),
    ).toEqual([])
    process.finish()
    await stopping
  })
})
