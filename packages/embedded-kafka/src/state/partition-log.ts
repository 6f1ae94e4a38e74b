/**
 * One partition's log: stored record batches with broker-assigned offsets. A single replica, so
 * the high watermark is the log end offset. Retention is by bytes only (oldest batches first),
 * which keeps a long benchmark's memory bounded; the newest batch is always kept.
 */
import { assignBaseOffset, type BatchHeader } from '../protocol/record-batch.js'

export interface StoredBatch {
  readonly baseOffset: number
  readonly lastOffset: number
  readonly maxTimestamp: number
  readonly bytes: Buffer
}

export const UNBOUNDED_RETENTION = -1

export class PartitionLog {
  private batches: StoredBatch[] = []
  /** Index of the oldest retained batch; evicted ones are compacted away lazily. */
  private head = 0
  private listeners = new Set<() => void>()
  logStartOffset = 0
  /** Next offset to assign; also the high watermark (one replica). */
  endOffset = 0
  sizeBytes = 0

  constructor(private readonly retentionBytes: number = UNBOUNDED_RETENTION) {}

  /** Appends a validated batch (copied: the request buffer belongs to the socket). */
  append(data: Buffer, header: BatchHeader): number {
    const bytes = Buffer.from(data)
    const baseOffset = this.endOffset
    assignBaseOffset(bytes, baseOffset)
    this.batches.push({
      baseOffset,
      lastOffset: baseOffset + header.recordCount - 1,
      maxTimestamp: header.maxTimestamp,
      bytes,
    })
    this.endOffset = baseOffset + header.recordCount
    this.sizeBytes += bytes.length
    this.enforceRetention()
    for (const listener of this.listeners) listener()
    return baseOffset
  }

  private enforceRetention(): void {
    if (this.retentionBytes < 0) return
    while (this.sizeBytes > this.retentionBytes && this.batches.length - this.head > 1) {
      const evicted = this.batches[this.head++]!
      this.sizeBytes -= evicted.bytes.length
      this.logStartOffset = evicted.lastOffset + 1
    }
    if (this.head > 1024 && this.head * 2 > this.batches.length) {
      this.batches = this.batches.slice(this.head)
      this.head = 0
    }
  }

  /**
   * Batches holding `offset` and after, up to `maxBytes`; always at least one batch when any is
   * available so a consumer can make progress past a batch larger than its limit (KIP-74).
   * Batches from `endOffset` on are left out: read_committed reads stop at the last stable
   * offset, which always falls on a batch boundary.
   */
  read(offset: number, maxBytes: number, endOffset = Infinity): Buffer[] {
    const out: Buffer[] = []
    let total = 0
    for (let i = this.firstBatchAtOrAfter(offset); i < this.batches.length; i++) {
      const batch = this.batches[i]!
      if (batch.baseOffset >= endOffset) break
      if (out.length > 0 && total + batch.bytes.length > maxBytes) break
      out.push(batch.bytes)
      total += batch.bytes.length
    }
    return out
  }

  private firstBatchAtOrAfter(offset: number): number {
    let lo = this.head
    let hi = this.batches.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.batches[mid]!.lastOffset < offset) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Earliest offset whose batch has a timestamp >= `timestamp` (ListOffsets by time). */
  offsetForTimestamp(timestamp: number): { offset: number; timestamp: number } | null {
    for (let i = this.head; i < this.batches.length; i++) {
      const batch = this.batches[i]!
      if (batch.maxTimestamp >= timestamp)
        return { offset: Math.max(batch.baseOffset, this.logStartOffset), timestamp: batch.maxTimestamp }
    }
    return null
  }

  retained(): readonly StoredBatch[] {
    return this.batches.slice(this.head)
  }

  /** Subscribes to appends (Fetch long-poll). Returns the remover. */
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}
