/**
 * What operators see: Prometheus metrics parsed to numbers after real traffic, the HTTP health
 * endpoints, the grpc.health.v1 service (Check and Watch), and the connected-clients gauge.
 */
import { randomUUID } from 'node:crypto'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import {
  credentials,
  loadPackageDefinition,
  status,
  type Client as GrpcClient,
  type ClientDuplexStream,
} from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthClient,
  type EmitAck,
  type EmitRequest,
  type HealthCheckResponse,
} from '@kafka-sidecar/proto'
import { describe, expect, it, onTestFinished } from 'vitest'
import { grpcTarget, randomTopic, startCluster, startTestSidecar, waitFor } from '@kafka-sidecar/test-support'
import type { RunningSidecar } from '../src/index.js'
import { bytes, emit, emitError, emitRequest, sidecarClient } from './helpers.js'

const T = { timeout: 15_000 }

interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** Parses the Prometheus text format (every non-comment line must parse). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/.exec(line)
    if (!match) throw new Error(`unparsable metrics line: ${JSON.stringify(line)}`)
    const labels: Record<string, string> = {}
    for (const l of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
    }
    const raw = match[3]!
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw)
    // prom-client writes NaN as "Nan" (Prometheus parses floats case-insensitively).
    if (Number.isNaN(value) && raw.toLowerCase() !== 'nan')
      throw new Error(`unparsable value in ${JSON.stringify(line)}`)
    samples.push({ name: match[1]!, labels, value })
  }
  return samples
}

function matching(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
}

/** The value of the one sample matching name and labels; fails when there is none or several. */
function value(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = matching(samples, name, labels)
  if (found.length !== 1)
    throw new Error(
      `expected one sample ${name}${JSON.stringify(labels)}, found ${found.length}: ${JSON.stringify(found)}`,
    )
  return found[0]!.value
}

/** Bucket counts of a histogram series by upper bound, checked cumulative and equal to _count at +Inf. */
function histogram(
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string> = {},
): { buckets: Map<number, number>; count: number; sum: number } {
  const buckets = new Map<number, number>()
  for (const s of matching(samples, `${name}_bucket`, labels))
    buckets.set(s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), s.value)
  const count = value(samples, `${name}_count`, labels)
  const sum = value(samples, `${name}_sum`, labels)
  const bounds = [...buckets.keys()].sort((a, b) => a - b)
  expect(bounds.length).toBeGreaterThan(1)
  expect(bounds.at(-1)).toBe(Infinity)
  for (let i = 1; i < bounds.length; i++)
    expect(buckets.get(bounds[i]!)!).toBeGreaterThanOrEqual(buckets.get(bounds[i - 1]!)!)
  expect(buckets.get(Infinity)).toBe(count)
  return { buckets, count, sum }
}

async function scrape(sidecar: RunningSidecar): Promise<Sample[]> {
  const response = await fetch(`http://${sidecar.httpAddress}/metrics`)
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/)
  return parseMetrics(await response.text())
}

function healthClient(sidecar: RunningSidecar): HealthClient {
  const client = new HealthClient(grpcTarget(sidecar.address), credentials.createInsecure())
  onTestFinished(() => client.close())
  return client
}

function check(client: HealthClient, service: string): Promise<HealthCheckResponse> {
  return new Promise((resolve, reject) =>
    client.check({ service }, (error, response) => (error ? reject(error) : resolve(response))),
  )
}

/** An EmitStream whose acks are collected; cancelled when the test finishes. */
function openStream(sidecar: RunningSidecar): {
  call: ClientDuplexStream<EmitRequest, EmitAck>
  acks: EmitAck[]
  finished: Promise<number>
} {
  const call = sidecarClient(sidecar).emitStream()
  const acks: EmitAck[] = []
  call.on('data', (ack: EmitAck) => acks.push(ack))
  const finished = new Promise<number>((resolve) => call.on('status', (s: { code: number }) => resolve(s.code)))
  call.on('error', () => {})
  onTestFinished(() => call.cancel())
  return { call, acks, finished }
}

const VALUE = bytes('0123456789') // recordSize = 24 + 10 = 34 bytes per record (no key, no headers)

describe('Prometheus metrics', () => {
  it('counts requests, records per stage, batches, latency and errors after real traffic', T, async () => {
    const cluster = await startCluster()
    const topicA = randomTopic('obs-a')
    const topicB = randomTopic('obs-b')
    await cluster.createTopic({ topic: topicA, partitions: 2 })
    await cluster.createTopic({ topic: topicB, partitions: 2 })
    const sidecar = await startTestSidecar(cluster)
    const client = sidecarClient(sidecar)

    // Every record on partition 0, each request awaited: one request is exactly one sendBatch.
    const records = (n: number) => Array.from({ length: n }, () => ({ value: VALUE, partition: 0 }))
    for (const n of [2, 3, 5]) {
      const ack = await emit(client, emitRequest(topicA, records(n), { appName: 'app-a' }))
      expect(ack.results.map((r) => r.error)).toEqual([undefined])
    }
    const ackB = await emit(client, emitRequest(topicB, records(4), { appName: 'app-b' }))
    expect(ackB.results.map((r) => r.error)).toEqual([undefined])

    const refused = await emitError(client, emitRequest('bad topic!', [{ value: VALUE }], { appName: 'app-a' }))
    expect(refused.code).toBe(status.INVALID_ARGUMENT)
    expect(refused.metadata.get('kafka-error-name')).toEqual(['INVALID_TOPIC_EXCEPTION'])

    const m = await scrape(sidecar)
    expect(value(m, 'kafka_sidecar_requests_total', { method: 'Emit', code: 'OK' })).toBe(4)
    expect(value(m, 'kafka_sidecar_requests_total', { method: 'Emit', code: 'INVALID_ARGUMENT' })).toBe(1)

    expect(value(m, 'kafka_sidecar_records_total', { app: 'app-a', topic: topicA, stage: 'accepted' })).toBe(10)
    expect(value(m, 'kafka_sidecar_records_total', { app: 'app-a', topic: topicA, stage: 'acked' })).toBe(10)
    expect(value(m, 'kafka_sidecar_records_total', { app: 'app-b', topic: topicB, stage: 'accepted' })).toBe(4)
    expect(value(m, 'kafka_sidecar_records_total', { app: 'app-b', topic: topicB, stage: 'acked' })).toBe(4)
    expect(value(m, 'kafka_sidecar_records_total', { app: 'app-a', topic: 'bad topic!', stage: 'rejected' })).toBe(1)
    expect(matching(m, 'kafka_sidecar_records_total', { stage: 'failed' }).reduce((s, x) => s + x.value, 0)).toBe(0)
    expect(value(m, 'kafka_sidecar_accepted_bytes_total', { app: 'app-a', topic: topicA })).toBe(10 * 34)
    expect(value(m, 'kafka_sidecar_accepted_bytes_total', { app: 'app-b', topic: topicB })).toBe(4 * 34)

    expect(
      value(m, 'kafka_sidecar_errors_total', { code: 'INVALID_ARGUMENT', kafka_error: 'INVALID_TOPIC_EXCEPTION' }),
    ).toBe(1)
    expect(matching(m, 'kafka_sidecar_errors_total').reduce((s, x) => s + x.value, 0)).toBe(1)

    const batches = histogram(m, 'kafka_sidecar_batch_records')
    expect(batches.count).toBe(4)
    expect(batches.sum).toBe(14)
    expect(batches.buckets.get(1)).toBe(0)
    expect(batches.buckets.get(2)).toBe(1)
    expect(batches.buckets.get(5)).toBe(4)

    const batchBytes = histogram(m, 'kafka_sidecar_batch_bytes')
    expect(batchBytes.count).toBe(4)
    expect(batchBytes.sum).toBe(14 * 34)

    const latencyA = histogram(m, 'kafka_sidecar_delivery_latency_seconds', { app: 'app-a' })
    expect(latencyA.count).toBe(3)
    expect(latencyA.sum).toBeGreaterThan(0)
    expect(latencyA.sum).toBeLessThan(10)
    expect(histogram(m, 'kafka_sidecar_delivery_latency_seconds', { app: 'app-b' }).count).toBe(1)
    expect(histogram(m, 'kafka_sidecar_batch_duration_seconds').count).toBe(4)

    expect(value(m, 'kafka_sidecar_queue_bytes')).toBe(0)
    expect(value(m, 'kafka_sidecar_queue_records')).toBe(0)
    expect(value(m, 'kafka_sidecar_batches_in_flight')).toBe(0)
    expect(value(m, 'kafka_sidecar_connected_clients')).toBe(0)
    expect(value(m, 'kafka_sidecar_kafka_connected')).toBe(1)
  })

  it('shows queued records and bytes while they wait, and 0 once delivered', T, async () => {
    const cluster = await startCluster()
    const topic = randomTopic('obs-queue')
    await cluster.createTopic({ topic, partitions: 1 })
    // A long linger keeps the records queued long enough to scrape them.
    const sidecar = await startTestSidecar(cluster, { lingerMs: 1_500 })
    const client = sidecarClient(sidecar)
    const ack = await emit(
      client,
      emitRequest(
        topic,
        Array.from({ length: 10 }, () => ({ value: VALUE })),
        { awaitDelivery: false },
      ),
    )
    expect(ack.received).toBe(true)

    const queued = await scrape(sidecar)
    expect(value(queued, 'kafka_sidecar_queue_records')).toBe(10)
    expect(value(queued, 'kafka_sidecar_queue_bytes')).toBe(10 * 34)
    expect((await cluster.records(topic)).length).toBe(0)

    await waitFor(
      'the lingering records to be delivered',
      async () => (await cluster.records(topic)).length === 10,
      5_000,
    )
    await waitFor(
      'queue_bytes to drop to 0',
      async () => value(await scrape(sidecar), 'kafka_sidecar_queue_bytes') === 0,
      5_000,
    )
    const drained = await scrape(sidecar)
    expect(value(drained, 'kafka_sidecar_queue_records')).toBe(0)
    expect(value(drained, 'kafka_sidecar_records_total', { app: 'test-app', topic, stage: 'acked' })).toBe(10)
  })

  it('counts client instances with an open EmitStream: 2 instances, then 0 after the streams end', T, async () => {
    const cluster = await startCluster()
    const topic = randomTopic('obs-clients')
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)
    expect(value(await scrape(sidecar), 'kafka_sidecar_connected_clients')).toBe(0)

    const streams = [openStream(sidecar), openStream(sidecar)]
    streams.forEach(({ call }) =>
      call.write(emitRequest(topic, [{ value: VALUE }], { instanceId: `instance-${randomUUID()}` })),
    )
    await waitFor('an ack on every stream', () => streams.every((s) => s.acks.length === 1), 5_000)
    for (const s of streams) expect(s.acks[0]).toMatchObject({ received: true, error: undefined })
    expect(value(await scrape(sidecar), 'kafka_sidecar_connected_clients')).toBe(2)

    for (const s of streams) s.call.end()
    for (const s of streams) expect(await s.finished).toBe(status.OK)
    // The server has ended both calls (the client saw their status); give grpc-js's close events a turn.
    await new Promise((r) => setTimeout(r, 50))
    expect(value(await scrape(sidecar), 'kafka_sidecar_connected_clients')).toBe(0)
  })

  it('counts an instance once while any of its streams is open', T, async () => {
    const cluster = await startCluster()
    const topic = randomTopic('obs-clients')
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)

    const shared = `instance-${randomUUID()}`
    const instances = [shared, shared, `instance-${randomUUID()}`]
    const streams = instances.map(() => openStream(sidecar))
    streams.forEach(({ call }, i) => call.write(emitRequest(topic, [{ value: VALUE }], { instanceId: instances[i]! })))
    await waitFor('an ack on every stream', () => streams.every((s) => s.acks.length === 1), 5_000)
    expect(value(await scrape(sidecar), 'kafka_sidecar_connected_clients')).toBe(2)

    const endOne = async (i: number) => {
      streams[i]!.call.end()
      expect(await streams[i]!.finished).toBe(status.OK)
      await new Promise((r) => setTimeout(r, 50))
      return value(await scrape(sidecar), 'kafka_sidecar_connected_clients')
    }
    // One of the shared instance's two streams ends: that instance is still connected.
    expect(await endOne(0)).toBe(2)
    expect(await endOne(1)).toBe(1)
    expect(await endOne(2)).toBe(0)
  })
})

describe('HTTP endpoints', () => {
  it('answers /healthz and /readyz 200 when connected, 404 on an unknown path, 405 on POST', T, async () => {
    const cluster = await startCluster()
    const sidecar = await startTestSidecar(cluster)
    const base = `http://${sidecar.httpAddress}`
    expect(sidecar.httpAddress).toMatch(/^127\.0\.0\.1:\d+$/)

    const healthz = await fetch(`${base}/healthz`)
    expect(healthz.status).toBe(200)
    await healthz.text()
    const readyz = await fetch(`${base}/readyz`)
    expect(readyz.status).toBe(200)
    await readyz.text()
    const query = await fetch(`${base}/readyz?verbose=1`)
    expect(query.status).toBe(200)
    await query.text()
    const unknown = await fetch(`${base}/nope`)
    expect(unknown.status).toBe(404)
    await unknown.text()
    const post = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toMatch(/GET/)
    await post.text()
    const head = await fetch(`${base}/healthz`, { method: 'HEAD' })
    expect(head.status).toBe(200)
  })
})

describe('grpc.health.v1', () => {
  it('Check: SERVING for "" and the sidecar service, NOT_FOUND for an unknown service', T, async () => {
    const cluster = await startCluster()
    const sidecar = await startTestSidecar(cluster)
    const health = healthClient(sidecar)
    expect((await check(health, '')).status).toBe(ServingStatus.SERVING)
    expect((await check(health, 'kafka_sidecar.v1.ProducerSidecar')).status).toBe(ServingStatus.SERVING)
    const error = await check(health, 'no.such.Service').then(
      () => null,
      (e: { code: number }) => e,
    )
    expect(error?.code).toBe(status.NOT_FOUND)
  })

  it('Watch: SERVING, then NOT_SERVING as soon as stop() begins, then the stream ends', T, async () => {
    const cluster = await startCluster()
    const sidecar = await startTestSidecar(cluster)
    const health = healthClient(sidecar)
    const watches: Array<{ seen: ServingStatus[]; ended: Promise<number> }> = []
    for (const service of ['', 'kafka_sidecar.v1.ProducerSidecar']) {
      const seen: ServingStatus[] = []
      const call = health.watch({ service })
      call.on('data', (r: HealthCheckResponse) => seen.push(r.status))
      onTestFinished(() => call.cancel())
      const ended = new Promise<number>((resolve) => call.on('status', (s: { code: number }) => resolve(s.code)))
      call.on('error', () => {})
      await waitFor(`the first Watch(${JSON.stringify(service)}) answer`, () => seen.length >= 1, 5_000)
      expect(seen).toEqual([ServingStatus.SERVING])
      watches.push({ seen, ended })
    }

    const stopping = sidecar.stop()
    await waitFor('NOT_SERVING on every Watch', () => watches.every((w) => w.seen.length >= 2), 5_000)
    for (const w of watches) {
      expect(w.seen).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING])
      expect(await w.ended).toBe(status.OK)
    }
    expect((await stopping).failedRecords).toBe(0)
  })
})

describe('gRPC server reflection', () => {
  it('lists the sidecar and health services to tools such as grpcurl', T, async () => {
    const cluster = await startCluster()
    const sidecar = await startTestSidecar(cluster)
    // The reflection protocol's own .proto ships inside @grpc/reflection.
    const reflectionProto = join(dirname(createRequire(import.meta.url).resolve('@grpc/reflection')), '..', 'proto')
    const definition = loadPackageDefinition(
      loadSync('grpc/reflection/v1/reflection.proto', { includeDirs: [reflectionProto] }),
    ) as unknown as {
      grpc: {
        reflection: {
          v1: {
            ServerReflection: new (
              target: string,
              creds: ReturnType<typeof credentials.createInsecure>,
            ) => GrpcClient & {
              serverReflectionInfo(): ClientDuplexStream<
                unknown,
                { listServicesResponse?: { service: Array<{ name: string }> } }
              >
            }
          }
        }
      }
    }
    const client = new definition.grpc.reflection.v1.ServerReflection(
      grpcTarget(sidecar.address),
      credentials.createInsecure(),
    )
    onTestFinished(() => client.close())
    const call = client.serverReflectionInfo()
    const answer = new Promise<string[]>((resolve, reject) => {
      call.on('data', (response: { listServicesResponse?: { service: Array<{ name: string }> } }) =>
        resolve((response.listServicesResponse?.service ?? []).map((s) => s.name)),
      )
      call.on('error', reject)
    })
    call.write({ listServices: '' })
    const services = await answer
    call.end()
    expect(services).toEqual(expect.arrayContaining(['kafka_sidecar.v1.ProducerSidecar', 'grpc.health.v1.Health']))
  })
})
