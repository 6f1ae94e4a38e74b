/**
 * Pause bookkeeping against KafkaJS's own (the consumer review's M3, the client's half): random
 * sequences of pause/resume calls go to a sidecar consumer and to KafkaJS's SubscriptionState,
 * the class a KafkaJS consumer's pause(), resume() and paused() use. paused() must agree, and the
 * calls the client sends the sidecar (and sends again after a new stream), replayed into a fresh
 * SubscriptionState, must mean the same pauses: the sidecar applies KafkaJS's rules to them.
 */
import { createRequire } from 'node:module'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { TopicPartitions } from 'kafkajs'
import { runAssigned, sidecarConsumer, type Sent } from './in-memory-transport.js'

interface KafkaJSSubscriptionState {
  assign(assigned: TopicPartitions[]): void
  pause(requests: Array<{ topic: string; partitions?: number[] }>): void
  resume(requests: Array<{ topic: string; partitions?: number[] }>): void
  paused(): TopicPartitions[]
  isPaused(topic: string, partition: number): boolean
}
const SubscriptionState = createRequire(import.meta.url)(
  'kafkajs/src/consumer/subscriptionState.js',
) as new () => KafkaJSSubscriptionState

const TOPICS = ['t', 'u']
const PARTITIONS = [0, 1, 2]
const ASSIGNED = TOPICS.map((topic) => ({ topic, partitions: [...PARTITIONS] }))
const owned = TOPICS.flatMap((topic, t) =>
  PARTITIONS.map((partition) => ({ topic, partition, assignmentId: t * 10 + partition + 1 })),
)

type Call = { op: 'pause' | 'resume'; topic: string; partitions?: number[] }
const call: fc.Arbitrary<Call> = fc.record(
  {
    op: fc.constantFrom<'pause' | 'resume'>('pause', 'resume'),
    topic: fc.constantFrom(...TOPICS),
    partitions: fc.uniqueArray(fc.constantFrom(...PARTITIONS), { maxLength: 3 }),
  },
  { requiredKeys: ['op', 'topic'] },
)

/** What the client sent as pause/resume, replayed into a fresh KafkaJS state ([] on the wire: the whole topic). */
function replay(sent: readonly Sent[]): KafkaJSSubscriptionState {
  const state = new SubscriptionState()
  for (const s of sent) {
    if (s.kind !== 'pause' && s.kind !== 'resume') continue
    const requests = s.value.topics.map(({ topic, partitions }) =>
      partitions.length === 0 ? { topic } : { topic, partitions },
    )
    if (s.kind === 'pause') state.pause(requests)
    else state.resume(requests)
  }
  return state
}

function pausedSet(isPaused: (topic: string, partition: number) => boolean): string[] {
  return TOPICS.flatMap((topic) => PARTITIONS.filter((p) => isPaused(topic, p)).map((p) => `${topic}[${p}]`))
}

describe("pause and resume mean what KafkaJS's SubscriptionState makes of them", () => {
  it('paused(), what is sent, and what is sent again on a new stream agree with KafkaJS for any sequence', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(call, { maxLength: 12 }), async (calls) => {
        const { consumer, transport } = sidecarConsumer()
        await consumer.subscribe({ topics: TOPICS })
        await runAssigned(consumer, transport, { eachMessage: async () => {} }, owned)
        const kafkajs = new SubscriptionState()
        kafkajs.assign(ASSIGNED)
        for (const { op, topic, partitions } of calls) {
          const request = partitions === undefined ? [{ topic }] : [{ topic, partitions }]
          consumer[op](request)
          kafkajs[op](request)
        }
        const expected = pausedSet((t, p) => kafkajs.isPaused(t, p))
        expect(consumer.paused()).toEqual(kafkajs.paused())
        expect(pausedSet((t, p) => replay(transport.sent).isPaused(t, p))).toEqual(expected)
        // A new stream: the pauses in force are said again, from nothing.
        const before = transport.sent.length
        transport.listener!.closed(new Error('lost'), true)
        transport.assign(owned)
        expect(pausedSet((t, p) => replay(transport.sent.slice(before)).isPaused(t, p))).toEqual(expected)
        await consumer.disconnect()
      }),
      { numRuns: 150 },
    )
  })

  it("the review's cases: pause(topic) then resume(p0); pause(topic) then pause(p1)", async () => {
    for (const [second, expected] of [
      [{ op: 'resume', partitions: [0] }, ['t[1]', 't[2]']],
      [{ op: 'pause', partitions: [1] }, ['t[1]']],
    ] as const) {
      const { consumer, transport } = sidecarConsumer()
      await consumer.subscribe({ topics: TOPICS })
      await runAssigned(consumer, transport, { eachMessage: async () => {} }, owned)
      consumer.pause([{ topic: 't' }])
      consumer[second.op]([{ topic: 't', partitions: [...second.partitions] }])
      expect(pausedSet((t, p) => replay(transport.sent).isPaused(t, p))).toEqual(expected)
      await consumer.disconnect()
    }
  })
})
