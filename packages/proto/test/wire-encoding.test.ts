/**
 * The one-pass encoders of the hot messages against the generated ones: the same bytes for any
 * message, so either side may use one while the other uses the other (or another protobuf library).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  EmitAck,
  EmitRequest,
  encodeEmitAck,
  encodeEmitRequest,
  ProtobufWriter,
  type ErrorDetail,
  type PartitionResult,
} from '../src/index.js'

const int64 = fc.oneof(
  fc.constant(0),
  fc.constant(-1),
  fc.integer({ min: -(2 ** 53 - 1), max: 2 ** 53 - 1 }),
  fc.integer({ min: -(2 ** 35), max: 2 ** 35 }),
)
const int32 = fc.oneof(fc.constant(0), fc.constant(-1), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }))
const uint32 = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 32 - 1 }))
// Any code point, lone surrogates included: both encoders write them as U+FFFD.
const text = fc.oneof(fc.constant(''), fc.string({ unit: 'binary', maxLength: 40 }))

const error: fc.Arbitrary<ErrorDetail> = fc.record({
  grpcCode: int32,
  message: text,
  kafkaErrorCode: int32,
  kafkaErrorName: text,
  retriable: fc.boolean(),
  retryAfterMs: uint32,
})

const result: fc.Arbitrary<PartitionResult> = fc.record({
  topic: text,
  partition: int32,
  baseOffset: int64,
  logAppendTimeMs: int64,
  logStartOffset: int64,
  recordIndexes: fc.array(uint32, { maxLength: 20 }),
  error: fc.option(error, { nil: undefined }),
  leaderId: int32,
})

const ack: fc.Arbitrary<EmitAck> = fc.record({
  requestId: fc.oneof(fc.constant(0), fc.maxSafeNat()),
  received: fc.boolean(),
  error: fc.option(error, { nil: undefined }),
  results: fc.array(result, { maxLength: 6 }),
})

describe('encodeEmitAck', () => {
  it("writes the generated encoder's bytes for any ack, which decode to the same ack", () => {
    fc.assert(
      fc.property(ack, (a) => {
        const fast = encodeEmitAck(a)
        expect(fast.equals(Buffer.from(EmitAck.encode(a).finish()))).toBe(true)
        expect(EmitAck.decode(fast).results.map((r) => r.baseOffset)).toEqual(a.results.map((r) => r.baseOffset))
      }),
      { numRuns: 500 },
    )
  })
})

const bytes = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  fc.uint8Array({ maxLength: 50 }),
)
const record = fc.record({
  key: fc.option(bytes, { nil: undefined }),
  value: fc.option(bytes, { nil: undefined }),
  headers: fc.array(fc.record({ key: text, value: fc.option(bytes, { nil: undefined }) }), { maxLength: 4 }),
  partition: fc.option(int32, { nil: undefined }),
  timestampMs: fc.option(int64, { nil: undefined }),
})
const optionalBool = fc.option(fc.boolean(), { nil: undefined })
const request: fc.Arbitrary<EmitRequest> = fc.record({
  requestId: fc.oneof(fc.constant(0), fc.maxSafeNat()),
  clientId: text,
  appName: text,
  instanceId: text,
  acks: int32,
  timeoutMs: fc.option(uint32, { nil: undefined }),
  compression: int32,
  awaitDelivery: fc.boolean(),
  topics: fc.array(fc.record({ topic: text, records: fc.array(record, { maxLength: 5 }) }), { maxLength: 3 }),
  allowAutoTopicCreation: optionalBool,
  orderEpoch: fc.option(fc.maxSafeNat(), { nil: undefined }),
  idempotent: optionalBool,
  reportsFromAck: optionalBool,
})

describe('encodeEmitRequest', () => {
  it("writes the generated encoder's bytes for any request, which decode to the same request", () => {
    fc.assert(
      fc.property(request, (r) => {
        const fast = encodeEmitRequest(r)
        expect(fast.equals(Buffer.from(EmitRequest.encode(r).finish()))).toBe(true)
        const decoded = EmitRequest.decode(fast)
        expect(decoded.topics.map((t) => t.records.length)).toEqual(r.topics.map((t) => t.records.length))
        expect(decoded.requestId).toBe(r.requestId)
      }),
      { numRuns: 500 },
    )
  })
})

describe('ProtobufWriter', () => {
  it('writes a negative integer as the ten varint bytes of its 64-bit two’s complement', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 53 - 1), max: -1 }), (n) => {
        const out = new ProtobufWriter(Buffer.alloc(11))
        out.taggedInt(1, n)
        expect(out.full).toBe(true)
        let expected = BigInt.asUintN(64, BigInt(n))
        const varint: number[] = []
        for (let i = 0; i < 9; i++, expected >>= 7n) varint.push(Number(expected & 0x7fn) | 128)
        varint.push(Number(expected))
        expect([...out.buffer]).toEqual([1 << 3, ...varint])
      }),
      { numRuns: 500 },
    )
  })
})
