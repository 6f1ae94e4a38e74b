/**
 * Hostile input below and beside the generated client, against a real sidecar listening on
 * loopback TCP (bad-input.test.ts covers the same sidecar on its Unix socket through grpc-js):
 * raw bytes on the gRPC and HTTP ports, HTTP/2 frames and gRPC length prefixes that lie, gzip
 * bombs, metadata floods, protobuf written by hand (a million headers, enum numbers no enum has,
 * megabyte-long names), and requests that arrive after shutdown began. Every case asserts the
 * exact answer (gRPC status and message, HTTP/2 error code or HTTP status), and that the sidecar
 * then still serves a good Emit round trip, with nothing of the bad requests written.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { connect as connectHttp2, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2'
import { createConnection, type Socket } from 'node:net'
import { gzipSync } from 'node:zlib'
import { Metadata, status, type ServiceError } from '@grpc/grpc-js'
import type { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import {
  EmitAck,
  type Acks,
  type Compression,
  type DeliveryReportEvent,
  type ProducerSidecarClient,
} from '@kafka-sidecar/proto'
import { LIVENESS_HEADER } from '@kafka-sidecar/proto'
import { describe, expect, it, onTestFinished } from 'vitest'
import {
  fieldBytes,
  randomTopic,
  rawEmitRequest,
  rawRecord,
  startCluster,
  startTestSidecar,
  waitFor,
} from '@kafka-sidecar/test-support'
import type { RunningSidecar, StartOptions } from '../src/index.js'
import { bytes, emit, emitError, emitRequest, sidecarClient } from './helpers.js'
import { TestStream } from './stream-helpers.js'

const SERVICE = '/kafka_sidecar.v1.ProducerSidecar'
const EMIT = `${SERVICE}/Emit`
const EMIT_STREAM = `${SERVICE}/EmitStream`
/** grpc-js's hard cap on a received message: twice the default maxRequestBytes (16 MiB). */
const HARD_CAP = 32 * 1024 * 1024
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')

// HTTP/2 frame types and error codes (RFC 9113).
const SETTINGS = 0x4
const GOAWAY = 0x7
const HEADERS = 0x1
const DATA = 0x0
const INTERNAL_ERROR = 0x2
const FRAME_SIZE_ERROR = 0x6
const COMPRESSION_ERROR = 0x9
const ENHANCE_YOUR_CALM = 0xb

interface Ctx {
  readonly cluster: EmbeddedKafka
  readonly sidecar: RunningSidecar
  readonly port: number
  readonly client: ProducerSidecarClient
  readonly topic: string
  /** Every value the topic holds: good records only. */
  readonly written: string[]
}

async function setup(options: StartOptions = {}): Promise<Ctx> {
  const cluster = await startCluster({ brokers: 1 })
  const topic = randomTopic('hostile')
  await cluster.createTopic({ topic, partitions: 1 })
  const sidecar = await startTestSidecar(cluster, { listen: '127.0.0.1:0', ...options })
  const match = /^127\.0\.0\.1:(\d+)$/.exec(sidecar.address)
  expect(match, sidecar.address).not.toBeNull()
  const ctx: Ctx = { cluster, sidecar, port: Number(match![1]), client: sidecarClient(sidecar), topic, written: [] }
  await expectStillServes(ctx)
  return ctx
}

/**
 * A good Emit round trip (on the long-lived client and on a fresh one), and the topic holds only
 * good records. As a client that waits a minute for pings: reading a hostile request can stall the
 * event loop past the stall guard's threshold on a loaded machine, and a request read right after
 * would be refused as read during a stall (stall-guard.test.ts), which is not what is tested here.
 */
async function expectStillServes(ctx: Ctx): Promise<void> {
  const patient = new Metadata()
  patient.set(LIVENESS_HEADER, '60000')
  for (const client of [ctx.client, sidecarClient(ctx.sidecar)]) {
    const value = `good-${randomUUID()}`
    const ack = await emit(client, emitRequest(ctx.topic, [{ value: bytes(value) }]), patient)
    expect(ack).toEqual(
      expect.objectContaining({
        received: true,
        error: undefined,
        results: [expect.objectContaining({ topic: ctx.topic, partition: 0, error: undefined })],
      }),
    )
    ctx.written.push(value)
  }
  const records = await ctx.cluster.records(ctx.topic)
  expect(records.map((r) => r.value?.toString()).sort()).toEqual([...ctx.written].sort())
}

/** A gRPC length-prefixed message: compressed flag, 4-byte big-endian length, body. */
function grpcMessage(body: Buffer, { compressed = false, length = body.length } = {}): Buffer {
  const prefix = Buffer.alloc(5)
  prefix[0] = compressed ? 1 : 0
  prefix.writeUInt32BE(length, 1)
  return Buffer.concat([prefix, body])
}

// ---- HTTP/2 without grpc-js: node:http2 speaks the transport, the test writes the gRPC bytes ----

interface H2Answer {
  /** HTTP :status, when response headers came. */
  readonly httpStatus?: number
  readonly grpcStatus?: string
  readonly grpcMessage?: string
  /** Milliseconds from sending to the response headers (or the reset). */
  readonly answeredInMs: number
  /** RST_STREAM code when the server reset the stream. */
  readonly rstCode?: number
  readonly data: Buffer
}

function h2Session(ctx: Ctx): ClientHttp2Session {
  const session = connectHttp2(`http://127.0.0.1:${ctx.port}`)
  session.on('error', () => {})
  onTestFinished(() => void session.destroy())
  return session
}

/**
 * One gRPC call written by hand: POST `path` with gRPC headers (plus `headers`), the body bytes,
 * and END_STREAM unless `end` is false. Resolves with the answer once the status (or a reset) is in.
 */
function h2Call(
  ctx: Ctx,
  path: string,
  body: Buffer,
  { headers = {}, end = true }: { headers?: Record<string, string>; end?: boolean } = {},
): Promise<H2Answer> {
  const session = h2Session(ctx)
  const started = Date.now()
  const request = session.request(
    { ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers },
    { endStream: false },
  )
  const chunks: Buffer[] = []
  return new Promise((resolve) => {
    let response: IncomingHttpHeaders | undefined
    let answeredInMs: number | undefined
    const done = (trailers?: IncomingHttpHeaders) => {
      const statusHeaders = trailers ?? response ?? {}
      const message = statusHeaders['grpc-message']
      resolve({
        httpStatus: response?.[':status'] as number | undefined,
        grpcStatus:
          statusHeaders['grpc-status'] === undefined
            ? undefined
            : (status[Number(statusHeaders['grpc-status'])] ?? String(statusHeaders['grpc-status'])),
        grpcMessage: typeof message === 'string' ? decodeURIComponent(message) : undefined,
        answeredInMs: answeredInMs ?? Date.now() - started,
        rstCode: request.rstCode,
        data: Buffer.concat(chunks),
      })
      session.destroy()
    }
    request.on('response', (h) => {
      response = h
      answeredInMs = Date.now() - started
      // A trailers-only answer (status in the response headers) ends the exchange.
      if (h['grpc-status'] !== undefined || h[':status'] !== 200) done()
    })
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('trailers', (t) => done(t))
    request.on('error', () => {})
    request.on('close', () => done())
    if (end) request.end(body)
    else request.write(body)
  })
}

// ---- raw sockets ----

interface Frame {
  readonly type: number
  /** For GOAWAY: the error code. */
  readonly errorCode?: number
}

/** HTTP/2 frames (9-byte header: 24-bit length, type, flags, stream id) in what the server sent. */
function frames(data: Buffer): Frame[] {
  const out: Frame[] = []
  for (let at = 0; at + 9 <= data.length; at += 9 + data.readUIntBE(at, 3)) {
    const type = data[at + 3]!
    out.push(type === GOAWAY && at + 17 <= data.length ? { type, errorCode: data.readUInt32BE(at + 13) } : { type })
  }
  return out
}

function frame(type: number, flags: number, streamId: number, payload: Buffer, claimedLength = payload.length): Buffer {
  const header = Buffer.alloc(9)
  header.writeUIntBE(claimedLength, 0, 3)
  header[3] = type
  header[4] = flags
  header.writeUInt32BE(streamId, 5)
  return Buffer.concat([header, payload])
}

async function openSocket(
  port: number,
  host = '127.0.0.1',
): Promise<Socket & { received(): Buffer; whenClosed: Promise<void> }> {
  const socket = createConnection(port, host)
  onTestFinished(() => void socket.destroy())
  const chunks: Buffer[] = []
  socket.on('data', (chunk: Buffer) => chunks.push(chunk))
  socket.on('error', () => {})
  const whenClosed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  await once(socket, 'connect')
  return Object.assign(socket, { received: () => Buffer.concat(chunks), whenClosed })
}

/** Resolves true once the peer closed the socket, false if `ms` passed first. */
async function closedWithin(socket: { whenClosed: Promise<void> }, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const result = await Promise.race([
    socket.whenClosed.then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ])
  clearTimeout(timer)
  return result
}

describe('raw bytes on the gRPC TCP port', () => {
  it.each([
    ['4 KiB of random bytes', () => randomBytes(4096)],
    ['a TLS ClientHello (a client configured for TLS)', () => Buffer.from('16030100a5010000a10303', 'hex')],
    ['an HTTP/1.1 request', () => Buffer.from('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n')],
    // Not random: a random first frame header could by chance be a SETTINGS frame (another error).
    [
      'the HTTP/2 preface followed by text',
      () => Buffer.concat([PREFACE, Buffer.from('this is not an HTTP/2 frame. '.repeat(100))]),
    ],
  ])(
    'answers %s with GOAWAY (INTERNAL_ERROR: how node:http2 reports a broken preface), closes the connection, and keeps serving',
    async (_name, payload) => {
      const ctx = await setup()
      const socket = await openSocket(ctx.port)
      socket.write(payload())
      expect(await closedWithin(socket, 5_000), 'the sidecar closes the connection').toBe(true)
      expect(frames(socket.received())).toEqual([{ type: SETTINGS }, { type: GOAWAY, errorCode: INTERNAL_ERROR }])
      await expectStillServes(ctx)
    },
  )

  it('answers malformed frames after a valid preface with the HTTP/2 error that names them, and keeps serving', async () => {
    const ctx = await setup()
    const emptySettings = frame(SETTINGS, 0, 0, Buffer.alloc(0))
    const cases = [
      // A DATA frame header claiming 16 MiB, beyond SETTINGS_MAX_FRAME_SIZE (16 KiB): nothing past the header is read.
      {
        name: 'a 16 MiB frame',
        bytes: Buffer.concat([PREFACE, emptySettings, frame(DATA, 0, 1, Buffer.alloc(16), 0xffffff)]),
        errorCode: FRAME_SIZE_ERROR,
      },
      {
        name: 'a SETTINGS frame of 16 MiB',
        bytes: Buffer.concat([PREFACE, frame(SETTINGS, 0, 0, Buffer.alloc(0), 0xffffff)]),
        errorCode: FRAME_SIZE_ERROR,
      },
      // A HEADERS frame whose header block is not HPACK (0xff...: an index far beyond any table).
      {
        name: 'a HEADERS frame of garbage HPACK',
        bytes: Buffer.concat([PREFACE, emptySettings, frame(HEADERS, 0x4, 1, Buffer.alloc(16, 0xff))]),
        errorCode: COMPRESSION_ERROR,
      },
    ]
    for (const { name, bytes: payload, errorCode } of cases) {
      const socket = await openSocket(ctx.port)
      socket.write(payload)
      await waitFor(`${name}: GOAWAY`, () => frames(socket.received()).some((f) => f.type === GOAWAY))
      expect(frames(socket.received()), name).toEqual([{ type: SETTINGS }, { type: GOAWAY, errorCode }])
      // Node's HTTP/2 server says GOAWAY but leaves closing to the client; the sidecar's idle
      // timeout (KAFKA_SIDECAR_CONNECTION_IDLE_MS, tested below) closes it later. What matters
      // here is that nobody else notices while it stays open.
      await expectStillServes(ctx)
    }
  })

  it('keeps serving while 200 connections hang: half a preface, or a GOAWAY they never close', async () => {
    const ctx = await setup()
    const hung = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const socket = await openSocket(ctx.port)
        socket.write(
          i % 2 === 0
            ? PREFACE.subarray(0, 10)
            : Buffer.concat([PREFACE, frame(SETTINGS, 0, 0, Buffer.alloc(0), 0xffffff)]),
        )
        return socket
      }),
    )
    const started = Date.now()
    await expectStillServes(ctx)
    expect(Date.now() - started, 'two Emit round trips and a read of the topic').toBeLessThan(2_000)
    expect(hung.filter((s) => s.destroyed)).toEqual([])
    for (const socket of hung) socket.destroy()
    await expectStillServes(ctx)
  })
})

describe('connections nobody uses (KAFKA_SIDECAR_CONNECTION_IDLE_MS)', () => {
  it('closes broken and half-open connections after the idle time, and leaves a connection with a live stream alone', async () => {
    const ctx = await setup({ connectionIdleMs: 1_000 })
    const broken = await openSocket(ctx.port)
    broken.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0, Buffer.alloc(0), 0xffffff)]))
    await waitFor('GOAWAY', () => frames(broken.received()).some((f) => f.type === GOAWAY))
    const halfPreface = await openSocket(ctx.port)
    halfPreface.write(PREFACE.subarray(0, 10))
    // A client holding an EmitStream open (as a producer does) keeps its connection past the idle time.
    const streaming = new TestStream(sidecarClient(ctx.sidecar))
    expect((await streaming.send(emitRequest(ctx.topic, [{ value: bytes('before') }]))).received).toBe(true)

    const started = Date.now()
    expect(await closedWithin(broken, 5_000), 'the connection that got GOAWAY').toBe(true)
    expect(await closedWithin(halfPreface, 5_000), 'the connection with half a preface').toBe(true)
    expect(Date.now() - started).toBeGreaterThanOrEqual(300) // by the idle timer, not at once
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    expect((await streaming.send(emitRequest(ctx.topic, [{ value: bytes('after') }]))).received).toBe(true)
    ctx.written.push('before', 'after')
    await expectStillServes(ctx)
  })
})

describe('gRPC messages that lie about themselves (written with node:http2)', () => {
  it('answers a length prefix claiming 2 GiB (and 4 GiB) at once with RESOURCE_EXHAUSTED, without waiting for the body', async () => {
    const ctx = await setup()
    for (const length of [0x7fffffff, 0xffffffff]) {
      // Only the 5-byte prefix and 16 bytes, stream left open: a server that waited for the
      // promised bytes (or allocated them) would not answer.
      const answer = await h2Call(ctx, EMIT, grpcMessage(Buffer.alloc(16), { length }), { end: false })
      expect(answer).toMatchObject({
        httpStatus: 200,
        grpcStatus: 'RESOURCE_EXHAUSTED',
        grpcMessage: `Received message larger than max (${length} vs ${HARD_CAP})`,
      })
      expect(answer.answeredInMs).toBeLessThan(1_000)
    }
    await expectStillServes(ctx)
  })

  it('answers a truncated message (the stream ends inside it) with INVALID_ARGUMENT saying so (grpc-js alone: UNIMPLEMENTED)', async () => {
    const ctx = await setup()
    const whole = grpcMessage(rawEmitRequest(ctx.topic, [rawRecord('truncated')]))
    for (const cut of [3, 10, whole.length - 1]) {
      const answer = await h2Call(ctx, EMIT, whole.subarray(0, cut))
      expect(answer, `cut after ${cut} of ${whole.length} bytes`).toMatchObject({
        grpcStatus: 'INVALID_ARGUMENT',
        grpcMessage: `${EMIT} needs one request message and the call ended without a whole one (truncated, or none sent)`,
      })
    }
    // The same bytes, whole, are a good request: the refusals above were about the truncation.
    const ok = await h2Call(ctx, EMIT, whole)
    expect(ok).toMatchObject({ grpcStatus: 'OK' })
    ctx.written.push('truncated')
    await expectStillServes(ctx)
  })

  it('on EmitStream, a message truncated by the end of the stream is dropped: complete ones before it are acked', async () => {
    const ctx = await setup()
    const first = grpcMessage(rawEmitRequest(ctx.topic, [rawRecord('stream-complete')]))
    const cut = grpcMessage(rawEmitRequest(ctx.topic, [rawRecord('stream-cut')])).subarray(0, 20)
    const answer = await h2Call(ctx, EMIT_STREAM, Buffer.concat([first, cut]))
    expect(answer.grpcStatus).toBe('OK')
    // Exactly one ack, for the complete message.
    expect(answer.data.readUInt32BE(1)).toBe(answer.data.length - 5)
    expect(EmitAck.decode(answer.data.subarray(5))).toEqual(
      expect.objectContaining({
        requestId: 1,
        received: true,
        error: undefined,
        results: [expect.objectContaining({ topic: ctx.topic, error: undefined })],
      }),
    )
    ctx.written.push('stream-complete')
    await expectStillServes(ctx)
  })

  it('answers two messages on unary Emit with INVALID_ARGUMENT naming the second message, writing neither', async () => {
    const ctx = await setup()
    const message = grpcMessage(rawEmitRequest(ctx.topic, [rawRecord('twice')]))
    const answer = await h2Call(ctx, EMIT, Buffer.concat([message, message]))
    expect(answer).toMatchObject({
      grpcStatus: 'INVALID_ARGUMENT',
      grpcMessage: `${EMIT} takes exactly one request message; the call sent a second`,
    })
    await expectStillServes(ctx)
  })

  it('answers a gzip bomb (100 MiB of zeros in ~100 KiB) with RESOURCE_EXHAUSTED, stopping at the cap', async () => {
    const ctx = await setup()
    const bomb = gzipSync(Buffer.alloc(100 * 1024 * 1024))
    expect(bomb.length).toBeLessThan(200 * 1024)
    const answer = await h2Call(ctx, EMIT, grpcMessage(bomb, { compressed: true }), {
      headers: { 'grpc-encoding': 'gzip' },
    })
    expect(answer).toMatchObject({
      grpcStatus: 'RESOURCE_EXHAUSTED',
      grpcMessage: `Received message that decompresses to a size larger than ${HARD_CAP}`,
    })
    expect(answer.answeredInMs).toBeLessThan(3_000)
    await expectStillServes(ctx)
  })

  it('answers compressed bytes that are not gzip with INTERNAL "Failed to decompress message", and an unknown encoding with UNIMPLEMENTED', async () => {
    const ctx = await setup()
    const notGzip = await h2Call(ctx, EMIT, grpcMessage(randomBytes(64), { compressed: true }), {
      headers: { 'grpc-encoding': 'gzip' },
    })
    expect(notGzip).toMatchObject({ grpcStatus: 'INTERNAL', grpcMessage: 'Failed to decompress message' })
    const unknown = await h2Call(
      ctx,
      EMIT,
      grpcMessage(rawEmitRequest(ctx.topic, [rawRecord('x')]), { compressed: true }),
      { headers: { 'grpc-encoding': 'brotli9' } },
    )
    expect(unknown).toMatchObject({
      grpcStatus: 'UNIMPLEMENTED',
      grpcMessage: 'Received message compressed with unsupported encoding "brotli9"',
    })
    await expectStillServes(ctx)
  })

  it('answers a wrong content-type with HTTP 415, an unknown method with UNIMPLEMENTED, a bad grpc-timeout with INTERNAL', async () => {
    const ctx = await setup()
    const body = grpcMessage(rawEmitRequest(ctx.topic, [rawRecord('x')]))
    expect(await h2Call(ctx, EMIT, body, { headers: { 'content-type': 'application/json' } })).toMatchObject({
      httpStatus: 415,
      grpcStatus: undefined,
    })
    expect(await h2Call(ctx, `${SERVICE}/Delete`, body)).toMatchObject({
      grpcStatus: 'UNIMPLEMENTED',
      grpcMessage: `The server does not implement the method ${SERVICE}/Delete`,
    })
    expect(await h2Call(ctx, '/no.such.Service/Emit', body)).toMatchObject({
      grpcStatus: 'UNIMPLEMENTED',
      grpcMessage: 'The server does not implement the method /no.such.Service/Emit',
    })
    expect(await h2Call(ctx, EMIT, body, { headers: { 'grpc-timeout': 'banana' } })).toMatchObject({
      grpcStatus: 'INTERNAL',
      grpcMessage: 'Invalid grpc-timeout value "banana"',
    })
    await expectStillServes(ctx)
  })

  it('resets a request with 2,000 metadata entries (ENHANCE_YOUR_CALM), and one with a 1 MB metadata value', async () => {
    const ctx = await setup()
    const many = Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`x-flood-${i}`, 'v']))
    const flooded = await h2Call(ctx, EMIT, grpcMessage(rawEmitRequest(ctx.topic, [rawRecord('flood')])), {
      headers: many,
    })
    expect(flooded).toMatchObject({ httpStatus: undefined, rstCode: ENHANCE_YOUR_CALM })

    const big = new Metadata()
    big.set('x-big', 'a'.repeat(1_000_000))
    const error = await emitError(ctx.client, emitRequest(ctx.topic, [{ value: bytes('big metadata') }]), big)
    expect({ code: status[error.code], details: error.details }).toEqual({
      code: 'INTERNAL',
      details: `Received RST_STREAM with code ${COMPRESSION_ERROR}`,
    })
    await expectStillServes(ctx)
  })
})

describe('protobuf written by hand', () => {
  it('refuses a record with a million headers (5 MB, default limits) by name, in well under a second of work', async () => {
    const ctx = await setup()
    const header = fieldBytes(3, fieldBytes(1, Buffer.from('h')))
    const body = rawEmitRequest(ctx.topic, [
      rawRecord('x', { headers: Buffer.concat(Array.from({ length: 1_000_000 }, () => header)) }),
    ])
    expect(body.length).toBeGreaterThan(5_000_000)
    // As a client that waits a minute for pings: this test is about the header limit, and on a
    // loaded machine reading 5 MB can stall the event loop past the stall guard's default
    // threshold (1 s), which would refuse it as read during a stall instead (stall-guard.test.ts).
    const answer = await h2Call(ctx, EMIT, grpcMessage(body), { headers: { [LIVENESS_HEADER]: '60000' } })
    expect(answer).toMatchObject({
      grpcStatus: 'INVALID_ARGUMENT',
      grpcMessage: 'record 0 has 1000000 headers, the limit is 10000',
    })
    expect(answer.answeredInMs).toBeLessThan(3_000)
    await expectStillServes(ctx)
  })

  it.each([
    [
      'acks -1 (KafkaJS\'s own number for "all", a 10-byte varint)',
      { acks: -1 },
      'unknown acks value -1 (expected ACKS_ALL, ACKS_LEADER or ACKS_NONE)',
      'INVALID_REQUIRED_ACKS',
    ],
    [
      'acks 2^31-1',
      { acks: 2 ** 31 - 1 },
      'unknown acks value 2147483647 (expected ACKS_ALL, ACKS_LEADER or ACKS_NONE)',
      'INVALID_REQUIRED_ACKS',
    ],
    ['compression -1', { compression: -1 }, 'unknown compression value -1', 'UNSUPPORTED_COMPRESSION_TYPE'],
    [
      'compression 2^31-1',
      { compression: 2 ** 31 - 1 },
      'unknown compression value 2147483647',
      'UNSUPPORTED_COMPRESSION_TYPE',
    ],
  ])('refuses the enum number %s by name', async (_name, fields, message, kafkaError) => {
    const ctx = await setup()
    const answer = await h2Call(ctx, EMIT, grpcMessage(rawEmitRequest(ctx.topic, [rawRecord('x')], fields)))
    expect(answer).toMatchObject({ grpcStatus: 'INVALID_ARGUMENT', grpcMessage: message })
    // The Kafka error rides in the trailers of a grpc-js client's call; check it there too.
    const error = await emitError(
      ctx.client,
      emitRequest(ctx.topic, [{ value: bytes('x') }], fields as { acks?: Acks; compression?: Compression }),
    )
    expect(error.metadata.get('kafka-error-name')).toEqual([kafkaError])
    await expectStillServes(ctx)
  })

  it('refuses megabyte-long topic names and keeps /metrics small: client-sent label values are bounded', async () => {
    // Each refused request counts its records under its topic and app labels, and a series lives
    // as long as the process: before labels were bounded, ten 1 MB names left 20 MB in /metrics.
    const ctx = await setup()
    for (let i = 0; i < 10; i++) {
      const topic = `${randomBytes(4).toString('hex')}${'x'.repeat(1_000_000)}`
      const error = await emitError(
        ctx.client,
        emitRequest(topic, [{ value: bytes('x') }], { appName: `app-${i}-${'y'.repeat(1_000_000)}` }),
      )
      expect({ code: status[error.code], details: error.details }).toEqual({
        code: 'INVALID_ARGUMENT',
        details: 'invalid topic: topic name is 1000008 characters, the limit is 249',
      })
    }
    const metrics = await (await fetch(`http://${ctx.sidecar.httpAddress}/metrics`)).text()
    expect(metrics.length, '/metrics size').toBeLessThan(200_000)
    const rejected = metrics
      .split('\n')
      .filter((line) => line.startsWith('kafka_sidecar_records_total{') && line.includes('stage="rejected"'))
    expect(rejected).toHaveLength(10)
    for (const line of rejected)
      expect(line).toMatch(
        /^kafka_sidecar_records_total\{app="app-\d-y{58}…\(truncated\)",topic="[0-9a-f]{8}x{56}…\(truncated\)",stage="rejected"\} 1$/,
      )
    await expectStillServes(ctx)
  })

  it('bounds how many app names and refused topic names become series: past 200 each, one shared series', async () => {
    const ctx = await setup()
    const client = ctx.client
    // 250 requests, each from a new app name to a new invalid topic: a client (buggy or hostile)
    // minting label values per request.
    for (let i = 0; i < 250; i++) {
      const error = await emitError(
        client,
        emitRequest(`bad topic ${i}!`, [{ value: bytes('x') }], { appName: `app-${i}` }),
      )
      expect(status[error.code]).toBe('INVALID_ARGUMENT')
    }
    const metrics = await (await fetch(`http://${ctx.sidecar.httpAddress}/metrics`)).text()
    const rejected = metrics
      .split('\n')
      .filter((line) => line.startsWith('kafka_sidecar_records_total{') && line.includes('stage="rejected"'))
    const apps = new Set(rejected.map((line) => /app="([^"]*)"/.exec(line)![1]))
    const topics = new Set(rejected.map((line) => /topic="([^"]*)"/.exec(line)![1]))
    // setup() already used one app name for its good requests.
    expect(apps.size).toBeLessThanOrEqual(201)
    expect(apps).toContain('(other apps)')
    expect(topics.size).toBe(201)
    expect(topics).toContain('(other refused topics)')
    const overflow = rejected
      .filter((line) => line.includes('topic="(other refused topics)"'))
      .reduce((n, line) => n + Number(line.split(' ').at(-1)), 0)
    expect(overflow).toBe(50)
    await expectStillServes(ctx)
  })
})

describe('garbage on the HTTP port', () => {
  async function httpExchange(ctx: Ctx, payload: Buffer): Promise<string> {
    const at = ctx.sidecar.httpAddress!.lastIndexOf(':')
    const socket = await openSocket(
      Number(ctx.sidecar.httpAddress!.slice(at + 1)),
      ctx.sidecar.httpAddress!.slice(0, at),
    )
    socket.write(payload)
    expect(await closedWithin(socket, 5_000), 'the HTTP server closes the connection').toBe(true)
    return socket.received().toString('latin1')
  }

  it('answers a 20 KB header with 431 and an HTTP/2 preface (h2c prior knowledge) with 400, and keeps serving', async () => {
    const ctx = await setup()
    expect(
      await httpExchange(ctx, Buffer.from(`GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)),
    ).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/)
    expect(await httpExchange(ctx, Buffer.concat([PREFACE, frame(SETTINGS, 0, 0, Buffer.alloc(0))]))).toMatch(
      /^HTTP\/1\.1 400 Bad Request\r\n/,
    )
    const healthz = await fetch(`http://${ctx.sidecar.httpAddress}/healthz`)
    expect(healthz.status).toBe(200)
    await expectStillServes(ctx)
  })
})

describe('TopicMetadata while the brokers are unreachable', () => {
  it("is refused at once with UNAVAILABLE, as Emit is (it used to wait out the admin client's retries)", async () => {
    const ctx = await setup({ kafkaProbeIntervalMs: 100 })
    await ctx.cluster.stopBrokers()
    await waitFor(
      'the sidecar not ready',
      async () =>
        (await ctx.sidecar.metrics.registry.getSingleMetric('kafka_sidecar_kafka_connected')!.get()).values[0]
          ?.value === 0,
    )
    const asked = Date.now()
    const meta = await new Promise<ServiceError | null>((resolve) =>
      ctx.client.topicMetadata({ topic: ctx.topic }, new Metadata(), { deadline: Date.now() + 10_000 }, (error) =>
        resolve(error),
      ),
    )
    expect(
      meta && { code: status[meta.code], details: meta.details, retriable: meta.metadata.get('retriable') },
    ).toEqual({
      code: 'UNAVAILABLE',
      details: 'sidecar is not connected to Kafka (not yet, or the brokers stopped answering)',
      retriable: ['true'],
    })
    expect(Date.now() - asked).toBeLessThan(500)
  })
})

describe('requests after shutdown began (a busy sidecar: its server is still up while it drains)', () => {
  /** Stops the brokers and gets one record accepted and stuck in flight, so stop() drains for shutdownTimeoutMs. */
  async function busySidecar(): Promise<Ctx & { stuck: Promise<EmitAck | ServiceError> }> {
    const ctx = await setup({ shutdownTimeoutMs: 1_500 })
    await ctx.cluster.stopBrokers()
    const stuck = emit(ctx.client, emitRequest(ctx.topic, [{ value: bytes('stuck') }])).then(
      (ack) => ack,
      (error: ServiceError) => error,
    )
    await waitFor(
      'the stuck record in flight',
      async () =>
        (await ctx.sidecar.metrics.registry.getSingleMetric('kafka_sidecar_batches_in_flight')!.get()).values[0]
          ?.value === 1,
    )
    return { ...ctx, stuck }
  }

  it('EmitStream opened before: a request written after stop() began is acked UNAVAILABLE "shutting down", retriable', async () => {
    const ctx = await busySidecar()
    const call = ctx.client.emitStream()
    onTestFinished(() => call.cancel())
    const acks: EmitAck[] = []
    call.on('data', (ack: EmitAck) => acks.push(ack))
    call.on('error', () => {})
    const ended = new Promise<void>((resolve) => call.on('end', () => resolve()))
    // The stream is open before shutdown: a first (bad) request gets its ack.
    const before = emitRequest('bad topic!', [{ value: bytes('x') }])
    call.write(before)
    await waitFor('the first ack', () => acks.length === 1)
    const stopped = ctx.sidecar.stop()
    const late = emitRequest(ctx.topic, [{ value: bytes('late') }])
    call.write(late)
    await waitFor('the late ack', () => acks.length === 2)
    expect(acks[1]).toEqual({
      requestId: late.requestId,
      received: false,
      results: [],
      error: expect.objectContaining({
        grpcCode: status.UNAVAILABLE,
        message: 'sidecar is not accepting requests: shutting down',
        retriable: true,
      }),
    })
    await stopped
    await ended
    await ctx.stuck
    expect((await ctx.cluster.records(ctx.topic)).map((r) => r.value?.toString())).not.toContain('late')
  }, 15_000)

  it('TopicMetadata and DeliveryReports asked after stop() began get a clean answer, and stop() still finishes in time', async () => {
    const ctx = await busySidecar()
    const stopStarted = Date.now()
    const stopped = ctx.sidecar.stop()
    // Refused at once like Emit (it used to wait for the stopped brokers until the forced
    // shutdown cut it off with CANCELLED).
    const asked = Date.now()
    const meta = await new Promise<ServiceError | null>((resolve) =>
      ctx.client.topicMetadata({ topic: ctx.topic }, new Metadata(), { deadline: Date.now() + 5_000 }, (error) =>
        resolve(error),
      ),
    )
    expect(
      meta && { code: status[meta.code], details: meta.details, retriable: meta.metadata.get('retriable') },
    ).toEqual({ code: 'UNAVAILABLE', details: 'sidecar is not accepting requests: shutting down', retriable: ['true'] })
    expect(Date.now() - asked).toBeLessThan(500)

    const reports = ctx.client.deliveryReports(
      { instanceId: `instance-${randomUUID()}`, afterSequence: 0 },
      new Metadata(),
      { deadline: Date.now() + 10_000 },
    )
    onTestFinished(() => reports.cancel())
    const events: DeliveryReportEvent[] = []
    reports.on('data', (event: DeliveryReportEvent) => events.push(event))
    const outcome = new Promise<string>((resolve) => {
      reports.on('error', (error: ServiceError) => resolve(status[error.code] ?? String(error.code)))
      reports.on('end', () => resolve('end'))
    })
    expect(await stopped).toEqual({ failedRecords: 1, flushedInTime: false })
    // 1.5 s drain + 1 s in-flight grace + at most 2 s for streams to end.
    expect(Date.now() - stopStarted).toBeLessThan(6_000)
    expect(['end', 'UNAVAILABLE', 'CANCELLED']).toContain(await outcome)
    expect(events).toEqual([])
    await ctx.stuck
  }, 15_000)
})
