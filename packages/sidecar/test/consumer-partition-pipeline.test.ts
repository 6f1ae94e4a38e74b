import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PartitionFeed, type DeliveredBatch } from '../src/consumer/partition-feed.js'
import { bufferedRecord as record } from './consumer-helpers.js'

function fed(count: number, pipeline = 2): PartitionFeed {
  const feed = new PartitionFeed('t', 0)
  feed.append({ fetchedOffset: 0, lastOffset: count - 1, highWatermark: count, records: range(0, count).map(record) })
  feed.startOwnership({ assignmentId: 1, ownerId: 'a', pipeline })
  return feed
}

const offsets = (batch: DeliveredBatch) => batch.records.map((r) => r.offset)

describe('PartitionFeed with pipelining (max_batches_per_partition)', () => {
  it('sends the next batch from where the one in flight ends, up to the depth', () => {
    const feed = fed(10)
    expect(offsets(feed.deliver(1, 4, 1_000))).toEqual([0, 1, 2, 3])
    expect(feed.deliverable).toBe(true)
    expect(offsets(feed.deliver(2, 4, 1_000))).toEqual([4, 5, 6, 7])
    expect(feed.deliverable).toBe(false)
    expect(feed.batchesInFlight).toBe(2)
    // The oldest batch done in full: room for one more, from the end of the second.
    expect(feed.done(4)).toEqual({ records: 4, bytes: 40 })
    expect(feed.inFlight!.batchId).toBe(2)
    const third = feed.deliver(3, 4, 1_000)
    expect(offsets(third)).toEqual([8, 9])
    expect(third.rewinds).toBe(0)
  })

  it('a done short of its batch takes back the later batches (a rewind): delivery starts again from the processed offset', () => {
    const feed = fed(10)
    feed.deliver(1, 4, 1_000)
    feed.deliver(2, 4, 1_000)
    // 0 and 1 processed, the handler failed at 2: 2..7 are in flight no more.
    expect(feed.done(2)).toEqual({ records: 8, bytes: 80 })
    expect(feed.batchesInFlight).toBe(0)
    expect(feed.rewinds).toBe(1)
    const again = feed.deliver(3, 100, 1_000)
    expect(offsets(again)).toEqual([2, 3, 4, 5, 6, 7, 8, 9])
    expect(again.rewinds).toBe(1)
    expect(again.redelivered).toBe(0)
  })

  it('a seek takes back every batch in flight at once, and counts a rewind', () => {
    const feed = fed(10)
    feed.deliver(1, 4, 1_000)
    feed.deliver(2, 4, 1_000)
    expect(feed.seek(100)).toEqual({ records: 8, bytes: 80 })
    expect(feed.batchesInFlight).toBe(0)
    expect(feed.rewinds).toBe(1)
    feed.append({ fetchedOffset: 100, lastOffset: 101, highWatermark: 102, records: [100, 101].map(record) })
    const next = feed.deliver(3, 100, 1_000)
    expect(offsets(next)).toEqual([100, 101])
    expect(next.rewinds).toBe(1)
  })

  it('progress frees records of the oldest batches first, never more than a batch holds', () => {
    const feed = fed(10)
    feed.deliver(1, 4, 1_000)
    feed.deliver(2, 4, 1_000)
    expect(feed.progress(6)).toEqual({ records: 6, bytes: 60 })
    expect(feed.inFlight).toMatchObject({ batchId: 1, records: 0, bytes: 0 })
    // The first batch's done frees nothing more; the second still holds 6 and 7.
    expect(feed.done(6)).toEqual({ records: 0, bytes: 0 })
    expect(feed.inFlight).toMatchObject({ batchId: 2, records: 2, bytes: 20 })
  })

  it('a new ownership starts with no rewinds, at the processed offset', () => {
    const feed = fed(10)
    feed.deliver(1, 4, 1_000)
    feed.done(2)
    feed.deliver(2, 4, 1_000)
    expect(feed.endOwnership()).toEqual({ records: 4, bytes: 40 })
    feed.startOwnership({ assignmentId: 2, ownerId: 'b', pipeline: 2 })
    const first = feed.deliver(3, 100, 1_000)
    expect(offsets(first)).toEqual(range(2, 10))
    expect(first.rewinds).toBe(0)
    expect(first.redelivered).toBe(4)
  })

  it('a client that drops batches with fewer rewinds than it sent processes every record once, in order', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('fetch' as const), count: fc.integer({ min: 0, max: 8 }) }),
      fc.record({ kind: fc.constant('deliver' as const), max: fc.integer({ min: 1, max: 5 }) }),
      fc.record({ kind: fc.constant('finish' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }),
      fc.record({ kind: fc.constant('seekBack' as const) }),
    )
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(step, { maxLength: 80 }), (depth, steps) => {
        const feed = new PartitionFeed('t', 0)
        feed.startOwnership({ assignmentId: 1, ownerId: 'p', pipeline: depth })
        let fetched = 0
        let ids = 1
        // The client: batches received in order, its own count of rewinds, what it processed.
        const received: DeliveredBatch[] = []
        let rewinds = 0
        let position = 0
        const processed: number[] = []
        const finish = (fraction: number) => {
          while (received.length > 0 && received[0]!.rewinds !== rewinds) received.shift()
          const batch = received.shift()
          if (!batch) return
          expect(batch.records[0]!.offset).toBe(position)
          const end = batch.lastOffset + 1
          const next = position + Math.floor(fraction * (end - position))
          for (let o = position; o < next; o++) processed.push(o)
          position = next
          feed.done(next)
          if (next < end) rewinds++
        }
        for (const s of steps) {
          if (s.kind === 'fetch') {
            const records = range(fetched, fetched + s.count).map(record)
            feed.append({ fetchedOffset: fetched, lastOffset: fetched + s.count - 1, highWatermark: 0, records })
            fetched += s.count
          } else if (s.kind === 'deliver') {
            if (feed.deliverable) received.push(feed.deliver(ids++, s.max, 1_000))
            expect(feed.batchesInFlight).toBeLessThanOrEqual(depth)
          } else if (s.kind === 'finish') finish(s.fraction)
          else if (processed.length > 0) {
            // A seek back to what was processed already: those records are processed again.
            const to = processed[Math.floor(processed.length / 2)]!
            feed.seek(to)
            rewinds++
            processed.splice(processed.indexOf(to))
            position = to
            feed.append({
              fetchedOffset: to,
              lastOffset: fetched - 1,
              highWatermark: 0,
              records: range(to, fetched).map(record),
            })
          }
        }
        for (let guard = 0; guard < 1_000 && (feed.deliverable || received.length > 0); guard++) {
          while (feed.deliverable) received.push(feed.deliver(ids++, 1_000, 1_000))
          finish(1)
        }
        expect(processed).toEqual(range(0, fetched))
        expect(feed.batchesInFlight).toBe(0)
      }),
    )
  })
})

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i)
}
