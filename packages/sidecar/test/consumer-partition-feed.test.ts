import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PartitionFeed } from '../src/consumer/partition-feed.js'
import { bufferedRecord as record } from './consumer-helpers.js'

/** What can happen to a partition: fetches (some re-fetching from earlier), batches, reports, owner changes. */
const step = fc.oneof(
  fc.record({
    kind: fc.constant('fetch' as const),
    back: fc.integer({ min: 0, max: 5 }),
    count: fc.integer({ min: 0, max: 8 }),
  }),
  fc.record({ kind: fc.constant('deliver' as const), max: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('progress' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('done' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('newOwner' as const) }),
)

describe('PartitionFeed', () => {
  it('delivers every fetched record, in order, from the processed offset; a re-fetch adds nothing twice; nothing is skipped', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const feed = new PartitionFeed('t', 0)
        let fetched = 0
        let ids = 1
        const processedOrder: number[] = []
        const owner = () => feed.startOwnership({ assignmentId: ids++, ownerId: 'p' })
        owner()
        const report = (fraction: number, done: boolean) => {
          const batch = feed.inFlight
          if (!batch) return
          const from = feed.processed!
          const next = from + Math.floor(fraction * (batch.lastOffset + 1 - from))
          for (let o = from; o < next; o++) processedOrder.push(o)
          if (done) feed.done(next)
          else feed.progress(next)
        }
        for (const s of steps) {
          if (s.kind === 'fetch') {
            const start = Math.max(0, fetched - s.back)
            const records = Array.from({ length: s.count }, (_, i) => record(start + i))
            feed.append({ fetchedOffset: start, lastOffset: start + s.count - 1, highWatermark: 0, records })
            fetched = Math.max(fetched, start + s.count)
          } else if (s.kind === 'deliver') {
            if (!feed.deliverable) continue
            const batch = feed.deliver(ids++, s.max, 1_000)
            // A batch starts where processing stands, and holds consecutive offsets.
            expect(batch.records[0]!.offset).toBe(feed.processed)
            batch.records.forEach((r, i) => expect(r.offset).toBe(feed.processed! + i))
          } else if (s.kind === 'progress') report(s.fraction, false)
          else if (s.kind === 'done') report(s.fraction, true)
          else {
            feed.endOwnership()
            owner()
          }
          expect(feed.bufferedBytes).toBe(10 * feed.bufferedRecords)
        }
        // Drain: whatever is left is delivered and processed.
        for (let guard = 0; guard < 1_000 && (feed.inFlight || feed.deliverable); guard++) {
          if (!feed.inFlight) feed.deliver(ids++, 1_000, 1_000)
          report(1, true)
        }
        expect(processedOrder).toEqual(Array.from({ length: fetched }, (_, i) => i))
        expect(feed.bufferedRecords).toBe(0)
      }),
    )
  })

  it('counts as redelivered exactly the records an earlier ownership got and did not process', () => {
    const feed = new PartitionFeed('t', 0)
    feed.append({
      fetchedOffset: 0,
      lastOffset: 9,
      highWatermark: 10,
      records: Array.from({ length: 10 }, (_, i) => record(i)),
    })
    feed.startOwnership({ assignmentId: 1, ownerId: 'a' })
    feed.deliver(1, 6, 1_000)
    feed.progress(2)
    expect(feed.endOwnership()).toEqual({ records: 4, bytes: 40 })
    feed.startOwnership({ assignmentId: 2, ownerId: 'b' })
    const again = feed.deliver(2, 100, 1_000)
    expect(again.records.map((r) => r.offset)).toEqual([2, 3, 4, 5, 6, 7, 8, 9])
    expect(again.redelivered).toBe(4)
  })

  it('after a seek, the batch in flight is stale: its reports move nothing, and the next batch starts at the seek', () => {
    const feed = new PartitionFeed('t', 0)
    feed.append({ fetchedOffset: 0, lastOffset: 4, highWatermark: 5, records: [0, 1, 2, 3, 4].map(record) })
    feed.startOwnership({ assignmentId: 1, ownerId: 'a' })
    feed.deliver(1, 100, 1_000)
    expect(feed.seek(100)).toEqual({ records: 5, bytes: 50 })
    expect(feed.done(5)).toEqual({ records: 0, bytes: 0 })
    expect(feed.processed).toBe(100)
    feed.append({ fetchedOffset: 100, lastOffset: 101, highWatermark: 102, records: [100, 101].map(record) })
    expect(feed.deliver(2, 100, 1_000).records.map((r) => r.offset)).toEqual([100, 101])
  })

  it('after a seek, a chunk fetched before it (KafkaJS queued it) is refused, not a jump over records never delivered', () => {
    const feed = new PartitionFeed('t', 0)
    feed.append({ fetchedOffset: 20, lastOffset: 39, highWatermark: 300, records: range(20, 40).map(record) })
    feed.startOwnership({ assignmentId: 1, ownerId: 'a' })
    feed.deliver(1, 100, 10_000)
    feed.progress(30)
    feed.seek(25)
    expect(
      feed.append({ fetchedOffset: 300, lastOffset: 319, highWatermark: 320, records: range(300, 320).map(record) }),
    ).toBe(0)
    expect(feed.reseek).toBe(25)
    expect(feed.processed).toBe(25)
    feed.append({ fetchedOffset: 25, lastOffset: 44, highWatermark: 320, records: range(25, 45).map(record) })
    feed.done(30)
    expect(feed.deliver(2, 100, 10_000).records.map((r) => r.offset)).toEqual(range(25, 45))
  })

  it('after a seek out of range, Kafka resets the position: the same other fetch offset twice is taken', () => {
    const feed = new PartitionFeed('t', 0)
    feed.startOwnership({ assignmentId: 1, ownerId: 'a' })
    feed.seek(1_000)
    const reset = { fetchedOffset: 0, lastOffset: 4, highWatermark: 5, records: range(0, 5).map(record) }
    expect(feed.append(reset)).toBe(0)
    expect(feed.append(reset)).toBe(5)
    expect(feed.deliver(1, 100, 10_000).records.map((r) => r.offset)).toEqual(range(0, 5))
  })

  it('clamps a report past what was delivered to what was delivered', () => {
    const feed = new PartitionFeed('t', 0)
    feed.append({ fetchedOffset: 0, lastOffset: 4, highWatermark: 5, records: range(0, 5).map(record) })
    feed.startOwnership({ assignmentId: 1, ownerId: 'a' })
    feed.deliver(1, 3, 10_000)
    expect(feed.progress(99)).toEqual({ records: 3, bytes: 30 })
    expect(feed.processed).toBe(3)
  })
})

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i)
}
