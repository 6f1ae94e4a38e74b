import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js'
import type { DescribeGroupResponse } from '@kafka-sidecar/proto'
import {
  connectedProducer,
  grpcTarget,
  kafkaFor,
  randomTopic,
  startCluster,
  startTestSidecar,
  waitFor,
} from '@kafka-sidecar/test-support'
import fc from 'fast-check'
import { Client } from '@grpc/grpc-js'
import { describe, expect, it } from 'vitest'
import { consumerClient, joinRequest, TestConsumer } from './consumer-helpers.js'
import type { ConsumeRequest } from '@kafka-sidecar/proto'

const TOKEN = 'consumer-test-token-0123456789'

async function endedWith(consumer: TestConsumer, code: status, details: RegExp): Promise<void> {
  const ended = await consumer.ended()
  expect(ended.code).toBe(code)
  expect(ended.details).toMatch(details)
}

describe('Consume: bad input is answered by name, and the sidecar keeps serving', () => {
  it('refuses each malformed stream with INVALID_ARGUMENT naming the problem, while a good stream reads on', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('bad')
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)
    const client = consumerClient(sidecar)
    const groupId = randomTopic('group')
    const good = TestConsumer.join(client, joinRequest(groupId, [topic]))
    await waitFor('good owns the partition', () => good.partitions().length === 1, 20_000)

    const cases: Array<[ConsumeRequest[], RegExp]> = [
      [[{ request: { $case: 'alive', value: {} } }], /first message of a Consume stream must be join, not alive/],
      [[{ request: undefined }], /empty ConsumeRequest/],
      [[joinRequest(groupId, [topic]), joinRequest(groupId, [topic])], /duplicate join: this stream joined group/],
      [[joinRequest('', [topic])], /join.group_id is empty/],
      [[joinRequest(groupId, [])], /join.subscriptions is empty/],
      [[joinRequest(groupId, ['bad topic!'])], /join.subscriptions\[0\]: invalid topic/],
      [
        [
          joinRequest(groupId, [], {
            subscriptions: [
              { topicOrPattern: { $case: 'pattern', value: { source: '(', flags: '' } }, fromBeginning: false },
            ],
          }),
        ],
        /invalid pattern \/\(\/: /,
      ],
      // Settings are checked when they make the group's member: the first join of a group.
      [
        [
          joinRequest(randomTopic('new-group'), [topic], {
            settings: { heartbeatIntervalMs: 10_000, sessionTimeoutMs: 6_000 },
          }),
        ],
        /must be lower than session_timeout_ms/,
      ],
      [
        [
          joinRequest(groupId, [topic]),
          { request: { $case: 'progress', value: { topic, partition: 0, assignmentId: 424242, nextOffset: 1 } } },
        ],
        /assignment_id 424242 .* was never given to this instance/,
      ],
      [
        [joinRequest(groupId, [topic]), { request: { $case: 'done', value: { batchId: 1, processed: undefined } } }],
        /done for batch 1 has no processed offset/,
      ],
      [
        [
          joinRequest(groupId, [topic]),
          { request: { $case: 'seek', value: { topic, partition: 0, offset: -5, assignmentId: 0 } } },
        ],
        /seek offset -5 .* is negative/,
      ],
    ]
    for (const [requests, details] of cases) {
      const bad = new TestConsumer(client)
      for (const request of requests) bad.send(request)
      await endedWith(bad, status.INVALID_ARGUMENT, details).catch((e: Error) => {
        throw new Error(`${String(details)}: ${e.message}`)
      })
    }

    const producer = await connectedProducer(kafkaFor(cluster))
    await producer.send({ topic, messages: [{ value: 'still-serving' }] })
    await waitFor('good reads on', () => good.consumed.some((c) => c.value === 'still-serving'), 10_000)
    expect(good.status).toBeNull()
  })

  it('answers garbage bytes with INVALID_ARGUMENT naming the message type (fast-check)', async () => {
    const cluster = await startCluster()
    const sidecar = await startTestSidecar(cluster)
    const raw = new Client(grpcTarget(sidecar.address), credentials.createInsecure())
    try {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 64 }), async (bytes) => {
          const stream = raw.makeBidiStreamRequest(
            '/kafka_sidecar.v1.ConsumerSidecar/Consume',
            (b: Buffer) => b,
            (b: Buffer) => b,
          )
          const ended = new Promise<{ code: number; details: string }>((resolve) => stream.on('status', resolve))
          stream.on('error', () => {})
          stream.on('data', () => {})
          stream.write(Buffer.from(bytes))
          const { code, details } = await ended
          // Bytes that happen to decode are some message that is not a join; the rest do not decode.
          expect(code).toBe(status.INVALID_ARGUMENT)
          expect(details).toMatch(/malformed ConsumeRequest|must be join|empty ConsumeRequest|join\./)
        }),
        { numRuns: 40 },
      )
    } finally {
      raw.close()
    }
  })

  it('asks every call for the token when one is set', async () => {
    const cluster = await startCluster()
    const sidecar = await startTestSidecar(cluster, { token: TOKEN })
    const client = consumerClient(sidecar)
    const without = TestConsumer.join(client, joinRequest('g', ['t']))
    await endedWith(without, status.UNAUTHENTICATED, /authorization: Bearer/)
    const metadata = new Metadata()
    metadata.set('authorization', `Bearer ${TOKEN}`)
    const error = await new Promise<ServiceError | null>((resolve) =>
      client.describeGroup({ groupId: 'g' }, (e) => resolve(e)),
    )
    expect(error?.code).toBe(status.UNAUTHENTICATED)
    const described = await new Promise<DescribeGroupResponse>((resolve, reject) =>
      client.describeGroup({ groupId: 'g' }, metadata, (e, r) => (e ? reject(e) : resolve(r))),
    )
    expect(described).toMatchObject({ groupId: 'g', members: [], state: 'Dead' })
  })

  it('refuses a commit that names a partition the instance does not own, or an ended ownership, naming the partition', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('stale')
    await cluster.createTopic({ topic, partitions: 2 })
    const producer = await connectedProducer(kafkaFor(cluster))
    await producer.send({ topic, messages: [0, 1].map((partition) => ({ partition, value: 'x' })) })
    const sidecar = await startTestSidecar(cluster)
    const client = consumerClient(sidecar)
    const groupId = randomTopic('group')
    const a = TestConsumer.join(client, joinRequest(groupId, [topic]), { commit: false })
    await waitFor('a owns both', () => a.partitions().length === 2, 20_000)
    const before = [...a.owned.values()]
    const b = TestConsumer.join(client, joinRequest(groupId, [topic]), { commit: false })
    await waitFor('one each', () => a.partitions().length === 1 && b.partitions().length === 1, 10_000)
    const moved = before.find((p) => !a.owned.has(`${p.topic}|${p.partition}`))!
    const stale = await a.commit([{ ...moved, nextOffset: 1 }])
    expect(stale.error).toMatchObject({ grpcCode: status.FAILED_PRECONDITION, kafkaErrorName: 'ILLEGAL_GENERATION' })
    expect(stale.error!.message).toContain(`${topic}[${moved.partition}] (assignment ${moved.assignmentId})`)
    expect(stale.committed).toEqual([])
    // The other's partition, named with the other's assignment id, is not a's either.
    const others = [...b.owned.values()][0]!
    expect((await a.commit([{ ...others, nextOffset: 1 }])).error?.message).toMatch(/does not own/)
    // a's own current partition commits.
    const mine = [...a.owned.values()][0]!
    expect((await a.commit([{ ...mine, nextOffset: 1 }])).error).toBeUndefined()
    expect(a.status).toBeNull()
    expect(
      (await sidecar.metrics.registry.getSingleMetric('kafka_sidecar_consumer_commits_total')!.get()).values,
    ).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ labels: { group: groupId, result: 'refused' }, value: 2 }),
        expect.objectContaining({ labels: { group: groupId, result: 'ok' }, value: 1 }),
      ]),
    )
  })
})
