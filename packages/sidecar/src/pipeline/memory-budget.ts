/**
 * Bounds what the sidecar holds: bytes and records, in total and per partition, counted from
 * acceptance until the broker answered. A request that would cross a bound is refused whole with
 * RESOURCE_EXHAUSTED and a retry-after estimated from how fast the queue has been draining.
 */
import { status } from '@grpc/grpc-js'
import { KafkaErrors, SidecarError } from '../errors.js'

export interface MemoryLimits {
  readonly maxQueuedBytes: number
  readonly maxQueuedRecords: number
  readonly maxQueuedBytesPerPartition: number
  readonly maxQueuedRecordsPerPartition: number
}

export interface Demand {
  readonly bytes: number
  readonly records: number
}

const MIN_RETRY_AFTER_MS = 10
const MAX_RETRY_AFTER_MS = 2_000
/** Weight of the newest drain-rate sample. */
const RATE_SMOOTHING = 0.2

export class MemoryBudget {
  bytes = 0
  records = 0
  /** Smoothed bytes released per millisecond. */
  private drainRate = 0
  private lastReleaseAt = 0

  constructor(readonly limits: MemoryLimits) {}

  /**
   * Reserves `total` if it fits with every partition's `perPartition` demand (given each
   * partition's current pending counts), or returns the refusal.
   */
  tryReserve(
    total: Demand,
    perPartition: Iterable<{ name: string; pending: Demand; demand: Demand }>,
  ): SidecarError | null {
    const { limits } = this
    const partitions = [...perPartition]
    const never = this.neverFits(total, partitions)
    if (never) return never
    if (this.bytes + total.bytes > limits.maxQueuedBytes)
      return this.full(
        `queued bytes would reach ${this.bytes + total.bytes} of ${limits.maxQueuedBytes}`,
        this.bytes + total.bytes - limits.maxQueuedBytes,
      )
    if (this.records + total.records > limits.maxQueuedRecords)
      return this.full(`queued records would reach ${this.records + total.records} of ${limits.maxQueuedRecords}`, 0)
    for (const p of partitions) {
      if (p.pending.bytes + p.demand.bytes > limits.maxQueuedBytesPerPartition) {
        return this.full(
          `partition ${p.name} would hold ${p.pending.bytes + p.demand.bytes} bytes, limit ${limits.maxQueuedBytesPerPartition}`,
          p.pending.bytes + p.demand.bytes - limits.maxQueuedBytesPerPartition,
        )
      }
      if (p.pending.records + p.demand.records > limits.maxQueuedRecordsPerPartition) {
        return this.full(
          `partition ${p.name} would hold ${p.pending.records + p.demand.records} records, limit ${limits.maxQueuedRecordsPerPartition}`,
          0,
        )
      }
    }
    this.bytes += total.bytes
    this.records += total.records
    return null
  }

  /**
   * A request larger than a bound on its own would be refused as "full" forever; say instead that
   * it is too large, so the client splits it or fails the send at once rather than at its timeout.
   */
  private neverFits(total: Demand, partitions: ReadonlyArray<{ name: string; demand: Demand }>): SidecarError | null {
    const { limits } = this
    const tooLarge = (what: string) =>
      new SidecarError({
        grpcCode: status.INVALID_ARGUMENT,
        message: `request is larger than this sidecar ever queues: ${what}; send fewer records at a time`,
        kafka: KafkaErrors.RECORD_LIST_TOO_LARGE,
      })
    if (total.bytes > limits.maxQueuedBytes)
      return tooLarge(`${total.bytes} bytes, max_queued_bytes ${limits.maxQueuedBytes}`)
    if (total.records > limits.maxQueuedRecords)
      return tooLarge(`${total.records} records, max_queued_records ${limits.maxQueuedRecords}`)
    for (const p of partitions) {
      if (p.demand.bytes > limits.maxQueuedBytesPerPartition)
        return tooLarge(
          `${p.demand.bytes} bytes for partition ${p.name}, max_queued_bytes_per_partition ${limits.maxQueuedBytesPerPartition}`,
        )
      if (p.demand.records > limits.maxQueuedRecordsPerPartition)
        return tooLarge(
          `${p.demand.records} records for partition ${p.name}, max_queued_records_per_partition ${limits.maxQueuedRecordsPerPartition}`,
        )
    }
    return null
  }

  /** Gives back a reservation nothing was queued for (not a drain: the rate estimate is untouched). */
  cancel(reserved: Demand): void {
    this.bytes -= reserved.bytes
    this.records -= reserved.records
  }

  release(bytes: number, records: number, now = Date.now()): void {
    this.bytes -= bytes
    this.records -= records
    const elapsed = Math.max(1, now - this.lastReleaseAt)
    const sample = bytes / elapsed
    this.drainRate = this.lastReleaseAt === 0 ? sample : this.drainRate * (1 - RATE_SMOOTHING) + sample * RATE_SMOOTHING
    this.lastReleaseAt = now
  }

  /** How long until `excessBytes` have drained at the recent rate, within sane bounds. */
  private retryAfter(excessBytes: number): number {
    const estimate = this.drainRate > 0 ? Math.ceil(Math.max(excessBytes, 1) / this.drainRate) : 100
    return Math.min(MAX_RETRY_AFTER_MS, Math.max(MIN_RETRY_AFTER_MS, estimate))
  }

  private full(reason: string, excessBytes: number): SidecarError {
    const retryAfterMs = this.retryAfter(excessBytes)
    return new SidecarError({
      grpcCode: status.RESOURCE_EXHAUSTED,
      message: `sidecar queue is full (${reason}); retry after ${retryAfterMs} ms`,
      retriable: true,
      retryAfterMs,
    })
  }
}
