/**
 * An instance's paused partitions follow KafkaJS 2.2.4's SubscriptionState exactly: random
 * pause/resume sequences are replayed on KafkaJS's own module (the reference) and on the
 * sidecar's PausedPartitions, and every partition's paused state, and paused(), must agree.
 * Then the review's case end to end: pause(topic) then resume(p0) delivers p0 only, with no loop
 * of batches handed back.
 */
import { createRequire } from 'node:module'
import {
  connectedProducer,
  kafkaFor,
  randomTopic,
  startCluster,
  startTestSidecar,
  waitFor,
} from '@kafka-sidecar/test-support'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PausedPartitions, type PauseRequest as PauseChange } from '@kafka-sidecar/proto'
import { consumerClient, joinRequest, TestConsumer } from './consumer-helpers.js'

interface KafkaJSSubscriptionState {
  assign(topicPartitions: Array<{ topic: string; partitions: number[] }>): void
  pause(topicPartitions: PauseChange[]): void
  resume(topicPartitions: PauseChange[]): void
  isPaused(topic: string, partition: number): boolean
  paused(): Array<{ topic: string; partitions: number[] }>
}

const require = createRequire(import.meta.url)
const kafkajsMain = require.resolve('kafkajs')
const SubscriptionState = require(
  kafkajsMain.replace(/index\.js$/, 'src/consumer/subscriptionState.js'),
) as new () => KafkaJSSubscriptionState

const TOPICS = ['a', 'b']
const PARTITIONS = [0, 1, 2, 3]

const change = fc.record(
  {
    topic: fc.constantFrom(...TOPICS),
    partitions: fc.option(fc.subarray(PARTITIONS, { minLength: 1 }), { nil: undefined }),
  },
  { requiredKeys: ['topic'] },
)
const operation = fc.record({
  kind: fc.constantFrom('pause' as const, 'resume' as const),
  changes: fc.array(change, { minLength: 1, maxLength: 3 }),
})

const sorted = (list: Array<{ topic: string; partitions: readonly number[] }>) =>
  list.map(({ topic, partitions }) => ({ topic, partitions: [...partitions].sort((x, y) => x - y) }))

describe("an instance's paused partitions", () => {
  it("agree with KafkaJS's SubscriptionState for any pause/resume sequence", () => {
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 25 }), (operations) => {
        const reference = new SubscriptionState()
        const assigned = TOPICS.map((topic) => ({ topic, partitions: [...PARTITIONS] }))
        reference.assign(assigned)
        const ours = new PausedPartitions()
        for (const { kind, changes } of operations) {
          // KafkaJS's pause({ topic }) has no partitions key at all.
          const asKafkaJS = changes.map((c) =>
            c.partitions === undefined ? { topic: c.topic } : { ...c, partitions: [...c.partitions] },
          )
          reference[kind](asKafkaJS)
          ours[kind](changes)
          for (const topic of TOPICS)
            for (const partition of [...PARTITIONS, 9])
              expect(ours.isPaused(topic, partition), `${topic}[${partition}]`).toBe(
                reference.isPaused(topic, partition),
              )
          expect(sorted(ours.pausedAmong(assigned))).toEqual(sorted(reference.paused()))
        }
      }),
      { numRuns: 500 },
    )
  })

  it('pause(topic) then resume(p0): p0 is delivered, p1 stays paused, no batch handed back and forth', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('pause')
    await cluster.createTopic({ topic, partitions: 2 })
    const sidecar = await startTestSidecar(cluster)
    const consumer = TestConsumer.join(consumerClient(sidecar), joinRequest(randomTopic('group'), [topic]))
    await waitFor('both partitions', () => consumer.partitions().length === 2, 20_000)
    consumer.send({ request: { $case: 'pause', value: { topics: [{ topic, partitions: [] }] } } })
    consumer.send({ request: { $case: 'resume', value: { topics: [{ topic, partitions: [0] }] } } })
    await new Promise((r) => setTimeout(r, 200))
    const producer = await connectedProducer(kafkaFor(cluster))
    for (const partition of [0, 1])
      await producer.send({ topic, messages: Array.from({ length: 5 }, (_, i) => ({ partition, value: `${i}` })) })
    await waitFor('p0 read', () => consumer.consumed.length === 5, 10_000)
    await new Promise((r) => setTimeout(r, 1_000))
    expect(consumer.consumed.every((c) => c.partition === 0)).toBe(true)
    expect(consumer.events$('batch').filter((b) => b.partition === 1)).toEqual([])
    // A partition paused in a topic paused whole: KafkaJS then pauses that partition only.
    consumer.send({ request: { $case: 'pause', value: { topics: [{ topic, partitions: [0] }] } } })
    await waitFor('p1 read once p0 alone is paused', () => consumer.consumed.some((c) => c.partition === 1), 10_000)
  })
})
