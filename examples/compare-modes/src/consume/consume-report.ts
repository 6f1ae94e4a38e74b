/** The consumer comparison as a terminal table: one row per measure, direct, sidecar, the ratio. */
import type { ConsumeModeResult } from './run-consume-mode.js'

/** A mode's result, or why it has none. */
export type ModeOutcome = ConsumeModeResult | { readonly mode: 'direct' | 'sidecar'; readonly error: string }

interface Row {
  readonly label: string
  readonly value: (r: ConsumeModeResult) => number | undefined
  /** How to read sidecar against direct. */
  readonly compare: 'ratio' | 'fewer' | 'difference' | 'none'
}

const ROWS: Row[] = [
  { label: 'group members (describeGroup)', value: (r) => r.groupMembers, compare: 'fewer' },
  { label: 'peak broker connections', value: (r) => r.peakBrokerConnections, compare: 'fewer' },
  { label: 'start: seconds to a steady group', value: (r) => r.groupSteadySeconds, compare: 'none' },
  { label: 'backlog: records/s consumed', value: (r) => r.backlog.recordsPerSec, compare: 'ratio' },
  { label: 'backlog: seconds', value: (r) => r.backlog.seconds, compare: 'none' },
  { label: 'backlog: CPU µs/record, workers', value: (r) => r.backlog.cpu.workersUs, compare: 'none' },
  { label: 'backlog: CPU µs/record, sidecar', value: (r) => r.backlog.cpu.sidecarUs ?? undefined, compare: 'none' },
  {
    label: 'backlog: CPU µs/record, brokers+harness',
    value: (r) => r.backlog.cpu.harnessUs,
    compare: 'none',
  },
  { label: 'live: latency p50 (ms)', value: (r) => r.live.p50Ms, compare: 'difference' },
  { label: 'live: latency p99 (ms)', value: (r) => r.live.p99Ms, compare: 'difference' },
  { label: 'restart: Kafka rebalances', value: (r) => r.restart.rebalances, compare: 'none' },
  {
    label: 'restart: longest partition pause (ms)',
    value: (r) => r.restart.longestPartitionPauseMs,
    compare: 'difference',
  },
  { label: 'restart: longest group pause (ms)', value: (r) => r.restart.longestGroupPauseMs, compare: 'difference' },
  { label: 'restart: latency p99 (ms)', value: (r) => r.restart.p99Ms, compare: 'difference' },
  { label: 'restart: seconds', value: (r) => r.restart.seconds, compare: 'none' },
  { label: 'restart: SIGTERM to exit (ms, mean)', value: (r) => r.restart.meanStepsMs.stop, compare: 'difference' },
  {
    label: 'restart: run to first record (ms, mean)',
    value: (r) => r.restart.meanStepsMs.firstRecord,
    compare: 'difference',
  },
  { label: 'restart: duplicates', value: (r) => r.restart.duplicates, compare: 'none' },
  {
    label: 'records produced',
    value: (r) => r.backlog.produced + r.live.produced + r.restart.produced,
    compare: 'none',
  },
  { label: 'lost (produced, never processed)', value: (r) => r.lost, compare: 'none' },
  { label: 'duplicates (all phases)', value: (r) => r.duplicates, compare: 'none' },
  { label: 'sidecar CPU (% of a core)', value: (r) => r.sidecarCpuPercent, compare: 'none' },
  { label: 'sidecar RSS peak (MB)', value: (r) => r.sidecarRssMb, compare: 'none' },
]

function format(x: number | undefined): string {
  if (x === undefined || Number.isNaN(x)) return '-'
  return Number.isInteger(x) ? x.toLocaleString('en-US') : x.toFixed(2)
}

function compare(row: Row, direct: number | undefined, sidecar: number | undefined): string {
  if (row.compare === 'none' || direct === undefined || sidecar === undefined) return ''
  if (row.compare === 'ratio') return direct ? `${(sidecar / direct).toFixed(2)}x` : ''
  if (row.compare === 'fewer') return sidecar ? `${(direct / sidecar).toFixed(1)}x fewer` : ''
  const d = sidecar - direct
  return `${d >= 0 ? '+' : ''}${d.toFixed(2)} ms`
}

export function consumeTable(direct: ModeOutcome, sidecar: ModeOutcome): string {
  const of = (o: ModeOutcome, row: Row) => ('error' in o ? undefined : row.value(o))
  const width = Math.max(...ROWS.map((r) => r.label.length))
  const lines = [`${''.padEnd(width)}  ${'direct'.padStart(10)}  ${'sidecar'.padStart(10)}  sidecar vs direct`]
  for (const row of ROWS) {
    const d = of(direct, row)
    const s = of(sidecar, row)
    lines.push(
      `${row.label.padEnd(width)}  ${format(d).padStart(10)}  ${format(s).padStart(10)}  ${compare(row, d, s)}`,
    )
  }
  return lines.join('\n')
}
