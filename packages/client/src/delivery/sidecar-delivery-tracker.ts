/**
 * Turns the sidecar's delivery reports into one callback per record, exactly once.
 *
 * Every merged request the client writes is remembered with its records until each of them has
 * been reported. The ack of a request with acks 1 or -1 carries every topic-partition's result:
 * its records are reported from it when it comes, and the sidecar publishes no report for it
 * (EmitRequest.reports_from_ack; an older sidecar still does, and those reports find the
 * request reported already). An ack with acks 0 comes on receipt, without results: those
 * records are reported from the DeliveryReports stream (which resumes after the last sequence
 * seen, so a reconnect neither loses nor repeats), or, when the stream reports a gap (ring
 * overflow, a restarted sidecar) or the report does not come within `reportTimeoutMs`, from the
 * ack (no partition, no offset). A record is marked once reported, so two sources never both
 * fire for it.
 */
import { Acks, type EmitAck, type PartitionResult } from '@kafka-sidecar/proto'
import { absentPartitionError, isAbsentPartition } from './absent-partitions.js'
import type { OutgoingMessage } from '../producer/messages.js'
import type { CoalescerObserver } from '../transport/coalescer.js'
import { toKafkaJSError } from '../transport/sidecar-errors.js'
import type { DeliveryReport } from './delivery-report.js'

interface Entry {
  readonly outgoing: readonly OutgoingMessage[]
  /** Whether the ack carries the results (acks 1 or -1), so the records are reported from it. */
  readonly resultsInAck: boolean
  readonly reported: Uint8Array
  remaining: number
  ackResults: readonly PartitionResult[] | null
  gapSeen: boolean
  timer: NodeJS.Timeout | null
}

export class SidecarDeliveryTracker implements CoalescerObserver {
  private readonly entries = new Map<number, Entry>()
  private idleWaiters: Array<() => void> = []

  constructor(
    private readonly deliver: (report: DeliveryReport) => void,
    private readonly reportTimeoutMs: number,
    /** Whether anyone listens; when nobody does, nothing is remembered. */
    private readonly wanted: () => boolean,
  ) {}

  get pending(): number {
    return this.entries.size
  }

  /** `acks` as the contract's enum (the request's). */
  onRequest(requestId: number, outgoing: readonly OutgoingMessage[], acks: Acks): void {
    if (!this.wanted()) return
    this.entries.set(requestId, {
      outgoing,
      resultsInAck: acks !== Acks.ACKS_NONE,
      reported: new Uint8Array(outgoing.length),
      remaining: outgoing.length,
      ackResults: null,
      gapSeen: false,
      timer: null,
    })
  }

  onAck(requestId: number, ack: EmitAck): void {
    const entry = this.entries.get(requestId)
    if (!entry) return
    entry.ackResults = ack.results
    if (entry.resultsInAck || entry.gapSeen) return this.reportFromAck(requestId, entry)
    entry.timer = setTimeout(() => this.reportFromAck(requestId, entry), this.reportTimeoutMs)
    entry.timer.unref()
  }

  /** The request never reached the sidecar's queue, or its fate is unknown: the caller's path reports it. */
  onAbandoned(requestId: number): void {
    const entry = this.entries.get(requestId)
    if (!entry) return
    if (entry.timer) clearTimeout(entry.timer)
    this.remove(requestId)
  }

  /** A report from the DeliveryReports stream. */
  onReport(requestId: number, result: PartitionResult): void {
    const entry = this.entries.get(requestId)
    if (!entry) return
    this.reportResult(entry, result)
    if (entry.remaining === 0) {
      if (entry.timer) clearTimeout(entry.timer)
      this.remove(requestId)
    }
  }

  /** Reports were lost between sequences: fall back to the acks for everything still open. */
  onGap(): void {
    for (const [requestId, entry] of [...this.entries]) {
      if (entry.ackResults) this.reportFromAck(requestId, entry)
      else entry.gapSeen = true
    }
  }

  /** Resolves once every remembered request is reported, or after `timeoutMs`. */
  whenIdle(timeoutMs: number): Promise<void> {
    if (this.entries.size === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs)
      timer.unref()
      const waiter = () => done()
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.idleWaiters.push(waiter)
    })
  }

  /** Forgets everything (the producer disconnected), reporting what the acks already told. */
  flush(): void {
    for (const [requestId, entry] of [...this.entries]) {
      if (entry.ackResults) this.reportFromAck(requestId, entry)
      else this.onAbandoned(requestId)
    }
  }

  private reportFromAck(requestId: number, entry: Entry): void {
    if (entry.timer) clearTimeout(entry.timer)
    if (!this.entries.has(requestId)) return
    for (const result of entry.ackResults ?? []) this.reportResult(entry, result)
    // acks 0: the sidecar gives no results; what is left was taken but has no known offset.
    entry.outgoing.forEach((out, index) => {
      if (entry.reported[index]) return
      entry.reported[index] = 1
      this.deliver({
        topic: out.topic,
        partition: null,
        offset: null,
        key: out.message.key ?? null,
        headers: out.message.headers,
        error: null,
        path: 'sidecar',
      })
    })
    entry.remaining = 0
    this.remove(requestId)
  }

  private reportResult(entry: Entry, result: PartitionResult): void {
    const error = !result.error
      ? null
      : isAbsentPartition(result.error)
        ? absentPartitionError(result.topic, result.partition)
        : toKafkaJSError(result.error)
    result.recordIndexes.forEach((index, position) => {
      const out = entry.outgoing[index]
      if (!out || entry.reported[index]) return
      entry.reported[index] = 1
      entry.remaining--
      this.deliver({
        topic: out.topic,
        partition: result.partition,
        offset: error === null && result.baseOffset >= 0 ? String(result.baseOffset + position) : null,
        key: out.message.key ?? null,
        headers: out.message.headers,
        error,
        path: 'sidecar',
      })
    })
  }

  private remove(requestId: number): void {
    this.entries.delete(requestId)
    if (this.entries.size === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters
      this.idleWaiters = []
      for (const w of waiters) w()
    }
  }
}
