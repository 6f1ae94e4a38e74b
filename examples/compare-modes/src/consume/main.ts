/**
 * Compare the modes for consumers on one cluster, in one run: N worker processes each run an
 * ordinary KafkaJS consumer (one group, one topic of P partitions) through @kafka-sidecar/client,
 * first with KAFKA_SIDECAR_CONSUMER_MODE=direct (each process a member of the group), then with
 * KAFKA_SIDECAR_CONSUMER_MODE=sidecar (the pod's kafka-sidecar the group's one member). The worker
 * code is the same; only the environment variable differs. Phases per mode: run-consume-mode.ts.
 *
 *   pnpm compare:consumers (or compare:consume) [--processes 8] [--partitions 12] [--records 200000] [--rate 2000]
 *                        [--seconds 10] [--size 100] [--json result.json]
 *                        [--security plaintext|tls|scram|tls+scram] [--keep-topics]
 *
 * The cluster is an embedded 3-broker one, or with KAFKA_BROKERS your own (cluster-choice.ts).
 * Exits 1 when a produced record was never processed, or a mode could not run.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { chooseCluster, CLUSTER_FLAGS, newRunId, openCluster, runTopic, type ClusterChoice } from '../cluster-choice.js'
import type { ClusterUnderTest } from '../cluster-under-test.js'
import { exitOnError } from '../processes.js'
import { consumeWorkerMain } from './consume-worker.js'
import { consumeTable, type ModeOutcome } from './consume-report.js'
import { runConsumeMode, type ConsumeSettings } from './run-consume-mode.js'
import type { Mode } from './worker-pool.js'
import { builtPackagesExecArgv, requireCurrentBuild } from '../built-packages.js'

const USAGE =
  'usage: [KAFKA_BROKERS=host:port,... KAFKA_SSL*/KAFKA_SASL_*=...] pnpm compare:consumers [--processes N] [--partitions P] [--records R] [--rate RECORDS_PER_SEC] [--seconds S] [--size BYTES] [--json FILE] [--security plaintext|tls|scram|tls+scram] [--keep-topics]'

function parse() {
  try {
    return parseArgs({
      args: process.argv.slice(2).filter((arg) => arg !== '--'),
      options: {
        processes: { type: 'string', default: '8' },
        partitions: { type: 'string', default: '12' },
        records: { type: 'string', default: '200000' },
        rate: { type: 'string', default: '2000' },
        seconds: { type: 'string', default: '10' },
        size: { type: 'string', default: '100' },
        json: { type: 'string' },
        ...CLUSTER_FLAGS,
      },
    }).values
  } catch (error) {
    return refuse((error as Error).message)
  }
}

function refuse(message: string): never {
  console.error(`${message}\n${USAGE}`)
  process.exit(2)
}

function positive(name: string, value: string | undefined): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) refuse(`--${name} must be a positive integer, got ${JSON.stringify(value)}`)
  return n
}

function settingsOf(values: ReturnType<typeof parse>): ConsumeSettings {
  const settings = {
    processes: positive('processes', values.processes),
    partitions: positive('partitions', values.partitions),
    records: positive('records', values.records),
    rate: positive('rate', values.rate),
    seconds: positive('seconds', values.seconds),
    valueBytes: positive('size', values.size),
  }
  // A worker with no partition never consumes, and the restart waits for each to consume.
  if (settings.processes > settings.partitions)
    refuse(`--processes (${settings.processes}) must not exceed --partitions (${settings.partitions})`)
  return settings
}

async function main(): Promise<void> {
  requireCurrentBuild()
  const values = parse()
  const settings = settingsOf(values)
  const choice = chooseCluster(values, process.env, USAGE)
  console.log(
    `compare:consume: ${settings.processes} processes, one group, ${settings.partitions} partitions; backlog ${settings.records.toLocaleString('en-US')} records, then ${settings.rate.toLocaleString('en-US')} records/s for ${settings.seconds} s, then a rolling restart`,
  )
  const dir = mkdtempSync(join(tmpdir(), 'compare-consume-'))
  let cluster: ClusterUnderTest | null = null
  try {
    cluster = await openCluster(choice, {
      env: process.env,
      dir,
      retentionBytes: Math.max(256 * 1024 * 1024, 4 * settings.records * (settings.valueBytes + 100)),
    })
    console.log(cluster.description)
    const runId = newRunId()
    const outcomes: ModeOutcome[] = []
    for (const [index, mode] of (['direct', 'sidecar'] as const).entries()) {
      console.log(`\n${index + 1}/2 ${mode} mode: ${DESCRIPTIONS[mode]}`)
      outcomes.push(await runMode(cluster, mode, settings, { runId, dir }))
    }
    const [direct, sidecar] = outcomes as [ModeOutcome, ModeOutcome]
    console.log(`\n${consumeTable(direct, sidecar)}\n`)
    for (const o of outcomes) console.log(verdict(o))
    const config = { ...settings, ...describeCluster(cluster, choice) }
    if (values.json) {
      writeFileSync(resolve(values.json), JSON.stringify({ config, direct, sidecar }, null, 2) + '\n')
      console.log(`JSON: ${resolve(values.json)}`)
    }
    if (outcomes.some((o) => 'error' in o || o.lost > 0)) process.exitCode = 1
  } finally {
    await cluster?.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

const DESCRIPTIONS: Record<Mode, string> = {
  direct: 'every process is a member of the group, with its own broker connections',
  sidecar: "the pod's kafka-sidecar is the group's one member and hands partitions to the processes",
}

/** A mode that fails is reported as such; the other mode still runs. */
async function runMode(
  cluster: ClusterUnderTest,
  mode: Mode,
  settings: ConsumeSettings,
  run: { runId: string; dir: string },
): Promise<ModeOutcome> {
  const topic = runTopic('consume', run.runId, mode)
  try {
    await cluster.createTopic(topic, settings.partitions)
    return await runConsumeMode(mode, settings, {
      cluster,
      topic,
      groupId: `${topic}-group`,
      workerScript: fileURLToPath(import.meta.url),
      execArgv: builtPackagesExecArgv(),
      dir: run.dir,
      log: (line) => console.log(line),
    })
  } catch (error) {
    const e = error as Error
    console.error(`${mode} mode failed: ${e.name}: ${e.message}`)
    return { mode, error: `${e.name}: ${e.message}` }
  }
}

function verdict(o: ModeOutcome): string {
  if ('error' in o) return `${o.mode}: failed: ${o.error}`
  const lost = o.lost === 0 ? 'every produced record processed' : `${o.lost} records never processed`
  const error = o.firstError ? `; first consumer error: ${o.firstError}` : ''
  return `${o.mode}: ${lost}, ${o.duplicates} duplicates; rebalances counted by ${o.restart.source}${error}`
}

function describeCluster(cluster: ClusterUnderTest, choice: ClusterChoice) {
  return {
    cluster: choice.kind,
    security: choice.kind === 'embedded' ? choice.security : 'from KAFKA_SSL* / KAFKA_SASL_*',
    brokers: cluster.brokerCount,
    connectionCounting: cluster.connectionCounting,
  }
}

if (process.argv.includes('--consume-worker')) await consumeWorkerMain()
else await main().catch(exitOnError('compare:consume'))
