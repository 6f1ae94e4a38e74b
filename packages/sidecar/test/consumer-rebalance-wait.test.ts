/**
 * A Kafka rebalance noticed inside the member's eachBatch waits for the pod's processes: they are
 * revoked, finish the message in hand and commit before the member rejoins (as a KafkaJS member
 * finishes its batch and commits before it rejoins), so the partition's next owner in another
 * member starts after what they processed: no commit refused, no record processed twice.
 */
import {
  connectedProducer,
  kafkaFor,
  randomTopic,
  startCluster,
  startTestSidecar,
  waitFor,
} from '@kafka-sidecar/test-support'
import { describe, expect, it, onTestFinished } from 'vitest'
import { consumerClient, joinRequest, TestConsumer } from './consumer-helpers.js'

describe('Consume: a Kafka rebalance waits for the processes', () => {
  it('the process finishes and commits before the member rejoins; the new member starts after it', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('rebalance-wait')
    await cluster.createTopic({ topic, partitions: 1 })
    const producer = await connectedProducer(kafkaFor(cluster))
    // Records keep coming, so every fetch brings some and the member's eachBatch runs (and
    // heartbeats) all along. A rebalance noticed by KafkaJS's own heartbeat after an empty fetch
    // rejoins at once (docs/consumers.md says so).
    let sent = 0
    const feeding = setInterval(() => void producer.send({ topic, messages: [{ value: `${sent++}` }] }), 15)
    onTestFinished(() => clearInterval(feeding))
    const sidecar = await startTestSidecar(cluster)
    const groupId = randomTopic('group')
    const settings = {
      maxWaitTimeMs: 100,
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 200,
      rebalanceTimeoutMs: 10_000,
    }
    const process = TestConsumer.join(consumerClient(sidecar), joinRequest(groupId, [topic], { settings }), {
      hold: true,
      commit: false,
    })
    await waitFor('a batch in hand', () => process.held.length === 1, 20_000)

    const plain = kafkaFor(cluster).consumer({
      groupId,
      sessionTimeout: 6_000,
      heartbeatInterval: 200,
      rebalanceTimeout: 10_000,
      maxWaitTimeInMs: 100,
    })
    onTestFinished(() => plain.disconnect())
    let joinedAt = 0
    const firstOffsets = new Map<number, number>()
    plain.on(plain.events.GROUP_JOIN, () => (joinedAt ||= Date.now()))
    await plain.connect()
    await plain.subscribe({ topics: [topic] })
    // run() resolves once the member joined: not awaited, the join is what is being watched.
    const running = plain.run({
      eachMessage: async ({ partition, message }) => {
        if (!firstOffsets.has(partition)) firstOffsets.set(partition, Number(message.offset))
      },
    })
    await waitFor('the rebalance revokes the process', () => process.events$('revoke').length === 1, 10_000)
    expect(process.events$('revoke')[0]!.rebalance).toBe(true)
    // The message in hand takes a while: the member does not rejoin meanwhile.
    await new Promise((r) => setTimeout(r, 1_500))
    expect(joinedAt).toBe(0)
    const commits = process.held.map((b) => ({
      topic,
      partition: b.partition,
      assignmentId: b.assignmentId,
      nextOffset: b.lastOffset + 1,
    }))
    const committed = await process.commit(commits)
    expect(committed.error).toBeUndefined()
    const releasedAt = Date.now()
    process.finish()
    await running
    await waitFor('the plain member joined', () => joinedAt > 0, 10_000)
    expect(joinedAt).toBeGreaterThanOrEqual(releasedAt)
    // KafkaJS's round robin gives the one partition to the lowest member id: the plain member's
    // ("embedded-kafka-test-…" sorts before the sidecar's "kafka-sidecar-…").
    await waitFor('the plain member reads', () => firstOffsets.size > 0, 10_000)
    for (const [partition, offset] of firstOffsets)
      expect(offset).toBe(commits.find((c) => c.partition === partition)!.nextOffset)
  })
})
