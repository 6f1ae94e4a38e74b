/**
 * Health reflects each group's session: when a group's KafkaJS consumer crashes (here the
 * coordinator refuses the group, GROUP_AUTHORIZATION_FAILED, at its next heartbeat), gRPC health
 * of kafka_sidecar.v1.ConsumerSidecar turns NOT_SERVING with the group and the Kafka error as its
 * reason, /readyz/consumers answers 503 and the in-group gauge drops to 0, while the producer side
 * stays SERVING, /readyz stays 200 and records are still written. Once a member of the group joins
 * again, all of it comes back.
 */
import { credentials, type Metadata } from '@grpc/grpc-js'
import { status } from '@grpc/grpc-js'
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthClient,
  type HealthCheckResponse,
} from '@kafka-sidecar/proto'
import { grpcTarget, randomTopic, startCluster, startTestSidecar, waitFor } from '@kafka-sidecar/test-support'
import { describe, expect, it, onTestFinished } from 'vitest'
import { GroupHealth } from '../src/consumer/group-health.js'
import type { RunningSidecar } from '../src/index.js'
import { consumerClient, joinRequest, TestConsumer } from './consumer-helpers.js'
import { bytes, emit, emitRequest, sidecarClient } from './helpers.js'

const CONSUMER_SERVICE = 'kafka_sidecar.v1.ConsumerSidecar'
const PRODUCER_SERVICE = 'kafka_sidecar.v1.ProducerSidecar'

function healthClient(sidecar: RunningSidecar): HealthClient {
  const client = new HealthClient(grpcTarget(sidecar.address), credentials.createInsecure())
  onTestFinished(() => client.close())
  return client
}

/** Check of one service: serving or not, and the reason trailer. */
function check(client: HealthClient, service: string): Promise<{ serving: boolean; reason: string | undefined }> {
  return new Promise((resolve, reject) => {
    let response: HealthCheckResponse | undefined
    const call = client.check({ service }, (error, answer) => (error ? reject(error) : (response = answer)))
    call.on('status', ({ metadata }: { metadata: Metadata }) =>
      resolve({
        serving: response?.status === ServingStatus.SERVING,
        reason: metadata.get('kafka-sidecar-reason')[0]?.toString(),
      }),
    )
  })
}

async function http(sidecar: RunningSidecar, path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://${sidecar.httpAddress}${path}`)
  return { status: response.status, text: (await response.text()).trim() }
}

async function inGroup(sidecar: RunningSidecar, groupId: string): Promise<number | undefined> {
  const metric = sidecar.metrics.registry.getSingleMetric('kafka_sidecar_consumer_member_in_group')!
  return (await metric.get()).values.find((v) => v.labels.group === groupId)?.value
}

describe("health reflects the consumer groups' sessions", () => {
  it('a crashed group: the consumer service NOT_SERVING naming it, the producer side untouched; back once it joins again', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const topic = randomTopic('health')
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)
    const groupId = randomTopic('group')
    const client = consumerClient(sidecar)
    const health = healthClient(sidecar)
    const first = TestConsumer.join(client, joinRequest(groupId, [topic]))
    await waitFor('assigned', () => first.partitions().length === 1, 20_000)
    expect(await check(health, CONSUMER_SERVICE)).toEqual({ serving: true, reason: undefined })
    expect(await http(sidecar, '/readyz/consumers')).toEqual({ status: 200, text: 'ready' })
    expect(await inGroup(sidecar, groupId)).toBe(1)
    // A Watch of the consumer service hears each change.
    const watched: ServingStatus[] = []
    const watch = health.watch({ service: CONSUMER_SERVICE })
    watch.on('data', (r: HealthCheckResponse) => void watched.push(r.status))
    watch.on('error', () => {})
    onTestFinished(() => watch.cancel())
    await waitFor('the first watched status', () => watched.length === 1)

    cluster.refuseGroup({ groupId })
    await waitFor(
      'the consumer service NOT_SERVING',
      async () => !(await check(health, CONSUMER_SERVICE)).serving,
      15_000,
    )
    const { reason } = await check(health, CONSUMER_SERVICE)
    expect(reason).toContain(`group "${groupId}": GROUP_AUTHORIZATION_FAILED`)
    // The member failed for good: its process's stream ended, retriably.
    expect((await first.ended()).code).toBe(status.UNAVAILABLE)
    expect(await inGroup(sidecar, groupId)).toBe(0)
    const consumers = await http(sidecar, '/readyz/consumers')
    expect(consumers.status).toBe(503)
    expect(consumers.text).toContain('GROUP_AUTHORIZATION_FAILED')
    // The producer side and the pod's readiness are not the group's business.
    expect(await check(health, '')).toEqual({ serving: true, reason: undefined })
    expect(await check(health, PRODUCER_SERVICE)).toEqual({ serving: true, reason: undefined })
    const readyz = await http(sidecar, '/readyz')
    expect(readyz.status).toBe(200)
    expect(readyz.text).toMatch(/^ready\nconsumers: .*GROUP_AUTHORIZATION_FAILED/)
    const ack = await emit(sidecarClient(sidecar), emitRequest(topic, [{ value: bytes('still written') }]))
    expect(ack.error).toBeUndefined()

    // A new process joins while the group is still refused: a new member, failing again; still NOT_SERVING.
    const second = TestConsumer.join(client, joinRequest(groupId, [topic]))
    expect((await second.ended(15_000)).code).toBe(status.UNAVAILABLE)
    expect((await check(health, CONSUMER_SERVICE)).serving).toBe(false)

    cluster.clearFaults()
    const third = TestConsumer.join(client, joinRequest(groupId, [topic]))
    await waitFor('assigned again', () => third.partitions().length === 1, 20_000)
    await waitFor('SERVING again', async () => (await check(health, CONSUMER_SERVICE)).serving, 5_000)
    expect(await http(sidecar, '/readyz')).toEqual({ status: 200, text: 'ready' })
    expect(await http(sidecar, '/readyz/consumers')).toEqual({ status: 200, text: 'ready' })
    expect(await inGroup(sidecar, groupId)).toBe(1)
    expect(watched).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING, ServingStatus.SERVING])
  }, 60_000)

  it('a failed group that no process joins again is forgotten after the group idle grace', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const topic = randomTopic('health-idle')
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster, { consumerGroupIdleMs: 500 })
    const groupId = randomTopic('group')
    const health = healthClient(sidecar)
    const consumer = TestConsumer.join(consumerClient(sidecar), joinRequest(groupId, [topic]))
    await waitFor('assigned', () => consumer.partitions().length === 1, 20_000)
    cluster.refuseGroup({ groupId })
    await consumer.ended(15_000)
    expect((await check(health, CONSUMER_SERVICE)).serving).toBe(false)
    await waitFor('SERVING once forgotten', async () => (await check(health, CONSUMER_SERVICE)).serving, 5_000)
    expect(await inGroup(sidecar, groupId)).toBeUndefined()
  }, 30_000)
})

describe('GroupHealth', () => {
  const describeError = (error: unknown) => ({ kafkaError: 'COORDINATOR_NOT_AVAILABLE', message: String(error) })

  it('names at most five crashed groups in its reason, and counts the rest', () => {
    const health = new GroupHealth(describeError, () => {})
    for (let i = 0; i < 7; i++) health.crashed(`g${i}`, 'down', true)
    const problem = health.problem()!
    expect(problem.match(/group "g\d"/g)).toHaveLength(5)
    expect(problem).toMatch(/; and 2 more$/)
    expect(problem).toContain('(KafkaJS restarts the member)')
  })

  it('keeps a crash through a new attempt to join; a join clears it; changes are told once each', () => {
    let changes = 0
    const health = new GroupHealth(describeError, () => changes++)
    health.joining('g')
    health.crashed('g', 'x'.repeat(1_000), false)
    health.joining('g')
    expect(health.problem()).toMatch(
      /^consumer group member not in its group: group "g": COORDINATOR_NOT_AVAILABLE: x{300}… \(the member failed/,
    )
    expect(health.sessions()).toEqual([{ groupId: 'g', inGroup: false }])
    health.joined('g')
    health.joined('g')
    expect(health.problem()).toBeNull()
    expect(health.sessions()).toEqual([{ groupId: 'g', inGroup: true }])
    expect(changes).toBe(3)
  })
})
