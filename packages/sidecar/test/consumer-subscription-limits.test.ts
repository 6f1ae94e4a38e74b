/**
 * One process cannot make the shared sidecar stall: a pattern prone to catastrophic backtracking
 * is refused at the join (naming it), the subscriptions of one join are capped, a join near the
 * cap is answered at once, and each pattern runs once per topic name.
 */
import { status } from '@grpc/grpc-js'
import type { ConsumeRequest, Subscription } from '@kafka-sidecar/proto'
import { randomTopic, startCluster, startTestSidecar, waitFor } from '@kafka-sidecar/test-support'
import { describe, expect, it } from 'vitest'
import { MAX_SUBSCRIPTIONS_PER_JOIN, parseSubscriptions } from '../src/consumer/subscriptions.js'
import { consumerClient, joinRequest, TestConsumer } from './consumer-helpers.js'

const pattern = (source: string): Subscription => ({
  topicOrPattern: { $case: 'pattern', value: { source, flags: '' } },
  fromBeginning: false,
})

function joinWith(groupId: string, subscriptions: Subscription[]): ConsumeRequest {
  const join = joinRequest(groupId, ['unused'])
  if (join.request?.$case === 'join') join.request.value.subscriptions = subscriptions
  return join
}

describe('Consume: bounded subscriptions', () => {
  it("refuses the review's ReDoS patterns at once, naming them, and another group reads on", async () => {
    const cluster = await startCluster()
    const topic = randomTopic('redos')
    await cluster.createTopic({ topic: 'a'.repeat(40) + 'b', partitions: 1 })
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)
    const client = consumerClient(sidecar)
    for (const source of ['^(a|aa)+$', '(a+)+']) {
      const started = Date.now()
      const evil = TestConsumer.join(client, joinWith(randomTopic('evil'), [pattern(source)]))
      const ended = await evil.ended(5_000)
      expect(Date.now() - started).toBeLessThan(1_000)
      expect(ended.code).toBe(status.INVALID_ARGUMENT)
      expect(ended.details).toContain(`/${source}/`)
      expect(ended.details).toMatch(/backtrack/)
    }
    const good = TestConsumer.join(client, joinRequest(randomTopic('group'), [topic]))
    await waitFor('the good process gets its partition', () => good.partitions().length === 1, 20_000)
  })

  it('refuses 20,000 subscriptions by the cap', async () => {
    const cluster = await startCluster()
    const sidecar = await startTestSidecar(cluster)
    const subscriptions = Array.from(
      { length: 20_000 },
      (_, i) => ({ topicOrPattern: { $case: 'topic', value: `topic-${i}` }, fromBeginning: false }) as Subscription,
    )
    const started = Date.now()
    const many = TestConsumer.join(consumerClient(sidecar), joinWith(randomTopic('group'), subscriptions))
    const ended = await many.ended(5_000)
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(ended.code).toBe(status.INVALID_ARGUMENT)
    expect(ended.details).toMatch(/20000 entries, more than the most allowed, 1000/)
  })

  it('answers a join near the cap at once', async () => {
    const cluster = await startCluster()
    const sidecar = await startTestSidecar(cluster)
    const client = consumerClient(sidecar)
    const groupId = randomTopic('group')
    const subscriptions = Array.from({ length: MAX_SUBSCRIPTIONS_PER_JOIN }, (_, i) => pattern(`^near-cap-${i}\\..*$`))
    const first = TestConsumer.join(client, joinWith(groupId, subscriptions))
    await waitFor('joined', () => first.events$('joined').length === 1, 5_000)
    // A second process with the same subscriptions: covers, union and fromBeginning checks, linear.
    const started = Date.now()
    const second = TestConsumer.join(
      client,
      joinWith(
        groupId,
        subscriptions.map((s) => ({ ...s, fromBeginning: true })),
      ),
    )
    await waitFor('joined', () => second.events$('joined').length === 1, 5_000)
    expect(Date.now() - started).toBeLessThan(500)
    expect(second.events$('joined')[0]!.warnings).toHaveLength(MAX_SUBSCRIPTIONS_PER_JOIN)
  })

  it('runs each pattern once per topic name', () => {
    const set = parseSubscriptions([pattern('^orders\\..*')])
    const regex = set.entries[0]!.pattern!
    let tests = 0
    const test = regex.test.bind(regex)
    regex.test = (s: string) => {
      tests++
      return test(s)
    }
    for (let i = 0; i < 100; i++) {
      expect(set.accepts('orders.eu')).toBe(true)
      expect(set.accepts('payments')).toBe(false)
    }
    expect(tests).toBe(2)
  })
})
