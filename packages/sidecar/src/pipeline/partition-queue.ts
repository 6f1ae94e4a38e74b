/**
 * FIFO of records bound for one topic-partition. Records leave in arrival order; with one batch
 * in flight per partition (the default), a retry inside KafkaJS can never let the batch behind it
 * overtake: this is what keeps per-partition order across every process of the pod.
 */
import type { Message } from 'kafkajs'
import type { Acks, CompressionCode } from '../model.js'
import type { RequestTracker } from './request-tracker.js'

export interface QueuedRecord {
  readonly tracker: RequestTracker
  /** Index of the record in its request. */
  readonly index: number
  /** Its request's TopicRecords (one per send and topic): what leaves whole, per partition. */
  readonly segment: number
  readonly message: Message
  readonly bytes: number
  readonly compression: CompressionCode
  /** The request's acks: records leave in batches of one acks setting. */
  readonly acks: Acks
  /** Written by the idempotent producer: records leave in batches of one producer. */
  readonly idempotent: boolean
  /** The request's broker ack timeout: records leave in batches of one timeout, which the broker is given. */
  readonly timeoutMs: number
  readonly enqueuedAt: number
  /** When the request's window (max of its timeout and the request timeout) ends: still queued by then, the record is failed unsent. */
  readonly deadline: number
}

export class PartitionQueue {
  private items: QueuedRecord[] = []
  private head = 0
  /** Bytes and records queued or in flight: what the memory bounds count. */
  pendingBytes = 0
  pendingRecords = 0
  /** Batches of this partition awaiting the brokers. */
  inFlight = 0

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  get queuedCount(): number {
    return this.items.length - this.head
  }

  get isEmpty(): boolean {
    return this.head === this.items.length
  }

  peek(): QueuedRecord | undefined {
    return this.items[this.head]
  }

  push(record: QueuedRecord): void {
    this.items.push(record)
    this.pendingBytes += record.bytes
    this.pendingRecords++
  }

  /**
   * Takes back `record` if it is the newest one queued and not yet taken, for a request whose
   * admission failed after it was queued. Returns whether it was there.
   */
  removeNewest(record: QueuedRecord): boolean {
    if (this.items.length === this.head || this.items[this.items.length - 1] !== record) return false
    this.items.pop()
    this.pendingBytes -= record.bytes
    this.pendingRecords--
    return true
  }

  /**
   * Takes the next batch: same compression, acks, producer and timeout as the head, within both
   * limits, at least one run. A run is the records of one send here (one TopicRecords of a
   * request); it leaves whole, never cut by the limits, as KafkaJS writes one send's records for a
   * partition as one record batch: the broker takes or refuses them together. A run over the
   * limits on its own leaves alone (see headRunExceeds).
   */
  take(maxRecords: number, maxBytes: number): QueuedRecord[] {
    const first = this.items[this.head]
    if (!first) return []
    const out: QueuedRecord[] = []
    let bytes = 0
    while (this.head < this.items.length) {
      const next = this.items[this.head]!
      if (!sameBatch(next, first)) break
      const run = this.runAt(this.head)
      if (out.length > 0 && (out.length + run.records > maxRecords || bytes + run.bytes > maxBytes)) break
      for (let i = 0; i < run.records; i++) out.push(this.items[this.head + i]!)
      this.head += run.records
      bytes += run.bytes
    }
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    } else if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return out
  }

  /** Whether the run at the head has more records or bytes than one shared batch may hold. */
  headRunExceeds(maxRecords: number, maxBytes: number): boolean {
    if (this.isEmpty) return false
    const run = this.runAt(this.head)
    return run.records > maxRecords || run.bytes > maxBytes
  }

  /**
   * The run from `at` on: a request's records for a partition are queued in one synchronous
   * step, so a run's records are always consecutive.
   */
  private runAt(at: number): { records: number; bytes: number } {
    const { tracker, segment } = this.items[at]!
    let end = at
    let bytes = 0
    while (end < this.items.length && this.items[end]!.tracker === tracker && this.items[end]!.segment === segment)
      bytes += this.items[end++]!.bytes
    return { records: end - at, bytes }
  }

  /**
   * Removes the records at the head whose deadline has passed. Only from the head, so order is
   * kept: a record behind a live one waits for it (deadlines mostly grow along a queue anyway).
   */
  takeExpired(now: number): QueuedRecord[] {
    const out: QueuedRecord[] = []
    while (this.head < this.items.length && this.items[this.head]!.deadline <= now) out.push(this.items[this.head++]!)
    if (out.length > 0 && this.head === this.items.length) {
      this.items = []
      this.head = 0
    }
    return out
  }

  /** Removes every queued (not in-flight) record, for shutdown. */
  drainQueued(): QueuedRecord[] {
    const out = this.items.slice(this.head)
    this.items = []
    this.head = 0
    return out
  }

  release(records: readonly QueuedRecord[]): void {
    for (const r of records) this.pendingBytes -= r.bytes
    this.pendingRecords -= records.length
  }
}

/** Whether two records may leave in one batch: one codec, acks, producer and broker timeout. */
function sameBatch(a: QueuedRecord, b: QueuedRecord): boolean {
  return (
    a.compression === b.compression && a.acks === b.acks && a.idempotent === b.idempotent && a.timeoutMs === b.timeoutMs
  )
}
