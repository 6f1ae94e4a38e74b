/**
 * One assigned partition in the sidecar: the records fetched and not yet processed (a bounded
 * buffer), the processed offset (every record below it was reported processed), the current
 * ownership and its one batch in flight. A new ownership starts at the processed offset, so
 * records delivered to an earlier owner and not processed are delivered again (and counted).
 */
import type { ConsumedRecord } from '@kafka-sidecar/proto'
import { RecordQueue } from './record-queue.js'

export interface BufferedRecord {
  readonly offset: number
  readonly record: ConsumedRecord
  /** Key, value and header bytes: what flow control and the buffer bound count. */
  readonly bytes: number
}

/** What KafkaJS fetched for this partition in one batch. */
export interface FetchedChunk {
  /** The offset the fetch asked for (KafkaJS's batch.fetchedOffset). */
  readonly fetchedOffset: number
  /** The last offset the fetch covered (KafkaJS's batch.lastOffset()), control records included. */
  readonly lastOffset: number
  readonly highWatermark: number
  readonly records: readonly BufferedRecord[]
}

export interface Ownership {
  readonly assignmentId: number
  readonly ownerId: string
}

export interface InFlightBatch {
  readonly batchId: number
  readonly assignmentId: number
  /** The batch's last offset: progress past lastOffset + 1 was never delivered. */
  readonly lastOffset: number
  /** Records and bytes of the batch not yet reported processed. */
  records: number
  bytes: number
  /** After a seek, the batch no longer counts: its reports move nothing. */
  stale: boolean
}

export interface DeliveredBatch {
  readonly batchId: number
  readonly records: readonly ConsumedRecord[]
  readonly bytes: number
  readonly lastOffset: number
  readonly highWatermark: number
  readonly redelivered: number
}

/** Records and bytes that stopped being in flight (processed, or handed back). */
export interface Freed {
  readonly records: number
  readonly bytes: number
}

const NOTHING: Freed = { records: 0, bytes: 0 }

export class PartitionFeed {
  private readonly records = new RecordQueue<BufferedRecord>()
  private bufferedBytesNow = 0
  /** Every offset below it was reported processed; null until the first fetch says where it starts. */
  private processedOffset: number | null = null
  /** Where KafkaJS fetches next: records below it were buffered already (a re-fetch is dropped). */
  private fetchedTo: number | null = null
  /** Records below it were delivered to an earlier ownership: delivering them again is a redelivery. */
  private redeliverBelow = -1
  /** The next offset after what was delivered to the current ownership. */
  private deliveredTo = -1
  private highWatermark = -1
  private ownership: Ownership | null = null
  private batch: InFlightBatch | null = null
  /** The owner it had last: the local assignment keeps a partition there when it can. */
  lastOwnerId: string | null = null
  /**
   * A process whose ownership was taken (its revoke timed out) and which may still work on its
   * last batch: the partition is not given back to it until it says that batch is over.
   */
  lateOwnerId: string | null = null
  /** An ownership is being given up (revoke sent, `released` not yet heard). */
  revoking = false
  /** Whether the member paused this partition in KafkaJS because the buffer is full. */
  pausedInKafka = false
  /** The offset a seek asked for, until a chunk fetched from it arrives (undefined: no seek waits). */
  private sought: number | undefined = undefined
  /** The fetched offset of the last chunk refused after the seek. */
  private refusedFrom: number | null = null
  /**
   * Set when a chunk was refused after a seek: KafkaJS should be sought there again (the member
   * does it and clears this). A chunk from the same other offset twice in a row means Kafka moved
   * the position itself (the sought offset was out of range, KafkaJS reset it): that one is taken.
   */
  reseek: number | null = null
  /** A report past what was delivered was clamped during this ownership (warned once). */
  overshootWarned = false

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  get key(): string {
    return feedKey(this.topic, this.partition)
  }

  get owner(): Ownership | null {
    return this.ownership
  }

  get inFlight(): InFlightBatch | null {
    return this.batch
  }

  get processed(): number | null {
    return this.processedOffset
  }

  /** Where KafkaJS should fetch from to continue this buffer, or null when nothing was fetched yet. */
  get fetchPosition(): number | null {
    return this.fetchedTo
  }

  get bufferedBytes(): number {
    return this.bufferedBytesNow
  }

  get bufferedRecords(): number {
    return this.records.length
  }

  /** Bytes of the record the next batch starts with (0 when none is buffered). */
  get nextRecordBytes(): number {
    return this.records.at(0)?.bytes ?? 0
  }

  /** Whether a batch could be delivered now (owned, nothing in flight, records waiting). */
  get deliverable(): boolean {
    return this.ownership !== null && !this.revoking && this.batch === null && this.records.length > 0
  }

  /**
   * Adds what KafkaJS fetched, minus what is buffered or processed already; how many records it
   * kept. After a seek only a chunk fetched from the sought offset is taken: one fetched before
   * the seek (KafkaJS queues fetched batches) would otherwise jump the feed past records never
   * delivered. See `reseek`.
   */
  append(chunk: FetchedChunk): number {
    if (!this.acceptAfterSeek(chunk)) return 0
    if (this.fetchedTo === null || chunk.fetchedOffset > this.fetchedTo) {
      // The first fetch, or a jump over records KafkaJS filtered out (control records, aborted
      // transactions): when nothing before the jump is left to process, the jump is processed too.
      if (this.processedOffset === null || (this.records.length === 0 && this.processedOffset === this.fetchedTo))
        this.processedOffset = chunk.fetchedOffset
      this.fetchedTo = chunk.fetchedOffset
    }
    const from = this.fetchedTo
    let kept = 0
    for (const record of chunk.records) {
      if (record.offset < from) continue
      this.records.push(record)
      this.bufferedBytesNow += record.bytes
      kept++
    }
    this.fetchedTo = Math.max(this.fetchedTo, chunk.lastOffset + 1)
    this.highWatermark = Math.max(this.highWatermark, chunk.highWatermark)
    return kept
  }

  /** The next offset after what was delivered to the current ownership (-1: nothing known yet). */
  get deliveredUpTo(): number {
    return this.deliveredTo
  }

  startOwnership(ownership: Ownership): void {
    this.ownership = ownership
    this.lastOwnerId = ownership.ownerId
    this.overshootWarned = false
    this.revoking = false
    this.deliveredTo = this.processedOffset ?? -1
  }

  /** The ownership is over (released, or its owner gone): what its batch still held in flight. */
  endOwnership(): Freed {
    const freed = this.batch && !this.batch.stale ? { records: this.batch.records, bytes: this.batch.bytes } : NOTHING
    this.redeliverBelow = Math.max(this.redeliverBelow, this.deliveredTo)
    this.ownership = null
    this.batch = null
    this.revoking = false
    return freed
  }

  /**
   * The next batch from the processed offset on: at most `maxRecords` records and `maxBytes`
   * bytes, but one record at least (a record larger than the limit must still be delivered).
   */
  deliver(batchId: number, maxRecords: number, maxBytes: number): DeliveredBatch {
    const ownership = this.ownership!
    let bytes = 0
    let count = 0
    while (count < this.records.length && count < maxRecords) {
      const next = this.records.at(count)!.bytes
      if (count > 0 && bytes + next > maxBytes) break
      bytes += next
      count++
    }
    const taken = this.records.slice(0, count)
    const last = taken[taken.length - 1]!
    // The whole buffer: the batch ends where the fetch did, past control records after the last record.
    const lastOffset = count === this.records.length ? Math.max(last.offset, this.fetchedTo! - 1) : last.offset
    const redelivered = taken.filter((r) => r.offset < this.redeliverBelow).length
    this.batch = { batchId, assignmentId: ownership.assignmentId, lastOffset, records: count, bytes, stale: false }
    this.deliveredTo = Math.max(this.deliveredTo, lastOffset + 1)
    return {
      batchId,
      records: taken.map((r) => r.record),
      bytes,
      lastOffset,
      highWatermark: this.highWatermark,
      redelivered,
    }
  }

  /**
   * The owner processed every record below `nextOffset` (eachMessage returned, resolveOffset):
   * they leave the buffer.
   */
  progress(reported: number): Freed {
    if (this.batch?.stale) return NOTHING
    // Past what was delivered counts as what was delivered (KafkaJS accepts resolveOffset past a
    // batch); the member clamps and warns before, this keeps the feed consistent regardless.
    const nextOffset = Math.min(reported, this.deliveredTo)
    if (nextOffset < 0) return NOTHING
    if (this.processedOffset !== null && nextOffset <= this.processedOffset) return NOTHING
    this.processedOffset = nextOffset
    let records = 0
    let bytes = 0
    while (this.records.length > 0 && this.records.at(0)!.offset < nextOffset) {
      bytes += this.records.shift()!.bytes
      records++
    }
    this.bufferedBytesNow -= bytes
    if (!this.batch) return { records, bytes }
    this.batch.records -= records
    this.batch.bytes -= bytes
    return { records, bytes }
  }

  /** The batch is over; its records not reported processed come again in the next batch. */
  done(nextOffset: number): Freed {
    const processed = this.progress(nextOffset)
    const batch = this.batch!
    const rest = batch.stale ? NOTHING : { records: batch.records, bytes: batch.bytes }
    this.batch = null
    return { records: processed.records + rest.records, bytes: processed.bytes + rest.bytes }
  }

  /**
   * The partition's next batch starts at `offset` (null: KafkaJS's latest or earliest, known when
   * its fetch comes back). The batch in flight becomes stale: what it held is no longer in flight.
   */
  seek(offset: number | null): Freed {
    const freed = this.batch && !this.batch.stale ? { records: this.batch.records, bytes: this.batch.bytes } : NOTHING
    if (this.batch) this.batch.stale = true
    this.records.clear()
    this.bufferedBytesNow = 0
    this.processedOffset = offset
    this.fetchedTo = offset
    this.deliveredTo = offset ?? -1
    this.redeliverBelow = -1
    // KafkaJS's latest/earliest is only known when its fetch comes back: the first chunk is taken.
    this.sought = offset ?? undefined
    this.refusedFrom = null
    this.reseek = null
    return freed
  }

  private acceptAfterSeek(chunk: FetchedChunk): boolean {
    if (this.sought === undefined) return true
    if (chunk.fetchedOffset === this.sought || chunk.fetchedOffset === this.refusedFrom) {
      if (chunk.fetchedOffset !== this.sought) this.resetTo(chunk.fetchedOffset)
      this.sought = undefined
      this.refusedFrom = null
      return true
    }
    this.refusedFrom = chunk.fetchedOffset
    this.reseek = this.sought
    return false
  }

  /** Kafka moved the position itself (an out-of-range seek reset by KafkaJS): the feed starts there. */
  private resetTo(offset: number): void {
    this.processedOffset = offset
    this.fetchedTo = offset
    this.deliveredTo = offset
  }
}

export function feedKey(topic: string, partition: number): string {
  return `${topic}|${partition}`
}
