/**
 * What the fuzzer sends: a scenario is a few topics to create and a batch of requests fired at
 * once over unary Emit, EmitStream and raw bytes. The arbitraries describe requests abstractly
 * (topic references, size modes, byte mutations) so that shrinking keeps them meaningful; `plan`
 * turns one into the exact bytes each request puts on the wire, with run-unique topic names.
 */
import { randomBytes } from 'node:crypto'
import { EmitRequest, strictReader, type SidecarRecord } from '@kafka-sidecar/proto'
import fc from 'fast-check'
import { fieldBytes, fieldVarint } from '@kafka-sidecar/test-support'
import { FUZZ_LIMITS, recordSize } from './oracle.js'

export type Transport = 'unary' | 'stream' | 'raw-unary' | 'raw-stream'

export type TopicRef =
  /** One of the scenario's topics, created before the requests are sent. */
  | { readonly kind: 'existing'; readonly index: number }
  /** A legal name inside the allow-list that no one created (the broker does not auto-create). */
  | { readonly kind: 'unknown'; readonly index: number }
  /** A legal name outside the allow-list. */
  | { readonly kind: 'disallowed' }
  /** A 249-character name (Kafka's longest), created. */
  | { readonly kind: 'longest' }
  /** 250 characters: one too many. */
  | { readonly kind: 'too-long' }
  /** Anything else: '', '.', '..', unicode, spaces, NUL, emoji. */
  | { readonly kind: 'literal'; readonly name: string }

export interface HeaderSpec {
  readonly key: string
  /** undefined: a null header value. */
  readonly value?: Uint8Array
}

export interface RecordSpec {
  readonly key?: Uint8Array
  readonly value?: Uint8Array
  readonly headers: readonly HeaderSpec[]
  readonly partition?: PartitionSpec
  readonly timestampMs?: number
}

/** An explicit partition, relative to the topic's partition count where that is the point. */
export type PartitionSpec =
  | { readonly kind: 'in-range'; readonly at: number }
  | { readonly kind: 'out-of-range'; readonly beyond: number }
  | { readonly kind: 'literal'; readonly n: number }

export type SizeMode =
  | { readonly kind: 'free' }
  /** One record's queue size set to max_record_bytes + delta. */
  | { readonly kind: 'record-at-limit'; readonly record: number; readonly delta: number }
  /** The encoded request set to max_request_bytes + delta. */
  | { readonly kind: 'request-at-limit'; readonly delta: number }
  /** The request's record count set to max_records_per_request + delta. */
  | { readonly kind: 'count-at-limit'; readonly delta: number }

export type Mutation =
  | { readonly kind: 'none' }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'flip'; readonly at: number; readonly xor: number }
  | { readonly kind: 'unknown-field' }
  | { readonly kind: 'garbage'; readonly bytes: Uint8Array }
  | { readonly kind: 'invalid-utf8-topic' }
  | { readonly kind: 'repeated-scalar'; readonly acks: number }
  /** request_id 2^63 + 5: a legal uint64 no JavaScript number holds (unary only: no stream ack can name it). */
  | { readonly kind: 'huge-request-id' }
  | { readonly kind: 'huge-timestamp' }

export interface RequestSpec {
  readonly transport: Transport
  readonly groups: ReadonlyArray<{ readonly topic: TopicRef; readonly records: readonly RecordSpec[] }>
  readonly acks: number
  readonly compression: number
  readonly timeoutMs: number
  readonly awaitDelivery: boolean
  readonly allowAutoTopicCreation?: boolean
  readonly orderEpoch?: number
  /** Index into the run's instance ids; -1 sends an empty instance_id. */
  readonly instance: number
  readonly clientId: string
  readonly appName: string
  readonly size: SizeMode
  readonly mutation: Mutation
}

export interface Scenario {
  /** Partition counts of the topics created for the run. */
  readonly topics: readonly number[]
  readonly requestIdBase: number
  readonly requests: readonly RequestSpec[]
  /**
   * Cancel the generated EmitStream after writing this many of its requests (the client gave up
   * on it); undefined ends it normally once every request was answered.
   */
  readonly cancelStreamAfter?: number
}

export const INSTANCES_PER_RUN = 2
export const PROTOTYPE_KEYS = Object.getOwnPropertyNames(Object.prototype)

// ---- arbitraries ----
// Each arbitrary comes in two flavours: `clean` draws only what the contract allows (so about
// half the requests are accepted and reach the brokers), dirty adds what it refuses.

/** In a dirty request, `invalid` has one chance in 1 + validWeight per field. */
const pick = <T>(clean: boolean, valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<T>, validWeight = 4): fc.Arbitrary<T> =>
  clean ? valid : fc.oneof({ weight: validWeight, arbitrary: valid }, { weight: 1, arbitrary: invalid })

const bytesArb: fc.Arbitrary<Uint8Array | undefined> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.constant(new Uint8Array(0)) },
  { weight: 5, arbitrary: fc.uint8Array({ maxLength: 24 }) },
)

const validNameArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('a', 'b', 'traceparent', '0', '1', 'ü', '😀') },
  { weight: 1, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS) },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }) },
  // Empty is a name too: Kafka and KafkaJS write it.
  { weight: 1, arbitrary: fc.constant('') },
)

const headerArb = (clean: boolean): fc.Arbitrary<HeaderSpec> =>
  fc.record(
    {
      key: validNameArb,
      value: pick(clean, fc.uint8Array({ maxLength: 12 }), fc.constant(undefined)),
    },
    { requiredKeys: ['key', 'value'] },
  )

const partitionArb = (clean: boolean): fc.Arbitrary<PartitionSpec | undefined> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    {
      weight: 2,
      arbitrary: fc
        .double({ min: 0, max: 1, maxExcluded: true, noNaN: true })
        .map((at) => ({ kind: 'in-range' as const, at })),
    },
    ...(clean
      ? []
      : [
          {
            weight: 1,
            arbitrary: fc.integer({ min: 0, max: 2 }).map((beyond) => ({ kind: 'out-of-range' as const, beyond })),
          },
          {
            weight: 1,
            arbitrary: fc.constantFrom(-1, -2147483648, 2147483647).map((n) => ({ kind: 'literal' as const, n })),
          },
        ]),
  )

const timestampArb = (clean: boolean) =>
  fc.option(
    pick(
      clean,
      fc.oneof(
        fc.constantFrom(0, 1, 1_700_000_000_000, Number.MAX_SAFE_INTEGER),
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
      ),
      fc.constantFrom(-1, -Number.MAX_SAFE_INTEGER),
    ),
    { nil: undefined, freq: 3 },
  )

const recordArb = (clean: boolean): fc.Arbitrary<RecordSpec> =>
  fc.record(
    {
      key: bytesArb,
      value: bytesArb,
      headers: fc.oneof(
        { weight: 3, arbitrary: fc.constant([]) },
        { weight: 3, arbitrary: fc.array(headerArb(clean), { maxLength: clean ? 4 : 5 }) },
      ),
      partition: partitionArb(clean),
      timestampMs: timestampArb(clean),
    },
    { requiredKeys: ['headers'] },
  )

const literalTopicArb = fc.oneof(
  fc.constantFrom('', '.', '..', 'fz-has space', 'fz-ünïcode', 'fz-a/b', 'fz-\u0000', 'fz-😀', 'fz-a:b'),
  fc.string({ unit: 'grapheme', maxLength: 12 }).map((s) => `fz-${s}`),
)

const topicRefArb = (clean: boolean): fc.Arbitrary<TopicRef> =>
  pick<TopicRef>(
    clean,
    fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0, max: 1 }).map((index) => ({ kind: 'existing' as const, index })) },
      { weight: 1, arbitrary: fc.constant({ kind: 'longest' as const }) },
    ),
    fc.oneof(
      { weight: 2, arbitrary: fc.integer({ min: 0, max: 1 }).map((index) => ({ kind: 'unknown' as const, index })) },
      { weight: 1, arbitrary: fc.constant({ kind: 'disallowed' as const }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'too-long' as const }) },
      { weight: 2, arbitrary: literalTopicArb.map((name) => ({ kind: 'literal' as const, name })) },
    ),
  )

const groupArb = (clean: boolean) =>
  fc.record({
    topic: topicRefArb(clean),
    records: pick<RecordSpec[]>(clean, fc.array(recordArb(clean), { minLength: 1, maxLength: 4 }), fc.constant([]), 20),
  })

const sizeArb: fc.Arbitrary<SizeMode> = fc.oneof(
  { weight: 8, arbitrary: fc.constant({ kind: 'free' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('record-at-limit' as const),
      record: fc.nat(7),
      delta: fc.integer({ min: -1, max: 1 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('request-at-limit' as const), delta: fc.integer({ min: -1, max: 1 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('count-at-limit' as const), delta: fc.integer({ min: -1, max: 1 }) }),
  },
)

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'none' as const }) },
  fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    xor: fc.integer({ min: 1, max: 255 }),
  }),
  fc.constant({ kind: 'unknown-field' as const }),
  fc.record({ kind: fc.constant('garbage' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.constant({ kind: 'invalid-utf8-topic' as const }),
  fc.record({ kind: fc.constant('repeated-scalar' as const), acks: fc.integer({ min: 0, max: 4 }) }),
  fc.constant({ kind: 'huge-request-id' as const }),
  fc.constant({ kind: 'huge-timestamp' as const }),
)

const requestArb = (clean: boolean): fc.Arbitrary<RequestSpec> =>
  fc
    .record(
      {
        transport: fc.constantFrom<Transport>('unary', 'stream', 'stream', 'raw-unary', 'raw-stream'),
        groups: pick<RequestSpec['groups']>(
          clean,
          fc.array(groupArb(clean), { minLength: 1, maxLength: 3 }),
          fc.constant([]),
          20,
        ),
        acks: pick(clean, fc.integer({ min: 0, max: 3 }), fc.constantFrom(4, 99, -1)),
        compression: pick(clean, fc.constantFrom(0, 1), fc.constantFrom(2, 3, 4, 5, 99, -1)),
        timeoutMs: pick(
          clean,
          fc.constantFrom(0, 30_000, 1, 5, 100, 300_001, 2 ** 31 - 1),
          fc.constantFrom(2 ** 31, 4_294_967_295),
        ),
        awaitDelivery: fc.boolean(),
        allowAutoTopicCreation: fc.option(fc.boolean(), { nil: undefined }),
        orderEpoch: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
        instance: pick(clean, fc.integer({ min: 0, max: INSTANCES_PER_RUN - 1 }), fc.constant(-1)),
        clientId: fc.oneof(
          fc.constant('fuzz-app'),
          fc.string({ unit: 'grapheme', maxLength: 10 }),
          fc.constant('ć'.repeat(300)),
        ),
        appName: fc.oneof(fc.constant(''), fc.constant('fuzz-app'), fc.string({ unit: 'grapheme', maxLength: 10 })),
        size: sizeArb,
        mutation: mutationArb,
      },
      {
        requiredKeys: [
          'transport',
          'groups',
          'acks',
          'compression',
          'timeoutMs',
          'awaitDelivery',
          'instance',
          'clientId',
          'appName',
          'size',
          'mutation',
        ],
      },
    )
    // A mutation only means something on the raw transports.
    .map((r) => (r.transport.startsWith('raw') ? r : { ...r, mutation: { kind: 'none' as const } }))

export const scenarioArb: fc.Arbitrary<Scenario> = fc.record(
  {
    topics: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 }),
    requestIdBase: fc.constantFrom(0, 1, 2 ** 32 - 2, Number.MAX_SAFE_INTEGER - 64),
    requests: fc.array(
      fc.oneof({ weight: 3, arbitrary: requestArb(true) }, { weight: 2, arbitrary: requestArb(false) }),
      { minLength: 1, maxLength: 8 },
    ),
    cancelStreamAfter: fc.option(fc.nat(8), { nil: undefined, freq: 6 }),
  },
  { requiredKeys: ['topics', 'requestIdBase', 'requests'] },
)

// ---- planning: from a scenario to bytes on the wire ----

export interface RunNames {
  /** Partition counts of the scenario's created topics, by index. */
  readonly partitions: readonly number[]
  /** Names of the scenario's created topics, by index. */
  readonly existing: readonly string[]
  readonly unknown: readonly string[]
  readonly disallowed: string
  readonly longest: string
  readonly tooLong: string
  readonly instances: readonly string[]
}

/** Allowed prefix of every topic the fuzz sidecar may write (its allow-list is `${ALLOWED_PREFIX}*`). */
export const ALLOWED_PREFIX = 'fz-'

export function runNames(scenario: Scenario): RunNames {
  const run = randomBytes(5).toString('hex')
  const pad = (name: string, length: number) => name + 'x'.repeat(length - name.length)
  return {
    partitions: scenario.topics,
    existing: scenario.topics.map((_, i) => `${ALLOWED_PREFIX}${run}-t${i}`),
    unknown: [0, 1].map((i) => `${ALLOWED_PREFIX}${run}-unknown${i}`),
    disallowed: `other-${run}`,
    longest: pad(`${ALLOWED_PREFIX}${run}-long-`, 249),
    tooLong: pad(`${ALLOWED_PREFIX}${run}-toolong-`, 250),
    instances: Array.from({ length: INSTANCES_PER_RUN }, (_, i) => `fuzz-${run}-instance-${i}-ü`),
  }
}

export function topicName(ref: TopicRef, names: RunNames): string {
  switch (ref.kind) {
    case 'existing':
      return names.existing[ref.index % names.existing.length]!
    case 'unknown':
      return names.unknown[ref.index]!
    case 'disallowed':
      return names.disallowed
    case 'longest':
      return names.longest
    case 'too-long':
      return names.tooLong
    case 'literal':
      return ref.name
  }
}

/** Partitions of the referenced topic; a topic that does not exist counts as one (its partition numbers are then still small). */
function partitionCount(ref: TopicRef, names: RunNames): number {
  return ref.kind === 'existing' ? names.partitions[ref.index % names.partitions.length]! : 1
}

export interface PlannedRequest {
  readonly index: number
  readonly spec: RequestSpec
  readonly transport: Transport
  /** What the client built (for the generated-client transports, what it sends). */
  readonly message: EmitRequest
  /** The bytes on the wire. */
  readonly bytes: Buffer
  /** What the sidecar decodes from `bytes`, or why it cannot. */
  readonly seen: { readonly ok: true; readonly request: EmitRequest } | { readonly ok: false; readonly reason: string }
  /** The id its stream ack must carry (stream transports). */
  readonly answerId: number
}

function explicitPartition(spec: PartitionSpec | undefined, count: number): number | undefined {
  if (spec === undefined) return undefined
  if (spec.kind === 'in-range') return Math.floor(spec.at * count)
  if (spec.kind === 'out-of-range') return count + spec.beyond
  return spec.n
}

function toProtoRecord(record: RecordSpec, partitions: number): SidecarRecord {
  return {
    key: record.key,
    value: record.value,
    headers: record.headers.map((h) => ({ key: h.key, value: h.value })),
    partition: explicitPartition(record.partition, partitions),
    timestampMs: record.timestampMs,
  }
}

function buildMessage(spec: RequestSpec, id: number, names: RunNames): EmitRequest {
  const message: EmitRequest = {
    requestId: id,
    clientId: spec.clientId,
    appName: spec.appName,
    instanceId: spec.instance < 0 ? '' : names.instances[spec.instance]!,
    acks: spec.acks,
    timeoutMs: spec.timeoutMs,
    compression: spec.compression,
    awaitDelivery: spec.awaitDelivery,
    topics: spec.groups.map((g) => ({
      topic: topicName(g.topic, names),
      records: g.records.map((r) => toProtoRecord(r, partitionCount(g.topic, names))),
    })),
    allowAutoTopicCreation: spec.allowAutoTopicCreation,
    orderEpoch: spec.orderEpoch,
  }
  applySize(message, spec.size)
  return message
}

const allRecords = (message: EmitRequest) => message.topics.flatMap((t) => t.records)

function applySize(message: EmitRequest, size: SizeMode): void {
  const records = allRecords(message)
  switch (size.kind) {
    case 'free':
      return
    case 'record-at-limit': {
      const record = records[size.record % Math.max(1, records.length)]
      if (!record) return
      const target = FUZZ_LIMITS.maxRecordBytes + size.delta
      const rest = recordSize(record) - (record.value?.length ?? 0)
      record.value = new Uint8Array(Math.max(0, target - rest)).fill(0x61)
      return
    }
    case 'count-at-limit': {
      const group = message.topics.at(-1)
      if (!group) return
      const missing = FUZZ_LIMITS.maxRecordsPerRequest + size.delta - records.length
      for (let i = 0; i < missing; i++) group.records.push({ value: Uint8Array.of(i), headers: [] })
      return
    }
    case 'request-at-limit': {
      // Grow values record by record (each stays within max_record_bytes) until the encoding
      // reaches the target, then trim: varint lengths make it a short fixed-point search.
      const target = FUZZ_LIMITS.maxRequestBytes + size.delta
      if (records.length === 0) return
      for (let round = 0; round < 8; round++) {
        const missing = target - EmitRequest.encode(message).finish().length
        if (missing === 0) return
        const record =
          missing > 0
            ? records.find((r) => recordSize(r) < FUZZ_LIMITS.maxRecordBytes)
            : records.findLast((r) => (r.value?.length ?? 0) > 0)
        if (!record) return
        const room =
          missing > 0
            ? Math.min(missing, FUZZ_LIMITS.maxRecordBytes - recordSize(record))
            : Math.max(missing, -(record.value?.length ?? 0))
        record.value = new Uint8Array((record.value?.length ?? 0) + room).fill(0x62)
      }
    }
  }
}

/** Bytes of field 1 (request_id) at the start of an encoding: mutations on a stream leave them alone. */
function idPrefixLength(encoded: Buffer): number {
  if (encoded[0] !== 0x08) return 0
  const last = encoded.subarray(1).findIndex((b) => (b & 0x80) === 0)
  return last < 0 ? encoded.length : 2 + last
}

function mutate(encoded: Buffer, mutation: Mutation, keep: number): Buffer {
  const at = (fraction: number) => keep + Math.floor(fraction * (encoded.length - keep))
  switch (mutation.kind) {
    case 'none':
      return encoded
    case 'truncate':
      return encoded.subarray(0, at(mutation.at))
    case 'flip': {
      if (encoded.length <= keep) return encoded
      const copy = Buffer.from(encoded)
      const position = Math.min(copy.length - 1, at(mutation.at))
      copy[position] = copy[position]! ^ mutation.xor
      return copy
    }
    case 'unknown-field':
      return Buffer.concat([encoded, fieldVarint(50, 7), fieldBytes(51, Buffer.from('ignored'))])
    case 'garbage':
      return Buffer.concat([encoded, mutation.bytes])
    case 'invalid-utf8-topic':
      return Buffer.concat([
        encoded,
        fieldBytes(
          9,
          Buffer.concat([
            fieldBytes(1, Buffer.from([0x66, 0x7a, 0xff, 0xfe])),
            fieldBytes(2, fieldBytes(2, Buffer.from('x'))),
          ]),
        ),
      ])
    case 'repeated-scalar':
      return Buffer.concat([encoded, fieldVarint(5, mutation.acks)])
    case 'huge-request-id':
      return Buffer.concat([encoded, fieldVarint(1, 2n ** 63n + 5n)])
    case 'huge-timestamp':
      return Buffer.concat([
        encoded,
        fieldBytes(9, Buffer.concat([fieldBytes(1, Buffer.from('fz-x')), fieldBytes(2, fieldVarint(5, 2n ** 60n))])),
      ])
  }
}

/** Top-level varint fields as a protobuf reader meets them (the last occurrence wins), up to the first unreadable byte. */
export function scanVarints(bytes: Buffer): Map<number, bigint> {
  const found = new Map<number, bigint>()
  let at = 0
  const read = (): bigint | undefined => {
    let value = 0n
    for (let shift = 0n; at < bytes.length && shift < 64n; shift += 7n) {
      const byte = bytes[at++]!
      value |= BigInt(byte & 0x7f) << shift
      if ((byte & 0x80) === 0) return value
    }
    return undefined
  }
  while (at < bytes.length) {
    const tag = read()
    if (tag === undefined) break
    const wire = Number(tag & 7n)
    if (wire === 0) {
      const value = read()
      if (value === undefined) break
      found.set(Number(tag >> 3n), value)
    } else if (wire === 2) {
      const length = read()
      if (length === undefined) break
      at += Number(length)
    } else if (wire === 1) at += 8
    else if (wire === 5) at += 4
    else break
  }
  return found
}

export function decodeAsSidecar(bytes: Buffer): PlannedRequest['seen'] {
  try {
    return { ok: true, request: EmitRequest.decode(strictReader(bytes)) }
  } catch (error) {
    return { ok: false, reason: (error as Error).message }
  }
}

/**
 * Plans every request of a scenario. Request ids are base + index (unique in the run). A raw
 * request on the stream whose mutation changed the id its ack would carry moves to raw-unary:
 * a stream ack is matched by id, and the test must know which request it answers.
 */
export function plan(scenario: Scenario, names: RunNames): PlannedRequest[] {
  const planned = scenario.requests.map((spec, index) =>
    planOne(spec, index, scenario.requestIdBase + index, names, true),
  )
  // Delivery reports are matched by (instance, request id): a mutation that made one request
  // share that pair with another (a flipped request_id) is not applied.
  const key = (p: PlannedRequest) =>
    p.seen.ok ? `${p.seen.request.instanceId}\u0000${p.seen.request.requestId}` : null
  return planned.map((p, i) => {
    const k = key(p)
    if (k === null || p.spec.mutation.kind === 'none' || !planned.some((other, j) => j !== i && key(other) === k))
      return p
    return planOne(p.spec, i, scenario.requestIdBase + i, names, false)
  })
}

function planOne(spec: RequestSpec, index: number, id: number, names: RunNames, mutated: boolean): PlannedRequest {
  const message = buildMessage(spec, id, names)
  const encoded = Buffer.from(EmitRequest.encode(message).finish())
  let transport = spec.transport
  if (
    transport === 'raw-stream' &&
    (spec.mutation.kind === 'huge-request-id' || spec.mutation.kind === 'huge-timestamp')
  )
    transport = 'raw-unary'
  const bytes =
    transport.startsWith('raw') && mutated
      ? mutate(encoded, spec.mutation, transport === 'raw-stream' ? idPrefixLength(encoded) : 0)
      : encoded
  const seen = decodeAsSidecar(bytes)
  const answerId = seen.ok ? seen.request.requestId : Number(scanVarints(bytes).get(1) ?? 0n)
  if (transport === 'raw-stream' && answerId !== id) transport = 'raw-unary'
  return { index, spec, transport, message, bytes, seen, answerId }
}
