/**
 * Compare the two modes on one embedded 3-broker cluster, in one run: N worker processes produce
 * through @kafka-sidecar/client, first with KAFKA_SIDECAR_MODE=direct (each process its own KafkaJS
 * producer), then with KAFKA_SIDECAR_MODE=sidecar (all through one kafka-sidecar process). The
 * worker code is the same; only the environment variable differs.
 *
 *   pnpm demo
 *   pnpm compare [--processes 8] [--records 80000] [--batch 1] [--concurrency 64] [--size 100]
 *                [--partitions 6] [--json result.json] [--chart chart.svg] [--tracing]
 *
 * --tracing: every worker runs with OpenTelemetry's kafkajs instrumentation (src/tracing.mjs),
 * to measure what tracing costs in each mode.
 *
 * --records is the total over all processes.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import { chart, table } from './report.js'
import { runMode, type ModeResult, type RunSettings } from './run-mode.js'
import { progressLine, startSidecarProcess, stopProcess } from './processes.js'
import { workerMain } from './worker.js'

const USAGE =
  'usage: pnpm compare [--processes N] [--records TOTAL] [--batch B] [--concurrency C] [--size BYTES] [--partitions P] [--json FILE] [--chart FILE] [--tracing]'
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
        json: { type: 'string' },
        chart: { type: 'string' },
        worker: { type: 'boolean', default: false },
        tracing: { type: 'boolean', default: false },
      },
    }).values
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`)
    process.exit(2)
  }
}

async function main(): Promise<void> {
  const values = parse()
  const processes = positive('processes', values.processes)
  const settings: RunSettings = {
    processes,
    recordsPerProcess: Math.ceil(positive('records', values.records) / processes),
    batch: positive('batch', values.batch),
    concurrency: positive('concurrency', values.concurrency),
    valueBytes: positive('size', values.size),
    keysPerWorker: 16,
  }
  const partitions = positive('partitions', values.partitions)
  const total = settings.processes * settings.recordsPerProcess
  const config = { ...settings, records: total, partitions, brokers: 3, tracing: values.tracing }
  const execArgv = values.tracing ? [...process.execArgv, '--import', TRACING] : process.execArgv
  console.log(
    `compare-modes: ${processes} processes x ${settings.recordsPerProcess.toLocaleString('en-US')} records, sends of ${settings.batch}, ${settings.concurrency} in flight per process, ${settings.valueBytes}-byte values${values.tracing ? ', traced (OpenTelemetry kafkajs instrumentation)' : ''}`,
  )

  const cluster = await EmbeddedKafka.start({
    brokers: 3,
    retentionBytes: Math.max(256 * 1024 * 1024, total * (settings.valueBytes + 100)),
  })
  const dir = mkdtempSync(join(tmpdir(), 'compare-modes-'))
  let sidecar: ChildProcess | null = null
  try {
    console.log(`embedded-kafka: 3 brokers at ${cluster.bootstrapServers.join(', ')}`)
    const topics = { direct: 'compare-direct', sidecar: 'compare-sidecar' }
    for (const topic of Object.values(topics)) await cluster.createTopic({ topic, partitions })
    const workerScript = fileURLToPath(import.meta.url)

    console.log('\n1/2 direct mode: every process opens its own KafkaJS producer')
    const direct = await runMode('direct', settings, {
      cluster,
      topic: topics.direct,
      workerScript,
      execArgv,
      sidecarAddress: null,
      sidecarPid: null,
      onProgress: progressLine('direct', total),
    })
    if (process.stdout.isTTY) process.stdout.write('\n')

    console.log('\n2/2 sidecar mode: every process sends to one kafka-sidecar, which holds the only producer')
    const socketPath = join(dir, 'sidecar.sock')
    sidecar = await startSidecarProcess(cluster.bootstrapServers, socketPath)
    const viaSidecar = await runMode('sidecar', settings, {
      cluster,
      topic: topics.sidecar,
      workerScript,
      execArgv,
      sidecarAddress: `unix://${socketPath}`,
      sidecarPid: sidecar.pid ?? null,
      onProgress: progressLine('sidecar', total),
    })
    if (process.stdout.isTTY) process.stdout.write('\n')
    await stopProcess(sidecar)
    sidecar = null

    console.log(`\n${table(direct, viaSidecar)}\n`)
    report(direct, viaSidecar)
    const result = { config, direct, sidecar: viaSidecar }
    if (values.json) {
      writeFileSync(resolve(values.json), JSON.stringify(result, null, 2) + '\n')
      console.log(`JSON: ${resolve(values.json)}`)
    }
    const chartPath = resolve(
      values.chart ??
        (values.json ? values.json.replace(/\.json$/, '') + '.svg' : join('results', 'compare-modes.svg')),
    )
    mkdirSync(dirname(chartPath), { recursive: true })
    writeFileSync(
      chartPath,
      chart(
        direct,
        viaSidecar,
        `${processes} processes, sends of ${settings.batch}, concurrency ${settings.concurrency}`,
      ),
    )
    console.log(`chart: ${chartPath}`)
    if (
      direct.lost > 0 ||
      viaSidecar.lost > 0 ||
      direct.acked !== direct.attempted ||
      viaSidecar.acked !== viaSidecar.attempted
    )
      process.exitCode = 1
  } finally {
    if (sidecar) await stopProcess(sidecar)
    await cluster.stop()
    rmSync(dir, { recursive: true, force: true })
  }
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
else await main()
