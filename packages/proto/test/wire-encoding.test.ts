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

/**
 * Numbers no field can carry as they are (the one-pass encoders leave them to the generated one,
 * which refuses them or writes what it always wrote), drawn now and then beside valid ones.
 */
const unfit = fc.constantFrom(Number.NaN, Infinity, -Infinity, 1.5, -1, 2 ** 31, 2 ** 32 + 5, 2 ** 53 + 2, -(2 ** 64))
const sometimesUnfit = (valid: fc.Arbitrary<number>) =>
  fc.oneof({ arbitrary: valid, weight: 30 }, { arbitrary: unfit, weight: 1 })
const int64 = sometimesUnfit(
  fc.oneof(
    fc.constant(0),
    fc.constant(-1),
    fc.integer({ min: -(2 ** 53 - 1), max: 2 ** 53 - 1 }),
    fc.integer({ min: -(2 ** 35), max: 2 ** 35 }),
  ),
)
const int32 = sometimesUnfit(
  fc.oneof(fc.constant(0), fc.constant(-1), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
)
const uint32 = sometimesUnfit(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 32 - 1 })))
const uint64 = sometimesUnfit(fc.oneof(fc.constant(0), fc.maxSafeNat()))
// Lone surrogates included: both encoders write each as U+FFFD.
const text = fc.oneof(
  fc.constant(''),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('a', 'é', '😀', '\uD800', '\uDFFF'), maxLength: 10 }),
)

/** The generated encoder's bytes, or the error it throws: the one-pass encoder must do the same. */
function expectSameAsGenerated<T>(message: T, generated: (m: T) => Uint8Array, onePass: (m: T) => Buffer): void {
  let expected: Buffer
  try {
    expected = Buffer.from(generated(message))
  } catch (error) {
    expect(() => onePass(message)).toThrow((error as Error).message)
    return
  }
  expect(onePass(message).equals(expected)).toBe(true)
}

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
  requestId: uint64,
  received: fc.boolean(),
  error: fc.option(error, { nil: undefined }),
  results: fc.array(result, { maxLength: 6 }),
})

describe('encodeEmitAck', () => {
  it("writes the generated encoder's bytes for any ack, or throws its error", () => {
    fc.assert(
      fc.property(ack, (a) => expectSameAsGenerated(a, (m) => EmitAck.encode(m).finish(), encodeEmitAck)),
      { numRuns: 500 },
    )
  })
})

const bytes = fc.oneof(
  { arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)), weight: 10 },
  { arbitrary: fc.uint8Array({ maxLength: 50 }), weight: 5 },
  // Past 16 KiB a length takes a three-byte varint, and so does the record holding it.
  { arbitrary: fc.integer({ min: 16_384, max: 20_000 }).map((n) => Buffer.alloc(n, 7)), weight: 1 },
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
  requestId: uint64,
  clientId: text,
  appName: text,
  instanceId: text,
  acks: int32,
  timeoutMs: fc.option(uint32, { nil: undefined }),
  compression: int32,
  awaitDelivery: fc.boolean(),
  topics: fc.array(fc.record({ topic: text, records: fc.array(record, { maxLength: 5 }) }), { maxLength: 3 }),
  allowAutoTopicCreation: optionalBool,
  orderEpoch: fc.option(uint64, { nil: undefined }),
  idempotent: optionalBool,
  reportsFromAck: optionalBool,
})

describe('encodeEmitRequest', () => {
  it("writes the generated encoder's bytes for any request, or throws its error", () => {
    fc.assert(
      fc.property(request, (r) => expectSameAsGenerated(r, (m) => EmitRequest.encode(m).finish(), encodeEmitRequest)),
      { numRuns: 500 },
    )
  })
})

describe('one-pass encoders on numbers no field carries', () => {
  it('give what the generated encoder gives (a timeout of Infinity once hung the client in a loop)', () => {
    const base: EmitRequest = {
      ...EmitRequest.fromPartial({ requestId: 1, topics: [{ topic: 't', records: [{ value: Buffer.from('v') }] }] }),
    }
    for (const timeoutMs of [Infinity, Number.NaN, -1, 2 ** 32 + 5, 1.5])
      expectSameAsGenerated({ ...base, timeoutMs }, (m) => EmitRequest.encode(m).finish(), encodeEmitRequest)
    const ack = EmitAck.fromPartial({ requestId: 1, error: { retryAfterMs: -1 } })
    expectSameAsGenerated(ack, (m) => EmitAck.encode(m).finish(), encodeEmitAck)
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
