/**
 * The fault matrix (issue 13): each fault made under load from N forked application processes
 * (client producers in sidecar mode, the client's default settings, KafkaJS's default 30 s send
 * timeout), each row on a fresh embedded cluster with the kafka-sidecar CLI as a child process.
 * Per row: sends completed and failed, the longest time no send completed in any worker, p99
 * send latency, records stored more than once (and how many of them had an unknown outcome),
 * records lost; and whether the row's targets are met. Prints Markdown tables, writes JSON.
 *
 *   pnpm faults [--rows 1,2,3] [--workers 8] [--pause-ms 2] [--cluster-mismatch refuse|warn] [--json .bench-results/fault-matrix.json]
 *
 * --pause-ms: each worker keeps 3 sends per key in flight for 4 keys, starting a key's next send
 * this long after the previous one settled; 2 ms is as fast as the machine goes, a larger pause
 * paces the load (leaves CPU for everything else). --slow-delay-ms: row 3's delay (300 ms).
 * --cluster-mismatch: the workers' clusterMismatch in row 8 (refuse). --log-dir: every child's whole output also goes to a file there (with GRPC_TRACE=keepalive
 * GRPC_VERBOSITY=DEBUG in the environment, say, to see who closed a connection).
 *
 * Takes several minutes (the hung row alone holds the sidecar stopped for 30 s).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { dirname } from 'node:path'
import { parseArgs } from 'node:util'
import { ChildProcesses } from '../test/reliability/processes.js'
import {
  runRow,
  type MatrixSettings,
  type PendingRow,
  type RowResult,
} from '../test/reliability/fault-matrix/row-runner.js'
import { defaultRows } from '../test/reliability/fault-matrix/rows.js'
import { formatDetails, formatTable } from '../test/reliability/fault-matrix/table.js'

const { values } = parseArgs({
  // pnpm forwards a literal `--` separator; it is not an argument.
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    rows: { type: 'string' },
    workers: { type: 'string', default: '8' },
    'pause-ms': { type: 'string', default: '2' },
    'slow-delay-ms': { type: 'string', default: '300' },
    'cluster-mismatch': { type: 'string', default: 'refuse' },
    'log-dir': { type: 'string' },
    json: { type: 'string', default: '.bench-results/fault-matrix.json' },
  },
})

const clusterMismatch = values['cluster-mismatch']
if (clusterMismatch !== 'refuse' && clusterMismatch !== 'warn')
  throw new Error(`--cluster-mismatch must be refuse or warn, got ${clusterMismatch}`)
const all = defaultRows({ slowDelayMs: Number(values['slow-delay-ms']), clusterMismatch })
const wanted = values.rows ? new Set(values.rows.split(',').map(Number)) : null
const settings: MatrixSettings = {
  workers: Number(values.workers),
  keysPerWorker: 4,
  window: 3,
  pauseMs: Number(values['pause-ms']),
  sendTimeoutMs: 30_000,
  client: {},
  warmupMs: 3_000,
  recoveryMs: 6_000,
  returnTimeoutMs: 30_000,
  sidecarFrom: 'built',
  log: (line) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`),
}

if (values['log-dir']) mkdirSync(values['log-dir'], { recursive: true })
const processes = new ChildProcesses(values['log-dir'] ?? null)
// Whatever ends this script, no child it started stays behind.
process.on('exit', () => processes.killAllNow())
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    processes.killAllNow()
    process.exit(130)
  })
}

const results: Array<RowResult | PendingRow> = []
const started = Date.now()
for (const row of all) {
  // A pending row runs only when asked for by number.
  if (wanted ? !wanted.has(row.number) : row.pending) {
    if (!wanted && row.pending) results.push({ number: row.number, id: row.id, title: row.title, pending: row.pending })
    continue
  }
  try {
    results.push(await runRow(row, settings, processes))
  } catch (error) {
    console.error(`row ${row.number} (${row.id}) could not run: ${(error as Error).stack}`)
    process.exitCode = 1
  }
}

const machine = {
  cpus: cpus().length,
  cpu: cpus()[0]?.model ?? 'unknown',
  node: process.version,
  loadavg: loadavg().map((l) => Math.round(l * 100) / 100),
}
console.log(
  `\nFault matrix: ${settings.workers} worker processes (pause ${settings.pauseMs} ms), client defaults, send timeout ${settings.sendTimeoutMs / 1000} s; ${machine.cpus} cores (${machine.cpu}), load average at the end ${machine.loadavg.join(' ')}; ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
)
console.log(formatTable(results))
console.log('')
console.log(formatDetails(results))
for (const row of results) {
  if (!('timeline' in row)) continue
  console.log(
    `\n${row.number} ${row.id}: ${row.timeline.map((t) => `${(t.atMs / 1000).toFixed(1)} s ${t.event} [acked ${t.acked}, direct ${t.viaDirect}]`).join('; ')}`,
  )
  console.log(
    `  longest gap began ${row.longestGapFromFaultMs} ms after the fault's start; fallback reasons: ${JSON.stringify(row.fallbackReasons)}`,
  )
  for (const d of row.otherDuplicateDetails) console.log(`  duplicate, outcome not unknown: ${d}`)
  for (const v of row.orderViolationDetails) console.log(`  order: ${v}`)
  for (const p of row.workerProblems) console.log(`  problem: ${p}`)
}
mkdirSync(dirname(values.json), { recursive: true })
writeFileSync(
  values.json,
  JSON.stringify({ settings: { ...settings, log: undefined }, machine, rows: results }, null, 2),
)
console.log(`\nJSON: ${values.json}`)
