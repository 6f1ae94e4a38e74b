import { describe, expect, it } from 'vitest'
import { readBatchHeader } from '../../src/protocol/record-batch.js'
import { PartitionLog } from '../../src/state/partition-log.js'

/** A minimal batch header claiming `records` records, padded to `size` bytes. */
function fakeBatch(records: number, size = 100, timestamp = 0): Buffer {
  const bytes = Buffer.alloc(size)
  bytes.writeInt32BE(size - 12, 8)
  bytes.writeInt8(2, 16)
  bytes.writeInt32BE(records - 1, 23)
  bytes.writeBigInt64BE(BigInt(timestamp), 27)
  bytes.writeBigInt64BE(BigInt(timestamp), 35)
  bytes.writeInt32BE(records, 57)
  return bytes
}

function appendFake(log: PartitionLog, records: number, size = 100, timestamp = 0): number {
  const bytes = fakeBatch(records, size, timestamp)
  return log.append(bytes, readBatchHeader(bytes))
}

describe('partition log', () => {
  it('assigns consecutive offsets and stamps them into the stored batch', () => {
    const log = new PartitionLog()
    expect(appendFake(log, 3)).toBe(0)
    expect(appendFake(log, 2)).toBe(3)
    expect(log.endOffset).toBe(5)
    expect(log.retained().map((b) => readBatchHeader(b.bytes).baseOffset)).toEqual([0, 3])
  })

  it('reads from the batch holding an offset, bounded by bytes but always one batch', () => {
    const log = new PartitionLog()
    for (let i = 0; i < 5; i++) appendFake(log, 2) // offsets 0-9, 100 bytes each
    expect(log.read(5, 250).map((b) => readBatchHeader(b).baseOffset)).toEqual([4, 6])
    expect(log.read(0, 10)).toHaveLength(1)
    expect(log.read(10, 1000)).toEqual([])
  })

  it('drops the oldest batches past the retention bound and keeps the newest', () => {
    const log = new PartitionLog(250)
    for (let i = 0; i < 5; i++) appendFake(log, 1)
    expect(log.sizeBytes).toBeLessThanOrEqual(250)
    expect(log.logStartOffset).toBe(3)
    expect(log.retained().map((b) => b.baseOffset)).toEqual([3, 4])
    const tiny = new PartitionLog(10)
    appendFake(tiny, 1)
    expect(tiny.retained()).toHaveLength(1)
  })

  it('finds the first offset at or after a timestamp', () => {
    const log = new PartitionLog()
    appendFake(log, 2, 100, 1000)
    appendFake(log, 2, 100, 2000)
    expect(log.offsetForTimestamp(1500)).toEqual({ offset: 2, timestamp: 2000 })
    expect(log.offsetForTimestamp(3000)).toBeNull()
  })

  it('notifies append listeners until removed', () => {
    const log = new PartitionLog()
    let calls = 0
    const remove = log.onAppend(() => calls++)
    appendFake(log, 1)
    remove()
    appendFake(log, 1)
    expect(calls).toBe(1)
  })
})
