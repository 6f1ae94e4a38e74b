/** The 32-bit murmur2 gives KafkaJS 2.2.4's values, and the partitioner KafkaJS's partitions. */
import { createRequire } from 'node:module'
import fc from 'fast-check'
import { Partitioners, type PartitionMetadata } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { murmur2 } from '../src/partitioning/murmur2.js'
import { DefaultPartitioning } from '../src/partitioning/partitioner.js'

const require = createRequire(import.meta.url)
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (
  key: Buffer | string,
) => number

const keys = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
  fc.string({ unit: 'binary', maxLength: 100 }),
)

function metadata(partitions: number, unavailable: ReadonlySet<number> = new Set()): PartitionMetadata[] {
  return Array.from({ length: partitions }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: unavailable.has(partitionId) ? -1 : 0,
    replicas: [0],
    isr: [0],
  }))
}

describe('murmur2', () => {
  it("equals KafkaJS's for every key: bytes of every length (each tail), and strings", () => {
    fc.assert(
      fc.property(keys, (key) => {
        expect(murmur2(key)).toBe(kafkajsMurmur2(key))
      }),
      { numRuns: 2000 },
    )
  })

  it("matches Java's known values", () => {
    // Kafka's own test vectors (Utils.murmur2 in the Java client) for "21" and "foobar".
    expect(murmur2(Buffer.from('21'))).toBe(-973932308)
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482)
  })
})

describe('DefaultPartitioning', () => {
  it("puts every keyed record where KafkaJS's DefaultPartitioner does, available leaders or not", () => {
    const kafkajs = Partitioners.DefaultPartitioner()
    const ours = new DefaultPartitioning()
    fc.assert(
      fc.property(
        keys.map((k) => (typeof k === 'string' ? Buffer.from(k) : k)),
        fc.integer({ min: 1, max: 64 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 63 }), { maxLength: 5 }),
        (key, partitions, down) => {
          const partitionMetadata = metadata(partitions, new Set(down))
          const record = { topic: 't', partition: null, key, value: null } as never
          expect(ours.partitionFor(record, partitionMetadata)).toBe(
            kafkajs({ topic: 't', partitionMetadata, message: { key, value: null } }),
          )
        },
      ),
      { numRuns: 1000 },
    )
  })

  it('spreads null keys round-robin over the partitions with a leader only', () => {
    const ours = new DefaultPartitioning()
    const partitionMetadata = metadata(6, new Set([1, 4]))
    const chosen = Array.from({ length: 8 }, () =>
      ours.partitionFor({ topic: 't', partition: null, key: null, value: null } as never, partitionMetadata),
    )
    expect(new Set(chosen)).toEqual(new Set([0, 2, 3, 5]))
    // Consecutive records take consecutive available partitions.
    const order = [0, 2, 3, 5]
    for (let i = 1; i < chosen.length; i++)
      expect(order.indexOf(chosen[i]!)).toBe((order.indexOf(chosen[i - 1]!) + 1) % order.length)
  })
})
