import { describe, expect, it } from 'vitest'
import { PartitionTransactions } from '../../src/state/partition-transactions.js'

describe('partition transaction index', () => {
  it('holds the last stable offset at the first offset of the earliest open transaction', () => {
    const txns = new PartitionTransactions()
    expect(txns.lastStableOffset(10)).toBe(10)
    txns.recordBatch(1, 3)
    txns.recordBatch(1, 5) // a later batch of the same transaction does not move its start
    txns.recordBatch(2, 4)
    expect(txns.lastStableOffset(10)).toBe(3)
    txns.complete(1, 10, true)
    expect(txns.lastStableOffset(11)).toBe(4)
    txns.complete(2, 11, false)
    expect(txns.lastStableOffset(12)).toBe(12)
    expect(txns.isOpen(1)).toBe(false)
  })

  it('lists aborted transactions overlapping a fetched range, by first offset', () => {
    const txns = new PartitionTransactions()
    txns.recordBatch(1, 0)
    txns.recordBatch(2, 1)
    txns.complete(2, 4, false) // producer 2: [1, 4]
    txns.recordBatch(3, 5)
    txns.complete(3, 6, true) // committed: never listed
    txns.complete(1, 7, false) // producer 1: [0, 7], ended after producer 2
    txns.recordBatch(2, 8)
    txns.complete(2, 9, false) // producer 2 again: [8, 9]
    const ids = (from: number, to: number) => txns.abortedBetween(from, to).map((t) => [t.producerId, t.firstOffset])
    expect(ids(0, 10)).toEqual([
      [1, 0],
      [2, 1],
      [2, 8],
    ])
    // A transaction that began before the fetch offset but ends inside the range is listed.
    expect(ids(5, 8)).toEqual([[1, 0]])
    expect(ids(8, 10)).toEqual([[2, 8]])
    expect(ids(10, 12)).toEqual([])
  })

  it('tells open, committed and aborted records apart, per producer', () => {
    const txns = new PartitionTransactions()
    txns.recordBatch(1, 0)
    txns.complete(1, 2, false)
    txns.recordBatch(1, 3)
    txns.complete(1, 5, true)
    txns.recordBatch(1, 6)
    expect([0, 1, 3, 4, 6, 7].map((offset) => txns.outcomeOf(1, offset))).toEqual([
      'aborted',
      'aborted',
      'committed',
      'committed',
      'open',
      'open',
    ])
  })

  it('a marker for a producer with nothing open here changes nothing', () => {
    const txns = new PartitionTransactions()
    txns.complete(9, 0, false)
    expect(txns.abortedBetween(0, 100)).toEqual([])
    expect(txns.lastStableOffset(1)).toBe(1)
  })

  it('forgets aborted transactions once retention dropped all their records', () => {
    const txns = new PartitionTransactions()
    txns.recordBatch(1, 0)
    txns.complete(1, 1, false)
    txns.recordBatch(2, 2)
    txns.complete(2, 5, false)
    txns.trim(3)
    expect(txns.abortedBetween(0, 10).map((t) => t.producerId)).toEqual([2])
  })
})
