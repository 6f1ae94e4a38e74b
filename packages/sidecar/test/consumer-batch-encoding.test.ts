import fc from 'fast-check'
import { ConsumeEvent, type Batch } from '@kafka-sidecar/proto'
import { describe, expect, it } from 'vitest'
import { encodeBatchEvent } from '../src/consumer/batch-encoding.js'

const bytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a))
const int64 = fc.oneof(
  fc.constant(0),
  fc.constant(-1),
  fc.maxSafeInteger(),
  fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
)
const int32 = fc.oneof(fc.constant(0), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }))
const uint = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.maxSafeNat())

const record = fc.record({
  offset: int64,
  key: fc.option(bytes, { nil: undefined }),
  value: fc.option(bytes, { nil: undefined }),
  headers: fc.array(fc.record({ key: fc.string({ unit: 'grapheme' }), value: fc.option(bytes, { nil: undefined }) }), {
    maxLength: 3,
  }),
  timestampMs: int64,
  attributes: int32,
  sizeBytes: int32,
  magicByte: int32,
})

const batch: fc.Arbitrary<Batch> = fc.record({
  batchId: uint,
  topic: fc.string({ unit: 'grapheme', maxLength: 40 }),
  partition: int32,
  assignmentId: uint,
  highWatermark: int64,
  records: fc.array(record, { maxLength: 20 }),
  lastOffset: int64,
  redelivered: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  rewinds: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
})

describe('encodeBatchEvent', () => {
  it("writes the generated encoder's bytes, which decode to the same batch", () => {
    fc.assert(
      fc.property(batch, (b) => {
        const fast = encodeBatchEvent(b)
        const generated = Buffer.from(ConsumeEvent.encode({ event: { $case: 'batch', value: b } }).finish())
        expect(fast.equals(generated)).toBe(true)
        const decoded = ConsumeEvent.decode(fast).event
        expect(decoded?.$case).toBe('batch')
        const value = decoded!.value as Batch
        expect(value.records.map((r) => r.offset)).toEqual(b.records.map((r) => r.offset))
        expect(value.topic).toBe(b.topic)
      }),
      { numRuns: 300 },
    )
  })
})
