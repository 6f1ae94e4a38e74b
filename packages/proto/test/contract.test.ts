// The generated contract: what the wire keeps apart (null vs empty, unset vs 0), and that the
// generated grpc-js service definition really serves and calls over a Unix socket.
import { existsSync } from 'node:fs'
import { join } from 'node:path'

import {
  Client,
  Server,
  ServerCredentials,
  credentials,
  status,
  type ServiceError,
  type StatusObject,
} from '@grpc/grpc-js'
import { socketPath } from '@kafka-sidecar/test-support'
import { describe, expect, it, onTestFinished } from 'vitest'

import {
  Acks,
  Compression,
  DeliveryReportEvent,
  EmitAck,
  EmitRequest,
  Header,
  HealthCheckResponse_ServingStatus,
  HealthClient,
  HealthService,
  ProducerSidecarClient,
  ProducerSidecarService,
  SidecarRecord,
  strictReader,
  type DeliveryReportsRequest,
  type HealthServer,
  type ProducerSidecarServer,
} from '../src/index.js'
import { PROTO_DIR, PROTO_FILES } from '../src/proto-files.js'

function roundTrip(record: SidecarRecord): SidecarRecord {
  return SidecarRecord.decode(SidecarRecord.encode(record).finish())
}

describe('codecs: what the wire keeps apart', () => {
  it('keeps a null key/value (unset) apart from an empty one (set, zero bytes)', () => {
    const nulls = roundTrip({ headers: [] })
    expect(nulls.key).toBeUndefined()
    expect(nulls.value).toBeUndefined()
    expect(SidecarRecord.encode({ headers: [] }).finish()).toHaveLength(0)

    const empties = roundTrip({ key: Buffer.alloc(0), value: Buffer.alloc(0), headers: [] })
    expect(empties.key).toBeInstanceOf(Uint8Array) // env=both: bytes decode as Uint8Array views
    expect(empties.key).toHaveLength(0)
    expect(empties.value).toBeInstanceOf(Uint8Array)
    expect(empties.value).toHaveLength(0)

    const tombstone = roundTrip({ key: Buffer.from('k'), headers: [] })
    expect(Buffer.from(tombstone.key!).toString()).toBe('k')
    expect(tombstone.value).toBeUndefined()
  })

  it('keeps repeated header names in order, with null and empty header values apart', () => {
    const headers = [
      { key: 'trace', value: Buffer.from('1') },
      { key: 'flag' }, // null value
      { key: 'trace', value: Buffer.from('2') },
      { key: 'empty', value: Buffer.alloc(0) },
      { key: 'trace', value: Buffer.from('3') },
    ]
    const decoded = roundTrip({ headers })
    expect(decoded.headers.map((h) => h.key)).toEqual(['trace', 'flag', 'trace', 'empty', 'trace'])
    expect(decoded.headers.map((h) => (h.value === undefined ? undefined : Buffer.from(h.value).toString()))).toEqual([
      '1',
      undefined,
      '2',
      '',
      '3',
    ])
    expect(decoded.headers[1]!.value).toBeUndefined()
    expect(decoded.headers[3]!.value).toHaveLength(0)
  })

  it('decodes bytes as views into the message, without copying them', () => {
    const bytes = SidecarRecord.encode({ key: Buffer.from('key'), value: Buffer.from('value'), headers: [] }).finish()
    const decoded = SidecarRecord.decode(bytes)
    expect(decoded.value!.buffer).toBe(bytes.buffer)
    expect(Buffer.from(decoded.value!).toString()).toBe('value')
  })

  it('strictReader refuses strings that are not UTF-8, which the plain decoder would replace', () => {
    const header = Header.encode({ key: 'ab', value: Buffer.from('v') }).finish()
    const bad = Buffer.from(header)
    bad[2] = 0xff // the first byte of the key "ab"
    expect(Header.decode(bad).key).toBe('\uFFFDb')
    expect(() => Header.decode(strictReader(bad))).toThrow('a string field is not valid UTF-8')
    expect(Header.decode(strictReader(Header.encode({ key: 'clé' }).finish())).key).toBe('clé')
  })

  it('tells partition 0 from an unset partition', () => {
    expect(roundTrip({ headers: [], partition: 0 }).partition).toBe(0)
    expect(roundTrip({ headers: [] }).partition).toBeUndefined()
    // proto3 `optional`: 0 is written (field 4, varint 0), not dropped as the default.
    expect([...SidecarRecord.encode({ headers: [], partition: 0 }).finish()]).toEqual([4 << 3, 0])
  })

  it('round-trips int64 timestamps and uint64 request ids as numbers (forceLong=number)', () => {
    const now = 1_763_760_000_123 // > 2^32: needs the high word
    const decoded = roundTrip({ headers: [], timestampMs: now })
    expect(decoded.timestampMs).toBe(now)
    expect(typeof decoded.timestampMs).toBe('number')
    expect(roundTrip({ headers: [], timestampMs: 0 }).timestampMs).toBe(0)
    expect(roundTrip({ headers: [] }).timestampMs).toBeUndefined()
    expect(roundTrip({ headers: [], timestampMs: Number.MAX_SAFE_INTEGER }).timestampMs).toBe(Number.MAX_SAFE_INTEGER)

    const request: EmitRequest = {
      requestId: 2 ** 40 + 7,
      clientId: 'app',
      appName: 'orders',
      instanceId: 'i-1',
      acks: Acks.ACKS_LEADER,
      timeoutMs: 30_000,
      compression: Compression.COMPRESSION_GZIP,
      awaitDelivery: true,
      topics: [
        {
          topic: 't',
          records: [{ key: new Uint8Array(Buffer.from('k')), headers: [], partition: 0, timestampMs: now }],
        },
      ],
      orderEpoch: 2 ** 35 + 1,
    }
    expect(EmitRequest.decode(EmitRequest.encode(request).finish())).toEqual({
      ...request,
      allowAutoTopicCreation: undefined,
    })
  })

  it('keeps a timeout_ms of 0 apart from an unset one: KafkaJS sends timeout 0 to the broker as given', () => {
    const base = {
      requestId: 1,
      clientId: 'a',
      appName: 'a',
      instanceId: 'i',
      acks: Acks.ACKS_ALL,
      compression: Compression.COMPRESSION_NONE,
      awaitDelivery: true,
      topics: [],
    }
    expect(EmitRequest.decode(EmitRequest.encode({ ...base, timeoutMs: 0 }).finish()).timeoutMs).toBe(0)
    expect(EmitRequest.decode(EmitRequest.encode(base).finish()).timeoutMs).toBeUndefined()
  })

  it('decodes a oneof as a { $case, value } union (oneof=unions-value)', () => {
    const event: DeliveryReportEvent = {
      event: { $case: 'gap', value: { firstSequence: 3, lastSequence: 9, reason: 'overflow' } },
    }
    expect(DeliveryReportEvent.decode(DeliveryReportEvent.encode(event).finish())).toEqual(event)
    expect(DeliveryReportEvent.decode(new Uint8Array()).event).toBeUndefined()
  })

  it('PROTO_DIR is an absolute path to the shipped .proto files', () => {
    expect(PROTO_FILES).toEqual([
      'kafka_sidecar/v1/sidecar.proto',
      'kafka_sidecar/v1/consumer.proto',
      'grpc/health/v1/health.proto',
    ])
    for (const file of PROTO_FILES) expect(existsSync(join(PROTO_DIR, file))).toBe(true)
  })
})

/** A grpc-js server on a Unix socket in a fresh temp dir, shut down (and the dir removed) after the test. */
async function startServer(register: (server: Server) => void): Promise<string> {
  const address = `unix:${await socketPath()}`
  const server = new Server()
  register(server)
  onTestFinished(() => server.forceShutdown())
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(address, ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())),
  )
  return address
}

function sidecarClient(address: string): ProducerSidecarClient {
  const client = new ProducerSidecarClient(address, credentials.createInsecure())
  onTestFinished(() => client.close())
  return client
}

function emit(client: ProducerSidecarClient, request: EmitRequest): Promise<EmitAck> {
  return new Promise((resolve, reject) => client.emit(request, (error, ack) => (error ? reject(error) : resolve(ack))))
}

const unimplemented = (): Partial<StatusObject> => ({ code: status.UNIMPLEMENTED, details: 'not in this test' })

/** A ProducerSidecar implementation whose methods all answer UNIMPLEMENTED unless overridden. */
function sidecarImpl(overrides: Partial<ProducerSidecarServer>): ProducerSidecarServer {
  return {
    emit: (_call, callback) => callback(unimplemented()),
    emitStream: (call) => call.emit('error', unimplemented()),
    deliveryReports: (call) => call.emit('error', unimplemented()),
    topicMetadata: (_call, callback) => callback(unimplemented()),
    clusterInfo: (_call, callback) => callback(unimplemented()),
    ...overrides,
  }
}

const request = (requestId: number): EmitRequest =>
  EmitRequest.fromPartial({
    requestId,
    clientId: 'app',
    instanceId: 'i-1',
    topics: [{ topic: 'orders', records: [{ value: Buffer.from('v'), headers: [] }] }],
  })

describe('grpc-js service over a Unix socket', () => {
  it('serves Emit: one request, one ack echoing request_id', async () => {
    const seen: EmitRequest[] = []
    const address = await startServer((server) =>
      server.addService(
        ProducerSidecarService,
        sidecarImpl({
          emit: (call, callback) => {
            seen.push(call.request)
            callback(null, { requestId: call.request.requestId, received: true, results: [] })
          },
        }),
      ),
    )
    const ack = await emit(sidecarClient(address), request(42))
    expect(ack).toEqual({ requestId: 42, received: true, results: [] })
    expect(ack.error).toBeUndefined()
    expect(seen).toHaveLength(1)
    expect(seen[0]!.topics[0]!.records[0]!.value).toEqual(Buffer.from('v'))
    expect(seen[0]!.topics[0]!.records[0]!.key).toBeUndefined()
  })

  it('streams DeliveryReports: a gap, then a report, in order', async () => {
    const gap: DeliveryReportEvent = {
      event: { $case: 'gap', value: { firstSequence: 3, lastSequence: 5, reason: 'ring buffer overflow' } },
    }
    const result = {
      topic: 'orders',
      partition: 0,
      baseOffset: 100,
      logAppendTimeMs: -1,
      logStartOffset: 0,
      recordIndexes: [0, 1],
      leaderId: 2,
    }
    const report: DeliveryReportEvent = { event: { $case: 'report', value: { sequence: 6, requestId: 42, result } } }
    const requests: DeliveryReportsRequest[] = []
    const address = await startServer((server) =>
      server.addService(
        ProducerSidecarService,
        sidecarImpl({
          deliveryReports: (call) => {
            requests.push(call.request)
            call.write(gap)
            call.write(report)
            call.end()
          },
        }),
      ),
    )
    const stream = sidecarClient(address).deliveryReports({ instanceId: 'i-1', afterSequence: 2 })
    const events: DeliveryReportEvent[] = []
    for await (const event of stream) events.push(event as DeliveryReportEvent)
    expect(events.map((e) => e.event?.$case)).toEqual(['gap', 'report'])
    expect(events).toEqual([gap, report])
    expect(requests).toEqual([{ instanceId: 'i-1', afterSequence: 2 }])
    const second = events[1]!.event
    if (second?.$case !== 'report') throw new Error('expected a report')
    expect(second.value.result?.partition).toBe(0) // a message field: optional in the type (useOptionals=messages)
  })

  it('serves grpc.health.v1 Check', async () => {
    const health: HealthServer = {
      check: (call, callback) => {
        const known = call.request.service === '' || call.request.service === ProducerSidecarClient.serviceName
        const { SERVING, SERVICE_UNKNOWN } = HealthCheckResponse_ServingStatus
        callback(null, { status: known ? SERVING : SERVICE_UNKNOWN })
      },
      watch: (call) => call.emit('error', unimplemented()),
    }
    const address = await startServer((server) => server.addService(HealthService, health))
    const client = new HealthClient(address, credentials.createInsecure())
    onTestFinished(() => client.close())
    const response = await new Promise((resolve, reject) =>
      client.check({ service: '' }, (error, r) => (error ? reject(error) : resolve(r))),
    )
    expect(response).toEqual({ status: HealthCheckResponse_ServingStatus.SERVING })
  })

  it('fails a call whose request bytes are not a valid EmitRequest, and keeps serving', async () => {
    let handled = 0
    const address = await startServer((server) =>
      server.addService(
        ProducerSidecarService,
        sidecarImpl({
          emit: (call, callback) => {
            handled++
            callback(null, { requestId: call.request.requestId, received: true, results: [] })
          },
        }),
      ),
    )
    // A client that knows nothing of the schema: its serializer sends three 0xff bytes, an
    // unterminated varint, so EmitRequest.decode throws "premature EOF" on the server.
    const raw = new Client(address, credentials.createInsecure())
    onTestFinished(() => raw.close())
    const error = await new Promise<ServiceError>((resolve, reject) =>
      raw.makeUnaryRequest(
        ProducerSidecarService.emit.path,
        () => Buffer.from([0xff, 0xff, 0xff]),
        (bytes: Buffer) => EmitAck.decode(bytes),
        null,
        (err, ack) => (err ? resolve(err) : reject(new Error(`expected a failure, got ${JSON.stringify(ack)}`))),
      ),
    )
    // grpc-js (server-interceptors.ts) catches an exception thrown by the method's
    // requestDeserialize and ends the call with INTERNAL "Error deserializing request" (the
    // exception's message is appended only with GRPC_NODE_DEBUG_SEND_ERROR_DETAILS set). Not
    // INVALID_ARGUMENT: to grpc-js an undecodable message is a transport-level failure, and the
    // handler never runs, so it cannot choose the code.
    expect(error.code).toBe(status.INTERNAL)
    expect(error.details).toMatch(/^Error deserializing request/)
    expect(handled).toBe(0)

    // The server (and even the same channel) keeps serving.
    const ack = await emit(sidecarClient(address), request(7))
    expect(ack).toEqual({ requestId: 7, received: true, results: [] })
    const again = await new Promise<EmitAck>((resolve, reject) =>
      raw.makeUnaryRequest(
        ProducerSidecarService.emit.path,
        ProducerSidecarService.emit.requestSerialize,
        ProducerSidecarService.emit.responseDeserialize,
        request(8),
        (err, value) => (err || !value ? reject(err) : resolve(value)),
      ),
    )
    expect(again.requestId).toBe(8)
    expect(handled).toBe(2)
  })
})
