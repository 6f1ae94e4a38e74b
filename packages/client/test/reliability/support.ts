/**
 * Shared pieces of the reliability tests: reading a sidecar's /metrics while a fault is on,
 * forking application worker processes (killed by PID when the test ends), and summing up what
 * the callers were told against what the cluster stored.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { EmbeddedRecord } from '@kafka-sidecar/embedded-kafka'
import { onTestFinished } from 'vitest'
import type { DeliveryReport } from '../../src/index.js'
import { checkPerKeyOrder, idOf } from '../fault-helpers.js'

const repoRoot = fileURLToPath(new URL('../../../..', import.meta.url))

/** One sample of a Prometheus text exposition: `name{labels}` -> value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    out.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return out
}

/** Sum of every series of `name` whose labels contain all of `labels` (e.g. `code="RESOURCE_EXHAUSTED"`). */
export function metricSum(metrics: Map<string, number>, name: string, ...labels: string[]): number {
  let sum = 0
  for (const [series, value] of metrics) {
    const bare = series.split('{')[0]
    if (bare !== name) continue
    if (labels.every((l) => series.includes(l))) sum += value
  }
  return sum
}

export async function scrape(httpAddress: string): Promise<Map<string, number>> {
  const response = await fetch(`http://${httpAddress}/metrics`, { signal: AbortSignal.timeout(2_000) })
  return parseMetrics(await response.text())
}

export async function readyz(httpAddress: string): Promise<number> {
  return (await fetch(`http://${httpAddress}/readyz`, { signal: AbortSignal.timeout(2_000) })).status
}

/**
 * Scrapes a sidecar's /metrics every `intervalMs` until stopped and keeps the largest value seen
 * of each gauge asked for, so a bound is checked during the fault and not only after it.
 */
export class GaugeSampler {
  readonly max = new Map<string, number>()
  samples = 0
  failedScrapes = 0
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> = Promise.resolve()

  constructor(
    private readonly httpAddress: string,
    private readonly gauges: readonly string[],
    private readonly intervalMs = 50,
  ) {
    for (const g of gauges) this.max.set(g, 0)
  }

  start(): void {
    const tick = () => {
      this.running = scrape(this.httpAddress).then(
        (metrics) => {
          this.samples++
          for (const g of this.gauges) this.max.set(g, Math.max(this.max.get(g)!, metricSum(metrics, g)))
        },
        () => void this.failedScrapes++,
      )
      void this.running.then(() => {
        if (this.timer) this.timer = setTimeout(tick, this.intervalMs)
      })
    }
    this.timer = setTimeout(tick, 0)
    onTestFinished(() => this.stop())
  }

  /** Returns the maxima so far and starts new ones (to tell one phase from another). */
  resetMax(): Record<string, number> {
    const out = Object.fromEntries(this.max)
    for (const g of this.gauges) this.max.set(g, 0)
    return out
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await this.running
  }
}

// --- application worker processes ------------------------------------------------------------

export interface WorkerHandle {
  readonly id: number
  readonly child: ChildProcess
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  alive(): boolean
  send(message: unknown): void
  stderr(): string
}

/**
 * Forks `script` (TypeScript, run through tsx against the package sources, as the sidecar child
 * is) with an IPC channel. The child is SIGKILLed by PID when the test ends if it is still alive.
 */
export function forkWorker(
  script: string,
  id: number,
  env: Record<string, string>,
  onMessage: (message: unknown) => void,
): WorkerHandle {
  const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KAFKA_')))
  const child = fork(script, [], {
    cwd: repoRoot,
    execPath: process.execPath,
    execArgv: ['--import', 'tsx', '--conditions=@kafka-sidecar/source'],
    env: { ...cleanEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  const pid = child.pid!
  let err = ''
  child.stdout!.resume()
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err = (err + chunk).slice(-4_000)))
  let running = true
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      running = false
      resolve({ code, signal })
    }),
  )
  child.on('message', onMessage)
  onTestFinished(async () => {
    if (running) process.kill(pid, 'SIGKILL')
    await exited
  })
  return {
    id,
    child,
    exited,
    alive: () => running,
    send: (message) => {
      if (running && child.connected) child.send(message as never)
    },
    stderr: () => err,
  }
}

// --- what the callers were told vs what the cluster stored -----------------------------------

export interface Accounting {
  /** Unique records stored, duplicates, first-occurrence order violations per key. */
  readonly stored: number
  readonly duplicates: number
  readonly violations: string[]
  /** Acked records missing from the cluster (must be empty). */
  readonly ackedMissing: string[]
  /** Stored values nobody attempted (must be empty). */
  readonly unknownStored: string[]
  /** Failed records that are in the cluster all the same ("may or may not have been written"). */
  readonly failedButStored: number
}

export function account(
  records: readonly EmbeddedRecord[],
  attempted: ReadonlySet<string>,
  acked: Iterable<string>,
  failed: Iterable<string>,
): Accounting {
  const order = checkPerKeyOrder(records)
  const ackedMissing: string[] = []
  for (const value of acked) if (!order.values.has(value)) ackedMissing.push(value)
  let failedButStored = 0
  for (const value of failed) if (order.values.has(value)) failedButStored++
  const unknownStored = [...order.values].filter((v) => !attempted.has(v))
  return {
    stored: order.values.size,
    duplicates: order.duplicates,
    violations: order.violations,
    ackedMissing,
    unknownStored,
    failedButStored,
  }
}

/**
 * Checks the delivery reports: exactly one per attempted record, without error for an acked
 * record (and at the offset that holds it), with an error for a failed one. Returns problems.
 */
export function checkReportOutcomes(
  reports: readonly DeliveryReport[],
  records: readonly EmbeddedRecord[],
  acked: ReadonlySet<string>,
  failed: ReadonlySet<string>,
): string[] {
  const problems: string[] = []
  const stored = new Map<string, string>()
  for (const r of records) stored.set(`${r.topic}/${r.partition}/${r.offset}`, r.value?.toString() ?? '')
  const counts = new Map<string, number>()
  for (const report of reports) {
    const id = idOf(report)
    counts.set(id, (counts.get(id) ?? 0) + 1)
    if (acked.has(id)) {
      if (report.error) problems.push(`${id}: acked, but reported failed: ${report.error.message}`)
      else if (stored.get(`${report.topic}/${report.partition}/${report.offset}`) !== id)
        problems.push(
          `${id}: reported at ${report.topic}/${report.partition}/${report.offset}, which holds something else`,
        )
    } else if (failed.has(id)) {
      if (!report.error) problems.push(`${id}: its send failed, but reported delivered (${report.path})`)
    } else problems.push(`${id}: reported but never attempted`)
  }
  for (const id of [...acked, ...failed])
    if (counts.get(id) !== 1) problems.push(`${id}: ${counts.get(id) ?? 0} reports`)
  return problems
}

/** Tally of values by a label, e.g. failures by error name: `{ KafkaJSError: 12 }`. */
export function tally<T>(items: Iterable<T>, label: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const item of items) out[label(item)] = (out[label(item)] ?? 0) + 1
  return out
}

/** Fallback reasons where the sidecar may have taken the records (so a duplicate is possible). */
export function outcomeUnknown(reason: string): boolean {
  return !/circuit breaker open|Breaker is open|sidecar refused the request/.test(reason)
}
