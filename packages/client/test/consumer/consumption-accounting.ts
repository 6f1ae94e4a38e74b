/**
 * Per-record accounting of what a pod's worker processes consumed against what the cluster
 * stored: every stored record processed at least once (skipped = 0), nothing processed that was
 * not stored, order per partition within each ownership, and every duplicate explained as
 * at-least-once allows: the tail of an ownership that ended before it was committed, processed
 * again by the next owner. An ownership is what a worker processed of one partition between two
 * of its GROUP_JOINs (every change of its partitions is one, in both modes).
 */
import type { EmbeddedRecord } from '@kafka-sidecar/embedded-kafka'
import type { PodWorker, WorkerLine } from './pod-workers.js'

export interface Accounting {
  readonly stored: number
  readonly processed: number
  /** Stored records no worker processed. */
  readonly skipped: number
  /** The first of them, as partition:offset (what a failure shows). */
  readonly skippedFirst: string[]
  /** Processed records the cluster does not hold at that offset with that value. */
  readonly unknown: number
  /** Processings beyond the first of each record. */
  readonly duplicates: number
  /** Processings redone later that are not the tail of an ended ownership (a redelivery at-least-once does not explain). */
  readonly unexplainedDuplicates: number
  /** Within one ownership: an offset not one above the previous one (backwards, repeated or skipped). */
  readonly orderViolations: number
  /** Ownerships that ended with records processed again by a later owner. */
  readonly cutOwnerships: number
}

/** Groups each worker's record lines by ownership and partition, in the order processed. */
function ownershipRuns(workers: readonly PodWorker[]): Map<string, WorkerLine[]> {
  const runs = new Map<string, WorkerLine[]>()
  workers.forEach((worker, w) => {
    let joins = 0
    for (const line of worker.lines()) {
      if (line.event === 'join') joins++
      if (line.event !== 'record') continue
      const ownership = `${w}/${joins}/${line.p}`
      let run = runs.get(ownership)
      if (!run) runs.set(ownership, (run = []))
      run.push(line)
    }
  })
  return runs
}

const key = (p: number, o: number) => `${p}:${o}`

export function account(workers: readonly PodWorker[], stored: readonly EmbeddedRecord[]): Accounting {
  const storedValues = new Map(stored.map((r) => [key(r.partition, r.offset), r.value?.toString()]))
  const runs = ownershipRuns(workers)
  const times = new Map<string, number>()
  let processed = 0
  let unknown = 0
  let orderViolations = 0
  for (const run of runs.values()) {
    run.forEach((line, i) => {
      processed++
      const k = key(line.p!, line.o!)
      times.set(k, (times.get(k) ?? 0) + 1)
      if (storedValues.get(k) !== line.v) unknown++
      if (i > 0 && line.o !== run[i - 1]!.o! + 1) orderViolations++
    })
  }
  const { unexplained, cut } = explainDuplicates(runs)
  const skipped = [...storedValues.keys()].filter((k) => !times.has(k))
  return {
    stored: stored.length,
    processed,
    skipped: skipped.length,
    skippedFirst: skipped.slice(0, 10),
    unknown,
    duplicates: processed - times.size,
    unexplainedDuplicates: unexplained,
    orderViolations,
    cutOwnerships: cut,
  }
}

/**
 * A processing is redone when the same record was processed again later. Redone processings are
 * explained when they form the tail of their ownership: from the first redone record of a run,
 * every later record of the run was redone too (an owner cut off before it committed, the next
 * one going on from the last commit). Each other redone processing is unexplained.
 */
function explainDuplicates(runs: Map<string, WorkerLine[]>): { unexplained: number; cut: number } {
  const last = new Map<string, number>()
  for (const run of runs.values())
    for (const line of run) last.set(key(line.p!, line.o!), Math.max(last.get(key(line.p!, line.o!)) ?? 0, line.t!))
  let unexplained = 0
  let cut = 0
  for (const run of runs.values()) {
    const redone = run.map((line) => line.t! < last.get(key(line.p!, line.o!))!)
    const first = redone.indexOf(true)
    if (first < 0) continue
    cut++
    if (!redone.slice(first).every(Boolean)) unexplained += redone.filter(Boolean).length
  }
  return { unexplained, cut }
}

/**
 * The longest time without a record processed between `from` and `to` (worker clocks, Date.now()):
 * of the whole pod, and of the partition that waited longest. Measured on first processings only,
 * so records processed again do not hide a pause of new ones.
 */
export function longestPauses(
  workers: readonly PodWorker[],
  from: number,
  to: number,
): { podMs: number; partitionMs: number; partition: number } {
  const firsts = new Map<string, WorkerLine>()
  for (const line of workers.flatMap((w) => w.records()).sort((a, b) => a.t! - b.t!)) {
    const k = key(line.p!, line.o!)
    if (!firsts.has(k)) firsts.set(k, line)
  }
  const inWindow = [...firsts.values()].filter((l) => l.t! >= from && l.t! <= to)
  const gap = (ts: number[]) => {
    const all = [from, ...ts, to]
    return Math.max(...all.slice(1).map((t, i) => t - all[i]!))
  }
  const podMs = gap(inWindow.map((l) => l.t!))
  let partitionMs = 0
  let partition = -1
  for (const p of new Set(inWindow.map((l) => l.p!))) {
    const ms = gap(inWindow.filter((l) => l.p === p).map((l) => l.t!))
    if (ms > partitionMs) [partitionMs, partition] = [ms, p]
  }
  return { podMs, partitionMs, partition }
}
