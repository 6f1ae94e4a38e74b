/**
 * What one fault row measured, from what the workers were told and what the cluster stored:
 * sends completed and failed, the longest time no send completed anywhere, latency, duplicates
 * (and whether each was a record whose outcome was unknown), lost records.
 */
import type { EmbeddedRecord } from '@kafka-sidecar/embedded-kafka'
import { checkPerKeyOrder } from '../../fault-helpers.js'

/** Everything one worker reported over the row. */
export interface WorkerRecord {
  readonly id: number
  ready: string | null
  acked: string[]
  ackedAt: number[]
  ackedLatencyMs: number[]
  failed: Array<{ value: string; error: string; at: number }>
  /** Records sent directly after their attempt on the sidecar path failed, and why. */
  fellBack: Array<{ value: string; reason: string }>
  directDelivered: Set<string>
  fallbacks: Array<{ reason: string; records: number; at: number }>
  attemptedByKey: Record<string, number>
  breakerOpens: number
  sidecarReports: number
  directReports: number
  breakerState: string
  /** Times it was told the sidecar writes to another cluster. */
  clusterMismatches: number
  done: boolean
  exit: { code: number | null; signal: string | null } | null
  stderr: string
}

export interface Window {
  /** Date.now() values. */
  readonly goAt: number
  readonly faultStart: number
  readonly faultEnd: number
  readonly stopAt: number
}

export interface Measured {
  readonly attempted: number
  readonly completed: number
  readonly failed: number
  /** Failed sends whose record is in the cluster all the same (not lost; the caller was told "failed"). */
  readonly failedButStored: number
  /**
   * Longest time between two consecutive completed sends (any worker), from the first completion
   * after the load started until the stop; null when nothing completed.
   */
  readonly longestGapMs: number | null
  /** Where that gap began, in ms from the fault's start (negative: before it). */
  readonly longestGapFromFaultMs: number | null
  readonly latencyMs: {
    p50: number | null
    p99: number | null
    max: number | null
    p50DuringFault: number | null
    p99DuringFault: number | null
  }
  /** Records stored more than once, the extra copies, and how many of those records had an unknown outcome. */
  readonly duplicates: { records: number; extraCopies: number; unknownOutcome: number; other: string[] }
  /**
   * Records re-sent directly after the sidecar path failed while it may have had them. `inFlight`:
   * of those, the ones not refused at connect (ECONNREFUSED, ENOENT: never reached a sidecar).
   */
  readonly resentAfterSidecarFailure: { records: number; inFlight: number }
  /** Counts, and the first few of each. */
  readonly lost: { total: number; ackedMissing: number; vanished: number; examples: string[] }
  readonly storedUnknown: string[]
  readonly orderViolations: number
  /** The first violations, each with what happened to the two records (path, fallback reason, failure). */
  readonly orderViolationDetails: string[]
  /** What happened to the duplicated records not re-sent after an unknown outcome. */
  readonly otherDuplicateDetails: string[]
  /**
   * How fast the workers left the sidecar path after the fault began, in ms from its start: the
   * first fallback of any worker, the time by which every worker had fallen back at least once,
   * and the first record delivered directly. Null when it did not happen.
   */
  readonly detection: {
    firstFallbackMs: number | null
    everyWorkerFellBackMs: number | null
    firstDirectDeliveryMs: number | null
  }
  readonly stored: number
  readonly paths: { sidecar: number; direct: number }
  readonly breakerOpens: number
  readonly fallbackReasons: Record<string, number>
  readonly failures: Record<string, number>
}

export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

/** A reason without the numbers that differ per request, for tallies. */
export function reasonLabel(reason: string): string {
  return reason
    .replace(/request \d+/g, 'request N')
    .replace(/\d+ ms/g, 'N ms')
    .replace(/\/tmp\/\S+/g, '<socket>')
    .slice(0, 110)
}

function tally(labels: Iterable<string>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const label of labels) out[label] = (out[label] ?? 0) + 1
  return out
}

/** The connection never reached a sidecar: nothing can have been written. */
const NEVER_REACHED = /ECONNREFUSED|ENOENT|No connection established/

/**
 * Fallback reasons after which the sidecar may have the records (the client's
 * SidecarUnavailableError with outcomeUnknown: the stream broke or ended, no answer in time).
 * The others say the sidecar never took them: refused as unavailable, not written because an
 * earlier request failed, a failed half-open probe, a failed write.
 */
export function outcomeUnknown(reason: string): boolean {
  return /^(sidecar stream failed|sidecar ended the stream|sidecar did not answer request|the producer closed its sidecar stream)/.test(
    reason,
  )
}

export function measure(
  workers: readonly WorkerRecord[],
  records: readonly EmbeddedRecord[],
  window: Window,
): Measured {
  const acked = workers.flatMap((w) => w.acked)
  const failed = workers.flatMap((w) => w.failed)
  const attempted = new Set<string>()
  for (const w of workers)
    for (const [key, n] of Object.entries(w.attemptedByKey)) for (let i = 0; i < n; i++) attempted.add(`${key}:${i}`)

  const copies = new Map<string, number>()
  for (const r of records) {
    const value = r.value?.toString() ?? '<null>'
    copies.set(value, (copies.get(value) ?? 0) + 1)
  }
  const ackedMissing = acked.filter((v) => !copies.has(v))
  const settled = new Set([...acked, ...failed.map((f) => f.value)])
  const vanished = [...attempted].filter((v) => !settled.has(v) && !copies.has(v))
  const storedUnknown = [...copies.keys()].filter((v) => !attempted.has(v))
  const failedButStored = failed.filter((f) => copies.has(f.value)).length

  const resent = new Map<string, string>()
  const fellBack = new Map<string, string[]>()
  for (const w of workers) {
    for (const f of w.fellBack) {
      fellBack.set(f.value, [...(fellBack.get(f.value) ?? []), f.reason])
      if (outcomeUnknown(f.reason)) resent.set(f.value, f.reason)
    }
  }
  const failedWith = new Map(failed.map((f) => [f.value, f.error]))
  const directDelivered = new Set(workers.flatMap((w) => [...w.directDelivered]))
  /** What happened to one record, for the details of an anomaly. */
  const story = (value: string) =>
    [
      `${value}: ${copies.get(value) ?? 0} stored`,
      failedWith.has(value)
        ? `failed (${reasonLabel(failedWith.get(value)!)})`
        : directDelivered.has(value)
          ? 'delivered direct'
          : 'delivered via sidecar',
      ...(fellBack.get(value) ?? []).map((r) => `fell back: ${reasonLabel(r)}`),
    ].join(', ')
  const duplicated = [...copies].filter(([, n]) => n > 1)
  const dupOther = duplicated.filter(([v]) => !resent.has(v)).map(([v]) => v)
  const order = checkPerKeyOrder(records)
  const orderViolationDetails = order.violations.slice(0, 10).map((v) => {
    const match = /: (\S+) first written after (\S+)$/.exec(v)
    return match ? `${v} [${story(match[1]!)}] [${story(match[2]!)}]` : v
  })

  const afterFault = (at: number) => at >= window.faultStart
  const firstFallbacks = workers.map((w) => w.fallbacks.find((f) => afterFault(f.at))?.at ?? null)
  const ackedAt = new Map<string, number>()
  for (const w of workers) w.acked.forEach((v, i) => ackedAt.set(v, w.ackedAt[i]!))
  const directTimes = [...directDelivered]
    .map((v) => ackedAt.get(v))
    .filter((t): t is number => t !== undefined && afterFault(t))
  const known = firstFallbacks.filter((t): t is number => t !== null)
  const detection = {
    firstFallbackMs: known.length ? Math.min(...known) - window.faultStart : null,
    everyWorkerFellBackMs:
      known.length === workers.length && known.length > 0 ? Math.max(...known) - window.faultStart : null,
    firstDirectDeliveryMs: directTimes.length ? Math.min(...directTimes) - window.faultStart : null,
  }

  const times = workers
    .flatMap((w) => w.ackedAt)
    .filter((t) => t >= window.goAt)
    .sort((a, b) => a - b)
  let longestGapMs: number | null = null
  let gapStart: number | null = null
  if (times.length > 0) {
    longestGapMs = 0
    const points = [...times, Math.max(window.stopAt, times[times.length - 1]!)]
    for (let i = 1; i < points.length; i++) {
      const gap = points[i]! - points[i - 1]!
      if (gap > longestGapMs) {
        longestGapMs = gap
        gapStart = points[i - 1]!
      }
    }
  }
  const latencies = workers.flatMap((w) => w.ackedLatencyMs).sort((a, b) => a - b)
  const duringFault = workers
    .flatMap((w) =>
      w.ackedLatencyMs.filter(
        (latency, i) => w.ackedAt[i]! - latency >= window.faultStart && w.ackedAt[i]! - latency <= window.faultEnd,
      ),
    )
    .sort((a, b) => a - b)

  return {
    attempted: attempted.size,
    completed: acked.length,
    failed: failed.length,
    failedButStored,
    longestGapMs,
    longestGapFromFaultMs: gapStart === null ? null : gapStart - window.faultStart,
    latencyMs: {
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? null,
      p50DuringFault: percentile(duringFault, 50),
      p99DuringFault: percentile(duringFault, 99),
    },
    duplicates: {
      records: duplicated.length,
      extraCopies: duplicated.reduce((n, [, c]) => n + c - 1, 0),
      unknownOutcome: duplicated.length - dupOther.length,
      other: dupOther.slice(0, 20),
    },
    resentAfterSidecarFailure: {
      records: resent.size,
      inFlight: [...resent.values()].filter((r) => !NEVER_REACHED.test(r)).length,
    },
    lost: {
      total: ackedMissing.length + vanished.length,
      ackedMissing: ackedMissing.length,
      vanished: vanished.length,
      examples: [...ackedMissing.slice(0, 10), ...vanished.slice(0, 10)],
    },
    storedUnknown: storedUnknown.slice(0, 20),
    orderViolations: order.violations.length,
    orderViolationDetails,
    otherDuplicateDetails: dupOther.slice(0, 10).map(story),
    detection,
    stored: copies.size,
    paths: {
      sidecar: workers.reduce((n, w) => n + w.sidecarReports, 0),
      direct: workers.reduce((n, w) => n + w.directReports, 0),
    },
    breakerOpens: workers.reduce((n, w) => n + w.breakerOpens, 0),
    fallbackReasons: sumByLabel(workers.flatMap((w) => w.fallbacks)),
    failures: tally(failed.map((f) => reasonLabel(f.error))),
  }
}

/** Records per fallback reason. */
function sumByLabel(fallbacks: ReadonlyArray<{ reason: string; records: number }>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const f of fallbacks) out[reasonLabel(f.reason)] = (out[reasonLabel(f.reason)] ?? 0) + f.records
  return out
}
