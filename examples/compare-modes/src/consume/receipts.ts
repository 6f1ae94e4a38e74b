/**
 * The parent's account of what the workers processed, per phase: how often each produced record
 * was processed (never: lost; more than once: duplicated), when first, and its end-to-end latency;
 * and every receipt's partition and time, for the pauses in consumption during the restart.
 */
import type { ProcessedRecords } from './consume-worker.js'
import { PHASES, type Phase } from './record-value.js'

/** A Float64Array / Uint16Array that grows as sequence numbers come. */
function grown<T extends Float64Array | Uint16Array>(array: T, length: number, make: (n: number) => T): T {
  if (length <= array.length) return array
  const bigger = make(Math.max(length, array.length * 2))
  bigger.set(array)
  return bigger
}

export class PhaseReceipts {
  private counts = new Uint16Array(1024)
  private firstAtMs = new Float64Array(1024)
  private latencyMs = new Float64Array(1024)
  /** Sequence numbers the producer had acknowledged: only those can be lost. */
  private produced = 0
  private distinct = 0
  private total = 0
  /** Every receipt (duplicates included) as [partition, time] pairs, kept only when asked for. */
  private readonly timeline: number[] | null

  constructor(keepTimeline: boolean) {
    this.timeline = keepTimeline ? [] : null
  }

  /** The producer acknowledged records 0 .. count-1 of this phase. */
  producedUpTo(count: number): void {
    this.produced = Math.max(this.produced, count)
  }

  add(seq: number, partition: number, receivedAtMs: number, sentAtMs: number): void {
    this.counts = grown(this.counts, seq + 1, (n) => new Uint16Array(n))
    this.firstAtMs = grown(this.firstAtMs, seq + 1, (n) => new Float64Array(n))
    this.latencyMs = grown(this.latencyMs, seq + 1, (n) => new Float64Array(n))
    this.total++
    this.timeline?.push(partition, receivedAtMs)
    if (this.counts[seq]! < 0xffff) this.counts[seq]!++
    if (this.counts[seq] !== 1) return
    this.distinct++
    this.firstAtMs[seq] = receivedAtMs
    this.latencyMs[seq] = receivedAtMs - sentAtMs
  }

  /** Every acknowledged record processed at least once. */
  complete(): boolean {
    return this.distinct >= this.produced
  }

  get processedDistinct(): number {
    return this.distinct
  }

  get producedCount(): number {
    return this.produced
  }

  summary(): {
    produced: number
    processed: number
    lost: number
    duplicates: number
    lastFirstReceiptMs: number
    p50Ms: number
    p99Ms: number
    maxMs: number
  } {
    let lost = 0
    let last = 0
    const latencies = new Float64Array(this.produced)
    for (let seq = 0; seq < this.produced; seq++) {
      const seen = seq < this.counts.length && this.counts[seq]! > 0
      if (!seen) lost++
      else last = Math.max(last, this.firstAtMs[seq]!)
      latencies[seq] = seen ? this.latencyMs[seq]! : Number.NaN
    }
    const sorted = latencies.filter((x) => !Number.isNaN(x)).sort()
    return {
      produced: this.produced,
      processed: this.total,
      lost,
      duplicates: this.total - this.distinct,
      lastFirstReceiptMs: last,
      p50Ms: round(percentile(sorted, 50)),
      p99Ms: round(percentile(sorted, 99)),
      maxMs: round(sorted.length ? sorted[sorted.length - 1]! : Number.NaN),
    }
  }

  /**
   * The longest stretch without a record processed: in any one partition (the longest a
   * partition's consumption stood still) and in the whole group, between `fromMs` and `toMs`
   * (the restart's start and end, with records arriving throughout).
   */
  longestPauses(fromMs: number, toMs: number): { partitionMs: number; groupMs: number } {
    const timeline = this.timeline ?? []
    const byPartition = new Map<number, number[]>()
    const all: number[] = []
    for (let i = 0; i < timeline.length; i += 2) {
      const at = timeline[i + 1]!
      if (at < fromMs || at > toMs) continue
      const partition = timeline[i]!
      if (!byPartition.has(partition)) byPartition.set(partition, [])
      byPartition.get(partition)!.push(at)
      all.push(at)
    }
    let partitionMs = 0
    for (const times of byPartition.values()) partitionMs = Math.max(partitionMs, longestGap(times, fromMs, toMs))
    return { partitionMs: round(partitionMs), groupMs: round(longestGap(all, fromMs, toMs)) }
  }
}

/** The longest gap between sorted receipts, counting from `fromMs` to the first and from the last to `toMs`. */
function longestGap(times: number[], fromMs: number, toMs: number): number {
  times.sort((a, b) => a - b)
  let previous = fromMs
  let longest = 0
  for (const at of times) {
    longest = Math.max(longest, at - previous)
    previous = at
  }
  return Math.max(longest, toMs - previous)
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

export function round(x: number): number {
  return Math.round(x * 1000) / 1000
}

/** One PhaseReceipts per phase, fed with the workers' reports. */
export class Receipts {
  readonly phases: Record<Phase, PhaseReceipts> = {
    backlog: new PhaseReceipts(false),
    live: new PhaseReceipts(false),
    restart: new PhaseReceipts(true),
  }

  add(records: ProcessedRecords): void {
    for (let i = 0; i < records.seqs.length; i++) {
      const phase = PHASES[records.phases[i]!]
      if (!phase) continue
      this.phases[phase].add(records.seqs[i]!, records.partitions[i]!, records.receivedAtMs[i]!, records.sentAtMs[i]!)
    }
  }
}
