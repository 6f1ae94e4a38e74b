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
  readonly message: Message
  readonly bytes: number
  readonly compression: CompressionCode
  /** The request's acks: records leave in batches of one acks setting. */
  readonly acks: Acks
  /** Written by the idempotent producer: records leave in batches of one producer. */
  readonly idempotent: boolean
  readonly enqueuedAt: number
  /** When the request's own timeout runs out: still queued by then, the record is failed unsent. */
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

  /** Takes the next batch: same compression, acks and producer as the head, within both limits, at least one record. */
  take(maxRecords: number, maxBytes: number): QueuedRecord[] {
    const first = this.items[this.head]
    if (!first) return []
    const out: QueuedRecord[] = []
    let bytes = 0
    while (this.head < this.items.length && out.length < maxRecords) {
      const next = this.items[this.head]!
      if (next.compression !== first.compression || next.acks !== first.acks || next.idempotent !== first.idempotent) break
      if (out.length > 0 && bytes + next.bytes > maxBytes) break
      out.push(next)
      bytes += next.bytes
      this.head++
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
