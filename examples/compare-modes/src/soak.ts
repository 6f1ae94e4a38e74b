/**
 * Soak: 1,000,000 records through one sidecar from 4 worker processes (the same worker as the
 * comparison, sidecar mode only), the sidecar's RSS sampled every second. At the end: attempted
 * = acked, nothing lost, and whether RSS stayed flat after warm-up (the first third of the run):
 * the mean of the last quarter against the mean of the second quarter.
 *
 *   pnpm soak [--processes 4] [--records 1000000] [--batch 100] [--concurrency 8] [--json FILE]
 *             [--security plaintext|tls|scram|tls+scram] [--keep-topics]
 *   COMPARE_SIDECAR_NODE_ARGS="" pnpm soak   # the sidecar without the container's node flags
 *
 * As `pnpm compare`: an embedded cluster unless KAFKA_BROKERS names your own (cluster-choice.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { chooseCluster, CLUSTER_FLAGS, newRunId, openCluster, runTopic } from './cluster-choice.js'
import type { ClusterUnderTest } from './cluster-under-test.js'
import { exitOnError, progressLine, startSidecarProcess, stopProcess } from './processes.js'
import { runMode, type ModeResult, type RunSettings } from './run-mode.js'
import { workerMain } from './worker.js'
import { builtPackagesExecArgv, requireCurrentBuild } from './built-packages.js'

const USAGE =
  'usage: [KAFKA_BROKERS=host:port,... KAFKA_SSL*/KAFKA_SASL_*=...] pnpm soak [--processes N] [--records TOTAL] [--batch B] [--concurrency C] [--json FILE] [--security plaintext|tls|scram|tls+scram] [--keep-topics]'

/** Growth of the late RSS over the post-warm-up RSS above which the run does not count as flat. */
const FLAT_TOLERANCE = 0.1

function mean(xs: number[]): number {
  return xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length)
}

function parse() {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((arg) => arg !== '--'),
    options: {
      processes: { type: 'string', default: '4' },
      records: { type: 'string', default: '1000000' },
      batch: { type: 'string', default: '100' },
      concurrency: { type: 'string', default: '8' },
      json: { type: 'string' },
      worker: { type: 'boolean', default: false },
      ...CLUSTER_FLAGS,
    },
  })
  const processes = Number(values.processes)
  const settings: RunSettings = {
    processes,
    recordsPerProcess: Math.ceil(Number(values.records) / processes),
    batch: Number(values.batch),
    concurrency: Number(values.concurrency),
    valueBytes: 100,
    keysPerWorker: 16,
  }
  if (
    ![processes, settings.recordsPerProcess, settings.batch, settings.concurrency].every(
      (n) => Number.isInteger(n) && n > 0,
    )
  ) {
    console.error(`--processes, --records, --batch and --concurrency must be positive integers\n${USAGE}`)
    process.exit(2)
  }
  return { values, settings }
}

async function main(): Promise<void> {
  requireCurrentBuild()
  const { values, settings } = parse()
  const choice = chooseCluster(values, process.env, USAGE)
  const total = settings.processes * settings.recordsPerProcess
  console.log(
    `soak: ${total.toLocaleString('en-US')} records from ${settings.processes} processes through one sidecar, sends of ${settings.batch}, ${settings.concurrency} in flight each`,
  )
  const dir = mkdtempSync(join(tmpdir(), 'soak-'))
  let cluster: ClusterUnderTest | null = null
  try {
    cluster = await openCluster(choice, {
      env: process.env,
      dir,
      retentionBytes: Math.max(256 * 1024 * 1024, total * 250),
    })
    console.log(cluster.description)
    const result = await soak(cluster, settings, dir)
    const verdict = judge(result)
    if (values.json)
      writeFileSync(resolve(values.json), JSON.stringify({ settings, result, rss: verdict.rss }, null, 2) + '\n')
    if (!verdict.ok) process.exitCode = 1
  } finally {
    await cluster?.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function soak(cluster: ClusterUnderTest, settings: RunSettings, dir: string): Promise<ModeResult> {
  const topic = runTopic('soak', newRunId(), 'sidecar')
  await cluster.createTopic(topic, 6)
  const socketPath = join(dir, 'sidecar.sock')
  const sidecar = await startSidecarProcess(cluster.clientEnv, socketPath)
  try {
    const result = await runMode('sidecar', settings, {
      cluster,
      topic,
      workerScript: fileURLToPath(import.meta.url),
      execArgv: builtPackagesExecArgv(),
      sidecarAddress: `unix://${socketPath}`,
      sidecarPid: sidecar.pid ?? null,
      sampleIntervalMs: 1_000,
      onProgress: progressLine('sidecar', settings.processes * settings.recordsPerProcess),
    })
    if (process.stdout.isTTY) process.stdout.write('\n')
    return result
  } finally {
    await stopProcess(sidecar)
  }
}

/** Prints the verdict: everything delivered, and RSS flat after warm-up. */
function judge(result: ModeResult) {
  const samples = result.sidecarRssSamples ?? []
  const quarter = Math.max(1, Math.floor(samples.length / 4))
  const afterWarmUp = mean(samples.slice(quarter, 2 * quarter).map((s) => s.rssMb))
  const late = mean(samples.slice(-quarter).map((s) => s.rssMb))
  const growth = afterWarmUp > 0 ? (late - afterWarmUp) / afterWarmUp : 0
  const flat = growth <= FLAT_TOLERANCE
  const delivered = result.attempted === result.acked && result.lost === 0
  console.log(
    `\nrecords: attempted ${result.attempted}, acked ${result.acked}, failed ${result.failed}, lost ${result.lost}, duplicates ${result.duplicates}; ${result.recordsPerSec.toLocaleString('en-US')} records/s; peak broker connections ${result.peakBrokerConnections}`,
  )
  console.log(`sidecar RSS (MB) every second: ${samples.map((s) => s.rssMb).join(' ')}`)
  console.log(
    `sidecar RSS: ${Math.round(afterWarmUp)} MB after warm-up, ${Math.round(late)} MB at the end (${(growth * 100).toFixed(1)}%), peak ${result.sidecarRssMb} MB, CPU ${result.sidecarCpuPercent}% of a core`,
  )
  console.log(
    `${delivered ? 'OK' : 'FAILED'}: attempted = acked, lost = 0 | ${flat ? 'OK' : 'NOT FLAT'}: RSS growth after warm-up ${flat ? '≤' : '>'} ${FLAT_TOLERANCE * 100}%`,
  )
  return { ok: delivered && flat, rss: { afterWarmUp, late, growth, flat } }
}

if (process.argv.includes('--worker')) await workerMain()
else await main().catch(exitOnError('soak'))
