/**
 * One assigned partition in the sidecar: the records fetched and not yet processed (a bounded
 * buffer), the processed offset (every record below it was reported processed), the current
 * ownership and its batches in flight. A new ownership starts at the processed offset, so
 * records delivered to an earlier owner and not processed are delivered again (and counted).
 *
 * Pipelining: an owner that joined with max_batches_per_partition gets the next batches while it
 * processes the first, each starting where the previous one ended. A `done` short of its batch's
 * end, or a seek, rewinds: the batches still in flight are taken back (the client drops them, as
 * their `rewinds` count is behind its own) and delivery starts again from the processed offset.
 * Without it (older clients) one batch is in flight at a time, and a seek leaves it in flight,
 * stale, until its `done`.
 */
import type { ConsumedRecord } from '@kafka-sidecar/proto'
import { RecordQueue } from './record-queue.js'

/**
 * A fetched record as the contract carries it, plus its size for flow control: one object per
 * record (in a backlog the sidecar holds hundreds of thousands, and each extra object is GC work).
 * The batch encoder reads only the contract's fields.
 */
export interface BufferedRecord extends ConsumedRecord {
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
  /** Batches the owner takes in flight at once (JoinGroup.max_batches_per_partition); 0 or absent: one, unstamped. */
  readonly pipeline?: number
}

export interface InFlightBatch {
  readonly batchId: number
  readonly assignmentId: number
  /** The batch's last offset: progress past lastOffset + 1 was never delivered. */
  readonly lastOffset: number
  /** Records and bytes of the batch not yet reported processed. */
  records: number
  bytes: number
  /** After a seek (one batch at a time only), the batch no longer counts: its reports move nothing. */
  stale: boolean
}

export interface DeliveredBatch {
  readonly batchId: number
  readonly records: readonly ConsumedRecord[]
  readonly bytes: number
  readonly lastOffset: number
  readonly highWatermark: number
  readonly redelivered: number
  /** The ownership's rewinds when the batch was sent (Batch.rewinds). */
  readonly rewinds: number
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
  /** Delivered to the owner and not yet `done`, oldest first; consecutive, so their records are the buffer's first. */
  private batches: InFlightBatch[] = []
  /** Short `done`s and seeks of the current ownership (Batch.rewinds). */
  private rewindCount = 0
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
  /** The offset the member last committed for the partition; null: none since it was assigned. */
  committedOffset: number | null = null
  /** Where the first fetch started (the group's committed offset, or Kafka's reset position); null before. */
  private firstFetched: number | null = null

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

  /** The oldest batch in flight: the one the next `done` must name. */
  get inFlight(): InFlightBatch | null {
    return this.batches[0] ?? null
  }

  get batchesInFlight(): number {
    return this.batches.length
  }

  get rewinds(): number {
    return this.rewindCount
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

  /** The highest high watermark a fetch of the partition brought (-1: none yet). */
  get highWatermarkSeen(): number {
    return this.highWatermark
  }

  /** Where the member started reading the partition (null: nothing fetched yet). */
  get startOffset(): number | null {
    return this.firstFetched
  }

  get bufferedRecords(): number {
    return this.records.length
  }

  /** Bytes of the record the next batch starts with (0 when none is waiting). */
  get nextRecordBytes(): number {
    return this.records.at(this.sent)?.bytes ?? 0
  }

  /** Whether a batch could be delivered now (owned, room for another batch of it, records not yet delivered). */
  get deliverable(): boolean {
    if (this.ownership === null || this.revoking || this.records.length <= this.sent) return false
    return this.batches.length < Math.max(1, this.ownership.pipeline ?? 0)
  }

  /** Buffered records in batches in flight (the first ones of the buffer); the next batch starts after them. */
  private get sent(): number {
    let sum = 0
    for (const batch of this.batches) if (!batch.stale) sum += batch.records
    return sum
  }

  private get pipelined(): boolean {
    return (this.ownership?.pipeline ?? 0) > 0
  }

  /**
   * Adds what KafkaJS fetched, minus what is buffered or processed already; how many records it
   * kept. After a seek only a chunk fetched from the sought offset is taken: one fetched before
   * the seek (KafkaJS queues fetched batches) would otherwise jump the feed past records never
   * delivered. See `reseek`.
   */
  append(chunk: FetchedChunk): number {
    if (!this.acceptAfterSeek(chunk)) return 0
    this.firstFetched ??= chunk.fetchedOffset
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
    this.rewindCount = 0
    this.deliveredTo = this.processedOffset ?? -1
  }

  /** The ownership is over (released, or its owner gone): what its batch still held in flight. */
  endOwnership(): Freed {
    const freed = this.takeBack(this.batches)
    this.redeliverBelow = Math.max(this.redeliverBelow, this.deliveredTo)
    this.ownership = null
    this.batches = []
    this.revoking = false
    return freed
  }

  /**
   * The next batch, from the end of the batches in flight (the processed offset when none is): at
   * most `maxRecords` records and `maxBytes` bytes, but one record at least (a record larger than
   * the limit must still be delivered).
   */
  deliver(batchId: number, maxRecords: number, maxBytes: number): DeliveredBatch {
    const ownership = this.ownership!
    const from = this.sent
    const waiting = this.records.length - from
    let bytes = 0
    let count = 0
    while (count < waiting && count < maxRecords) {
      const next = this.records.at(from + count)!.bytes
      if (count > 0 && bytes + next > maxBytes) break
      bytes += next
      count++
    }
    const taken = this.records.slice(from, from + count)
    const last = taken[taken.length - 1]!
    // The whole buffer: the batch ends where the fetch did, past control records after the last record.
    const lastOffset = count === waiting ? Math.max(last.offset, this.fetchedTo! - 1) : last.offset
    const redelivered = taken.filter((r) => r.offset < this.redeliverBelow).length
    this.batches.push({
      batchId,
      assignmentId: ownership.assignmentId,
      lastOffset,
      records: count,
      bytes,
      stale: false,
    })
    this.deliveredTo = Math.max(this.deliveredTo, lastOffset + 1)
    return {
      batchId,
      records: taken,
      bytes,
      lastOffset,
      highWatermark: this.highWatermark,
      redelivered,
      rewinds: this.rewindCount,
    }
  }

  /**
   * The owner processed every record below `nextOffset` (eachMessage returned, resolveOffset):
   * they leave the buffer.
   */
  progress(reported: number): Freed {
    if (this.batches[0]?.stale) return NOTHING
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
    this.processedInFlight(records, bytes)
    return { records, bytes }
  }

  /** Processed records leave the batches in flight, oldest first (their records are the buffer's first). */
  private processedInFlight(records: number, bytes: number): void {
    for (const batch of this.batches) {
      if (records === 0) return
      const n = Math.min(records, batch.records)
      // A batch's bytes go with its last record, so a record's bytes are never split between batches.
      const b = n === batch.records ? batch.bytes : Math.min(bytes, batch.bytes)
      batch.records -= n
      batch.bytes -= b
      records -= n
      bytes -= b
    }
  }

  /**
   * The oldest batch in flight is over; its records not reported processed come again. Short of
   * its end with pipelining, the later batches in flight are taken back too (a rewind): delivery
   * starts again from the processed offset.
   */
  done(nextOffset: number): Freed {
    const processed = this.progress(nextOffset)
    const batch = this.batches.shift()!
    const rest = this.takeBack([batch])
    const short = Math.min(nextOffset, this.deliveredTo) < batch.lastOffset + 1
    const later = short && this.pipelined ? this.rewind() : NOTHING
    return {
      records: processed.records + rest.records + later.records,
      bytes: processed.bytes + rest.bytes + later.bytes,
    }
  }

  /** Takes back every batch in flight: what they held is in flight no more; the next batch starts at the processed offset. */
  private rewind(): Freed {
    const freed = this.takeBack(this.batches)
    this.batches = []
    this.rewindCount++
    if (this.processedOffset !== null) this.deliveredTo = this.processedOffset
    return freed
  }

  /** What the batches still held in flight (a stale one holds nothing). */
  private takeBack(batches: readonly InFlightBatch[]): Freed {
    let records = 0
    let bytes = 0
    for (const batch of batches) {
      if (batch.stale) continue
      records += batch.records
      bytes += batch.bytes
    }
    return records === 0 && bytes === 0 ? NOTHING : { records, bytes }
  }

  /**
   * The partition's next batch starts at `offset` (null: KafkaJS's latest or earliest, known when
   * its fetch comes back). What is in flight is no longer: with pipelining the batches are taken
   * back (a rewind); else the one batch stays in flight, stale, until its `done`.
   */
  seek(offset: number | null): Freed {
    let freed: Freed
    if (this.pipelined) freed = this.rewind()
    else {
      freed = this.takeBack(this.batches)
      for (const batch of this.batches) batch.stale = true
    }
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
