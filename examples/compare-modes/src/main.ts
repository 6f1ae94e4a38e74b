/**
 * Compare the two modes on one cluster, in one run: N worker processes produce through
 * @kafka-sidecar/client, first with KAFKA_SIDECAR_MODE=direct (each process its own KafkaJS
 * producer), then with KAFKA_SIDECAR_MODE=sidecar (all through one kafka-sidecar process). The
 * worker code is the same; only the environment variable differs.
 *
 *   pnpm demo
 *   pnpm compare [--processes 8] [--records 80000] [--batch 1] [--concurrency 64] [--size 100]
 *                [--partitions 6] [--warmup 0] [--json result.json] [--chart chart.svg] [--tracing] [--pin]
 *                [--security plaintext|tls|scram|tls+scram] [--keep-topics]
 *
 * The cluster is an embedded 3-broker one (with --security's listeners), or, with KAFKA_BROKERS
 * set, your own, reached with the sidecar's KAFKA_SSL* / KAFKA_SASL_* variables (cluster-choice.ts).
 *
 * --tracing: every worker runs with OpenTelemetry's kafkajs instrumentation (src/tracing.mjs),
 * to measure what tracing costs in each mode.
 *
 * --pin: the workers on core 0, the sidecar on core 1 (Linux, taskset; cpu-pinning.ts), to tell
 * the sidecar's own cost from three kinds of process contending for two cores.
 *
 * --warmup: each worker first sends its share of that many records to a topic of its own,
 * unmeasured, so latencies and CPU are those of compiled code (the serial case's first thousands
 * of sends run in V8's interpreter, slower in both modes and in the sidecar most).
 *
 * --records and --warmup are totals over all processes.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { chooseCluster, CLUSTER_FLAGS, newRunId, openCluster, runTopic, type ClusterChoice } from './cluster-choice.js'
import type { ClusterUnderTest } from './cluster-under-test.js'
import { chart, table } from './report.js'
import { runMode, type Mode, type ModeResult, type RunSettings } from './run-mode.js'
import { exitOnError, progressLine, startSidecarProcess, stopProcess } from './processes.js'
import { APPLICATION_CORE, pinningUnavailable, pinToCore, SIDECAR_CORE } from './cpu-pinning.js'
import { workerMain } from './worker.js'
import { builtPackagesExecArgv, requireCurrentBuild } from './built-packages.js'

const USAGE =
  'usage: [KAFKA_BROKERS=host:port,... KAFKA_SSL*/KAFKA_SASL_*=...] pnpm compare [--processes N] [--records TOTAL] [--batch B] [--concurrency C] [--size BYTES] [--partitions P] [--warmup TOTAL] [--json FILE] [--chart FILE] [--tracing] [--pin] [--security plaintext|tls|scram|tls+scram] [--keep-topics]'
const TRACING = fileURLToPath(new URL('./tracing.mjs', import.meta.url))

function positive(name: string, value: string | undefined): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} must be a positive integer, got ${JSON.stringify(value)}\n${USAGE}`)
    process.exit(2)
  }
  return n
}

function parse() {
  try {
    return parseArgs({
      // pnpm forwards a literal `--` separator; it is not an argument.
      args: process.argv.slice(2).filter((arg) => arg !== '--'),
      options: {
        processes: { type: 'string', default: '8' },
        records: { type: 'string', default: '80000' },
        batch: { type: 'string', default: '1' },
        concurrency: { type: 'string', default: '64' },
        size: { type: 'string', default: '100' },
        partitions: { type: 'string', default: '6' },
        warmup: { type: 'string', default: '0' },
        json: { type: 'string' },
        chart: { type: 'string' },
        worker: { type: 'boolean', default: false },
        tracing: { type: 'boolean', default: false },
        pin: { type: 'boolean', default: false },
        ...CLUSTER_FLAGS,
      },
    }).values
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`)
    process.exit(2)
  }
}

type Values = ReturnType<typeof parse>

function settingsOf(values: Values): RunSettings {
  const processes = positive('processes', values.processes)
  return {
    processes,
    recordsPerProcess: Math.ceil(positive('records', values.records) / processes),
    batch: positive('batch', values.batch),
    concurrency: positive('concurrency', values.concurrency),
    valueBytes: positive('size', values.size),
    keysPerWorker: 16,
    warmupPerProcess: Math.ceil(nonNegative('warmup', values.warmup) / processes),
  }
}

function nonNegative(name: string, value: string | undefined): number {
  const n = Number(value)
  if (value === undefined || value.trim() === '' || !Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be 0 or a positive integer, got ${JSON.stringify(value)}\n${USAGE}`)
    process.exit(2)
  }
  return n
}

async function main(): Promise<void> {
  requireCurrentBuild()
  const values = parse()
  const settings = settingsOf(values)
  const partitions = positive('partitions', values.partitions)
  const choice = chooseCluster(values, process.env, USAGE)
  const unpinnable = values.pin ? pinningUnavailable() : null
  if (unpinnable) {
    console.error(unpinnable)
    process.exit(2)
  }
  const total = settings.processes * settings.recordsPerProcess
  console.log(
    `compare-modes: ${settings.processes} processes x ${settings.recordsPerProcess.toLocaleString('en-US')} records, sends of ${settings.batch}, ${settings.concurrency} in flight per process, ${settings.valueBytes}-byte values${settings.warmupPerProcess ? `, after ${settings.warmupPerProcess.toLocaleString('en-US')} unmeasured records per process` : ''}${values.tracing ? ', traced (OpenTelemetry kafkajs instrumentation)' : ''}${values.pin ? `, workers pinned to core ${APPLICATION_CORE} and the sidecar to core ${SIDECAR_CORE}` : ''}`,
  )
  const dir = mkdtempSync(join(tmpdir(), 'compare-modes-'))
  let cluster: ClusterUnderTest | null = null
  try {
    cluster = await openCluster(choice, {
      env: process.env,
      dir,
      retentionBytes: Math.max(256 * 1024 * 1024, total * (settings.valueBytes + 100)),
    })
    console.log(cluster.description)
    const { direct, sidecar, topics } = await compare(cluster, settings, { values, partitions, dir })
    console.log(`\n${table(direct, sidecar)}\n`)
    if (cluster.connectionCounting !== 'exact (counted by embedded-kafka)')
      console.log(
        'peak broker connections: ESTABLISHED TCP sockets of the workers and the sidecar, sampled from /proc every 0.5 s\n',
      )
    report(direct, sidecar)
    const config = {
      ...settings,
      records: total,
      partitions,
      tracing: values.tracing,
      pinned: values.pin,
      ...describeCluster(cluster, choice),
      topics,
    }
    writeResults(values, settings, { config, direct, sidecar })
    const failed = [direct, sidecar].some((r) => r.lost > 0 || r.acked !== r.attempted)
    if (failed) process.exitCode = 1
  } finally {
    await cluster?.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

function describeCluster(cluster: ClusterUnderTest, choice: ClusterChoice) {
  return {
    cluster: choice.kind,
    security: choice.kind === 'embedded' ? choice.security : 'from KAFKA_SSL* / KAFKA_SASL_*',
    brokers: cluster.brokerCount,
    connectionCounting: cluster.connectionCounting,
  }
}

/** Direct mode, then sidecar mode, each on a topic of its own. */
async function compare(
  cluster: ClusterUnderTest,
  settings: RunSettings,
  run: { values: Values; partitions: number; dir: string },
): Promise<{ direct: ModeResult; sidecar: ModeResult; topics: Record<Mode, string> }> {
  const runId = newRunId()
  const topics: Record<Mode, string> = {
    direct: runTopic('compare', runId, 'direct'),
    sidecar: runTopic('compare', runId, 'sidecar'),
  }
  // Warm-up records go to topics of their own: the delivery check reads only the measured ones.
  const warmupTopics: Record<Mode, string | null> = settings.warmupPerProcess
    ? { direct: `${topics.direct}-warmup`, sidecar: `${topics.sidecar}-warmup` }
    : { direct: null, sidecar: null }
  for (const topic of [...Object.values(topics), ...Object.values(warmupTopics)])
    if (topic) await cluster.createTopic(topic, run.partitions)
  const total = settings.processes * settings.recordsPerProcess
  const context = {
    cluster,
    workerScript: fileURLToPath(import.meta.url),
    execArgv: run.values.tracing ? [...builtPackagesExecArgv(), '--import', TRACING] : builtPackagesExecArgv(),
    pin: run.values.pin,
  }

  console.log('\n1/2 direct mode: every process opens its own KafkaJS producer')
  const direct = await runMode('direct', settings, {
    ...context,
    topic: topics.direct,
    warmupTopic: warmupTopics.direct,
    sidecarAddress: null,
    sidecarPid: null,
    onProgress: progressLine('direct', total),
  })
  if (process.stdout.isTTY) process.stdout.write('\n')

  console.log('\n2/2 sidecar mode: every process sends to one kafka-sidecar, which holds the only producer')
  const socketPath = join(run.dir, 'sidecar.sock')
  const sidecarProcess: ChildProcess = await startSidecarProcess(cluster.clientEnv, socketPath)
  try {
    if (run.values.pin && sidecarProcess.pid) pinToCore(sidecarProcess.pid, SIDECAR_CORE)
    const sidecar = await runMode('sidecar', settings, {
      ...context,
      topic: topics.sidecar,
      warmupTopic: warmupTopics.sidecar,
      sidecarAddress: `unix://${socketPath}`,
      sidecarPid: sidecarProcess.pid ?? null,
      onProgress: progressLine('sidecar', total),
    })
    if (process.stdout.isTTY) process.stdout.write('\n')
    return { direct, sidecar, topics }
  } finally {
    await stopProcess(sidecarProcess)
  }
}

function writeResults(
  values: Values,
  settings: RunSettings,
  result: { config: object; direct: ModeResult; sidecar: ModeResult },
): void {
  if (values.json) {
    writeFileSync(resolve(values.json), JSON.stringify(result, null, 2) + '\n')
    console.log(`JSON: ${resolve(values.json)}`)
  }
  const chartPath = resolve(
    values.chart ?? (values.json ? values.json.replace(/\.json$/, '') + '.svg' : join('results', 'compare-modes.svg')),
  )
  mkdirSync(dirname(chartPath), { recursive: true })
  const { processes, batch, concurrency } = settings
  writeFileSync(
    chartPath,
    chart(result.direct, result.sidecar, `${processes} processes, sends of ${batch}, concurrency ${concurrency}`),
  )
  console.log(`chart: ${chartPath}`)
}

function report(direct: ModeResult, sidecar: ModeResult): void {
  for (const r of [direct, sidecar]) {
    if (r.firstError) console.log(`${r.mode}: first send error: ${r.firstError}`)
    const verdict =
      r.lost === 0 && r.acked === r.attempted
        ? 'every attempted record acked and in Kafka'
        : `${r.attempted - r.acked} not acked, ${r.lost} acked but missing`
    if (r.tracedSpans !== null) console.log(`${r.mode}: ${r.tracedSpans.toLocaleString('en-US')} producer spans traced`)
    console.log(
      `${r.mode}: ${verdict}${r.duplicates ? `, ${r.duplicates} duplicates` : ''}${r.outOfOrder ? `, ${r.outOfOrder} out of order per key` : ''}`,
    )
  }
}

if (process.argv.includes('--worker')) await workerMain()
else await main().catch(exitOnError('compare-modes'))
