/** The fault matrix as Markdown tables: the issue's columns, then how each row got there. */
import type { PendingRow, RowResult } from './row-runner.js'

const n = (x: number) => x.toLocaleString('en-US')
const ms = (x: number | null) => (x === null ? 'n/a' : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${n(x)} ms`)

export function isPending(row: RowResult | PendingRow): row is PendingRow {
  return !('targets' in row)
}

export function formatTable(rows: ReadonlyArray<RowResult | PendingRow>): string {
  const lines = [
    '| # | fault | completed | failed | longest gap | p99 latency: run / fault | duplicates (unknown outcome) | lost | targets |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---|',
  ]
  for (const row of rows) {
    if (isPending(row)) {
      lines.push(`| ${row.number} | ${row.title} | | | | | | | not measured yet: ${row.pending} |`)
      continue
    }
    const missed = row.targets.filter((t) => !t.met)
    const targets =
      missed.length === 0
        ? `met (${row.targets.length})`
        : `**missed**: ${missed.map((t) => `${t.name} (${t.measured})`).join('; ')}`
    lines.push(
      `| ${row.number} | ${row.title} | ${n(row.completed)} | ${n(row.failed)} | ${ms(row.longestGapMs)} | ${ms(row.latencyMs.p99)} / ${ms(row.latencyMs.p99DuringFault)} | ${n(row.duplicates.records)} (${n(row.duplicates.unknownOutcome)}) | ${n(row.lost.total)} | ${targets} |`,
    )
  }
  return lines.join('\n')
}

export function formatDetails(rows: ReadonlyArray<RowResult | PendingRow>): string {
  const lines = [
    '| # | fault window | first fallback / every worker / first direct delivery | via sidecar / direct | re-sent after an unknown outcome (in flight) | breaker opened | back on the sidecar after | failed but stored | order violations | failures (most common) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ]
  for (const row of rows) {
    if (isPending(row)) continue
    const topFailure = Object.entries(row.failures).sort((a, b) => b[1] - a[1])[0]
    lines.push(
      `| ${row.number} | ${ms(row.faultMs)} | ${ms(row.detection.firstFallbackMs)} / ${ms(row.detection.everyWorkerFellBackMs)} / ${ms(row.detection.firstDirectDeliveryMs)} | ${n(row.paths.sidecar)} / ${n(row.paths.direct)} | ${n(row.resentAfterSidecarFailure.records)} (${n(row.resentAfterSidecarFailure.inFlight)}) | ${n(row.breakerOpens)} | ${ms(row.backOnSidecarMs)} | ${n(row.failedButStored)} | ${n(row.orderViolations)} | ${topFailure ? `${n(topFailure[1])} x ${topFailure[0].replace(/\|/g, '\\|')}` : ''} |`,
    )
  }
  return lines.join('\n')
}
