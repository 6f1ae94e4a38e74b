/**
 * A DeliveryReports reader that stops reading must cost the sidecar nothing beyond its ring: the
 * sidecar pauses that stream (HTTP/2 flow control pushes back), reports overwritten meanwhile come
 * back as one explicit gap when the reader resumes, every other client's Emit acks stay as fast as
 * without the stuck reader, other readers get every report live, and shutdown is not held up.
 *
 * The stuck reader speaks HTTP/2 through node:http2 and really stops reading (its stream is
 * paused, so its flow-control window closes). A grpc-js client that merely stops consuming is not
 * such a reader: grpc-js keeps reading the socket and buffers on its own side (measured here too),
 * which moves the memory into the reader's process, not the sidecar's.
 */
import { randomUUID } from 'node:crypto'
import { connect as connectHttp2, type ClientHttp2Stream } from 'node:http2'
import { createConnection, type Socket } from 'node:net'
import { credentials, type ServiceError } from '@grpc/grpc-js'
import type { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import { DeliveryReportEvent, DeliveryReportsRequest, ProducerSidecarClient } from '@kafka-sidecar/proto'
import { describe, expect, it, onTestFinished } from 'vitest'
import { grpcTarget, randomTopic, startCluster, startTestSidecar, waitFor } from '@kafka-sidecar/test-support'
import type { RunningSidecar } from '../src/index.js'
import { bytes, emit, emitRequest } from './helpers.js'
import { collectReports, TestStream } from './stream-helpers.js'

const RING = 100
/** Reports produced for a reader while it is stuck: 40 rings' worth. */
const FLOOD = 4_000

interface World {
  readonly cluster: EmbeddedKafka
  readonly sidecar: RunningSidecar
  readonly topic: string
  /** A client on its own connection, as another process of the pod would be. */
  client(): ProducerSidecarClient
}

async function world(): Promise<World> {
  const cluster = await startCluster({ brokers: 1 })
  const topic = randomTopic('reports')
  await cluster.createTopic({ topic, partitions: 2 })
  const sidecar = await startTestSidecar(cluster, { reportsPerInstance: RING })
  const client = () => {
    // A local subchannel pool: a connection of its own, not shared with the test's other clients.
    const c = new ProducerSidecarClient(grpcTarget(sidecar.address), credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
    })
    onTestFinished(() => c.close())
    return c
  }
  return { cluster, sidecar, topic, client }
}

/** A DeliveryReports call over node:http2, paused from the start: it never reads until resumed. */
function stuckReader(
  sidecar: RunningSidecar,
  instanceId: string,
): { stream: ClientHttp2Stream; resume(): DeliveryReportEvent[] } {
  const session = connectHttp2('http://localhost', { createConnection: () => connectUnix(sidecar) })
  session.on('error', () => {})
  onTestFinished(() => void session.destroy())
  const stream = session.request({
    ':method': 'POST',
    ':path': '/kafka_sidecar.v1.ProducerSidecar/DeliveryReports',
    'content-type': 'application/grpc',
    te: 'trailers',
  })
  stream.on('error', () => {})
  stream.pause()
  const body = Buffer.from(DeliveryReportsRequest.encode({ instanceId, afterSequence: 0 }).finish())
  const prefix = Buffer.alloc(5)
  prefix.writeUInt32BE(body.length, 1)
  stream.end(Buffer.concat([prefix, body]))
  return {
    stream,
    resume() {
      const events: DeliveryReportEvent[] = []
      let pending = Buffer.alloc(0)
      stream.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk])
        while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
          const length = pending.readUInt32BE(1)
          events.push(DeliveryReportEvent.decode(pending.subarray(5, 5 + length)))
          pending = pending.subarray(5 + length)
        }
      })
      stream.resume()
      return events
    },
  }
}

/** node:http2 over the sidecar's Unix socket. */
function connectUnix(sidecar: RunningSidecar): Socket {
  return createConnection(sidecar.address.slice('unix://'.length))
}

/** Sends FLOOD single-record requests for `instanceId` on one stream (not awaiting delivery): FLOOD reports. */
async function flood(client: ProducerSidecarClient, topic: string, instanceId: string): Promise<void> {
  const stream = new TestStream(client)
  const acks = await Promise.all(
    Array.from({ length: FLOOD }, (_, i) =>
      stream.send(
        emitRequest(topic, [{ value: bytes(`flood-${i}`), partition: 0 }], { instanceId, awaitDelivery: false }),
      ),
    ),
  )
  expect(acks.every((a) => a.received)).toBe(true)
  await stream.end()
}

interface Latencies {
  readonly count: number
  readonly p50: number
  readonly p99: number
  readonly max: number
}

/** Emit round trips (awaiting delivery) one after another until `until` settles; their latencies in ms. */
async function emitLatencies(
  client: ProducerSidecarClient,
  topic: string,
  instanceId: string,
  until: Promise<unknown>,
): Promise<Latencies> {
  let done = false
  void until.finally(() => (done = true))
  const samples: number[] = []
  while (!done || samples.length < 50) {
    const started = performance.now()
    const ack = await emit(client, emitRequest(topic, [{ value: bytes('other'), partition: 1 }], { instanceId }))
    samples.push(performance.now() - started)
    expect(ack.results[0]?.error).toBeUndefined()
  }
  samples.sort((a, b) => a - b)
  const at = (q: number) => Math.round(samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]! * 10) / 10
  return { count: samples.length, p50: at(0.5), p99: at(0.99), max: at(1) }
}

async function gauge(sidecar: RunningSidecar, name: string): Promise<number | undefined> {
  return (await sidecar.metrics.registry.getSingleMetric(name)!.get()).values[0]?.value
}

describe('a stuck DeliveryReports reader', () => {
  it('is paused at what flow control holds, then told of the overwritten reports as one gap; other clients are not slowed', async () => {
    const w = await world()
    const flooder = w.client()
    const other = w.client()
    // Warm up (not measured): connections, topic metadata, the JIT, one unread flood.
    const warmFlood = flood(flooder, w.topic, `warm-${randomUUID()}`)
    await emitLatencies(other, w.topic, `warm-${randomUUID()}`, warmFlood)
    await warmFlood

    // A reader that never reads, and a healthy reader of the other client's reports; a flood of
    // reports for the stuck one while the other client emits one request after another.
    const stuckInstance = `stuck-${randomUUID()}`
    const stuck = stuckReader(w.sidecar, stuckInstance)
    const readInstance = `read-${randomUUID()}`
    const healthy = collectReports(other, readInstance, 0)
    await waitFor(
      'both readers subscribed',
      async () => (await gauge(w.sidecar, 'kafka_sidecar_report_subscribers')) === 2,
    )
    const stuckFlood = flood(flooder, w.topic, stuckInstance)
    const withStuck = await emitLatencies(other, w.topic, readInstance, stuckFlood)
    await stuckFlood

    // The healthy reader got a report for every request of its instance, live and in sequence.
    await waitFor('every report of the other instance', () => healthy.events.length === withStuck.count)
    const sequences = healthy.events.map((e) => (e.event?.$case === 'report' ? e.event.value.sequence : -1))
    expect(sequences).toEqual(Array.from({ length: withStuck.count }, (_, i) => i + 1))
    healthy.cancel()

    // The stuck reader resumes: what flow control let through, then one gap, then the ring.
    const events = stuck.resume()
    await waitFor('the stuck reader to catch up', () => {
      const last = events.at(-1)?.event
      return last?.$case === 'report' && last.value.sequence === FLOOD
    })
    const gapAt = events.findIndex((e) => e.event?.$case === 'gap')
    expect(gapAt, 'a gap announces the overwritten reports').toBeGreaterThan(0)
    const gap = events[gapAt]!.event as Extract<DeliveryReportEvent['event'], { $case: 'gap' }>
    const reportSequences = events.flatMap((e) => (e.event?.$case === 'report' ? [e.event.value.sequence] : []))
    // Before the gap: the reports the sidecar handed to the socket before the reader's window
    // closed (a 64 KiB HTTP/2 window of ~50-byte events, plus a few in buffers), not the flood.
    const deliveredBeforeGap = gapAt
    expect(deliveredBeforeGap, 'reports sent before the sidecar paused the stream').toBeLessThan(2_500)
    expect(reportSequences.slice(0, gapAt)).toEqual(Array.from({ length: gapAt }, (_, i) => i + 1))
    expect(gap.value).toEqual(
      expect.objectContaining({
        firstSequence: gapAt + 1,
        lastSequence: FLOOD - RING,
        reason: expect.stringMatching(/ring buffer full/),
      }),
    )
    expect(reportSequences.slice(gapAt)).toEqual(Array.from({ length: RING }, (_, i) => FLOOD - RING + 1 + i))
    // Nothing lost without a word: delivered + announced = produced.
    expect(deliveredBeforeGap + (gap.value.lastSequence - gap.value.firstSequence + 1) + RING).toBe(FLOOD)
    stuck.stream.close()

    // Baseline, after (so warmer, if anything): the same flood and the same healthy reader, with
    // the flooded instance's reports unread instead of stuck.
    const baselineInstance = `read-${randomUUID()}`
    const baselineReader = collectReports(other, baselineInstance, 0)
    await waitFor(
      'the baseline reader subscribed',
      async () => (await gauge(w.sidecar, 'kafka_sidecar_report_subscribers')) === 1,
    )
    const baselineFlood = flood(flooder, w.topic, `unread-${randomUUID()}`)
    const baseline = await emitLatencies(other, w.topic, baselineInstance, baselineFlood)
    await baselineFlood
    await waitFor('every report of the baseline instance', () => baselineReader.events.length === baseline.count)

    // Other clients' acks: as fast as without the stuck reader (same load, same machine, same run).
    expect(withStuck.p50, `p50 ${withStuck.p50} ms vs baseline ${baseline.p50} ms`).toBeLessThanOrEqual(
      2 * baseline.p50 + 5,
    )
    expect(withStuck.p99, `p99 ${withStuck.p99} ms vs baseline ${baseline.p99} ms`).toBeLessThanOrEqual(
      3 * baseline.p99 + 25,
    )

    // Everyone is still served.
    expect(
      (await emit(other, emitRequest(w.topic, [{ value: bytes('after') }], { instanceId: baselineInstance }))).received,
    ).toBe(true)
  }, 30_000)

  it('a grpc-js client that stops consuming is not paused: grpc-js reads on and buffers in the reader process', async () => {
    // Documented for whoever writes a reader with grpc-js: backpressure there is the reader's own
    // memory. The sidecar is unaffected either way; the reader still sees every report it kept up with.
    const w = await world()
    const flooder = w.client()
    const instanceId = `grpc-stuck-${randomUUID()}`
    const reader = w.client().deliveryReports({ instanceId, afterSequence: 0 })
    onTestFinished(() => reader.cancel())
    reader.on('error', () => {})
    await waitFor(
      'the reader subscribed',
      async () => (await gauge(w.sidecar, 'kafka_sidecar_report_subscribers')) === 1,
    )
    await flood(flooder, w.topic, instanceId)
    const events: DeliveryReportEvent[] = []
    reader.on('data', (event: DeliveryReportEvent) => events.push(event))
    await waitFor('every report', () => events.length === FLOOD)
    expect(events.every((e) => e.event?.$case === 'report')).toBe(true)
  }, 30_000)

  it('does not hold up shutdown: stop() ends its stream after the 2 s stream drain and finishes', async () => {
    const w = await world()
    const instanceId = `stuck-${randomUUID()}`
    const stuck = stuckReader(w.sidecar, instanceId)
    await waitFor(
      'the reader subscribed',
      async () => (await gauge(w.sidecar, 'kafka_sidecar_report_subscribers')) === 1,
    )
    await flood(w.client(), w.topic, instanceId)
    const closed = new Promise<void>((resolve) => stuck.stream.on('close', () => resolve()))
    const started = Date.now()
    expect(await w.sidecar.stop()).toEqual({ failedRecords: 0, flushedInTime: true })
    expect(Date.now() - started).toBeLessThan(4_000)
    await closed
    // A new client gets UNAVAILABLE, not a hang.
    const late = await emit(w.client(), emitRequest(w.topic, [{ value: bytes('late') }])).then(
      () => null,
      (error: ServiceError) => error.code,
    )
    expect(late).not.toBeNull()
  }, 30_000)
})
