/**
 * Soak: 1,000,000 records through one sidecar from 4 worker processes (the same worker as the
 * comparison, sidecar mode only), the sidecar's RSS sampled every second. At the end: attempted
 * = acked, nothing lost, and whether RSS stayed flat after warm-up (the first third of the run):
 * the mean of the last quarter against the mean of the second quarter.
 *
 *   pnpm soak [--processes 4] [--records 1000000] [--batch 100] [--concurrency 8] [--json FILE]
 *   COMPARE_SIDECAR_NODE_ARGS="" pnpm soak   # the sidecar without the container's node flags
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import { progressLine, startSidecarProcess, stopProcess } from './processes.js'
import { runMode, type RunSettings } from './run-mode.js'
import { workerMain } from './worker.js'

/** Growth of the late RSS over the post-warm-up RSS above which the run does not count as flat. */
const FLAT_TOLERANCE = 0.1

function mean(xs: number[]): number {
  return xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length)
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((arg) => arg !== '--'),
    options: {
      processes: { type: 'string', default: '4' },
      records: { type: 'string', default: '1000000' },
      batch: { type: 'string', default: '100' },
      concurrency: { type: 'string', default: '8' },
      json: { type: 'string' },
      worker: { type: 'boolean', default: false },
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
    console.error('--processes, --records, --batch and --concurrency must be positive integers')
    process.exit(2)
  }
  const total = processes * settings.recordsPerProcess
  console.log(
    `soak: ${total.toLocaleString('en-US')} records from ${processes} processes through one sidecar, sends of ${settings.batch}, ${settings.concurrency} in flight each`,
  )
  const cluster = await EmbeddedKafka.start({ brokers: 3, retentionBytes: Math.max(256 * 1024 * 1024, total * 250) })
  const dir = mkdtempSync(join(tmpdir(), 'soak-'))
  const sidecar = await startSidecarProcess(cluster.bootstrapServers, join(dir, 'sidecar.sock'))
  try {
    await cluster.createTopic({ topic: 'soak', partitions: 6 })
    const result = await runMode('sidecar', settings, {
      cluster,
      topic: 'soak',
      workerScript: fileURLToPath(import.meta.url),
      execArgv: process.execArgv,
      sidecarAddress: `unix://${join(dir, 'sidecar.sock')}`,
      sidecarPid: sidecar.pid ?? null,
      sampleIntervalMs: 1_000,
      onProgress: progressLine('sidecar', total),
    })
    if (process.stdout.isTTY) process.stdout.write('\n')
    const samples = result.sidecarRssSamples ?? []
    const quarter = Math.max(1, Math.floor(samples.length / 4))
    const afterWarmUp = mean(samples.slice(quarter, 2 * quarter).map((s) => s.rssMb))
    const late = mean(samples.slice(-quarter).map((s) => s.rssMb))
    const growth = afterWarmUp > 0 ? (late - afterWarmUp) / afterWarmUp : 0
    const flat = growth <= FLAT_TOLERANCE
    const delivered = result.attempted === result.acked && result.lost === 0
    console.log(
      `\nrecords: attempted ${result.attempted}, acked ${result.acked}, failed ${result.failed}, lost ${result.lost}, duplicates ${result.duplicates}; ${result.recordsPerSec.toLocaleString('en-US')} records/s`,
    )
    console.log(`sidecar RSS (MB) every second: ${samples.map((s) => s.rssMb).join(' ')}`)
    console.log(
      `sidecar RSS: ${Math.round(afterWarmUp)} MB after warm-up, ${Math.round(late)} MB at the end (${(growth * 100).toFixed(1)}%), peak ${result.sidecarRssMb} MB, CPU ${result.sidecarCpuPercent}% of a core`,
    )
    console.log(
      `${delivered ? 'OK' : 'FAILED'}: attempted = acked, lost = 0 | ${flat ? 'OK' : 'NOT FLAT'}: RSS growth after warm-up ${flat ? '≤' : '>'} ${FLAT_TOLERANCE * 100}%`,
    )
    if (values.json)
      writeFileSync(
        resolve(values.json),
        JSON.stringify({ settings, result, rss: { afterWarmUp, late, growth, flat } }, null, 2) + '\n',
      )
    if (!delivered || !flat) process.exitCode = 1
  } finally {
    await stopProcess(sidecar)
    await cluster.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv.includes('--worker')) await workerMain()
else await main()
