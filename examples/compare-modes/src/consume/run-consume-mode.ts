/**
 * One mode of the consumer comparison, in four phases on a topic and group of its own:
 * 1. backlog: R records written before the workers start; the time until every one is processed;
 * 2. live: records written at a fixed rate, each with its send time; end-to-end latency;
 * 3. during 2, the group's members (describeGroup) and the peak broker connections since start;
 * 4. rolling restart of every worker while records are written at the same rate: the group's
 *    Kafka rebalances, records lost and duplicated, and the longest pause in consumption.
 */
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Kafka, logLevel, type Admin } from 'kafkajs'
import { kafkaClientSettings } from '@kafka-sidecar/sidecar'
import type { ClusterUnderTest } from '../cluster-under-test.js'
import { watchProcess } from '../process-stats.js'
import { startSidecar, stopProcess, type SidecarProcess } from '../processes.js'
import { cpuPerRecord, cpuSnapshot, type CpuPerRecord } from './cpu-accounting.js'
import { untilGroupSteady } from './group-steady.js'
import { LoadProducer } from './load-producer.js'
import { readRebalances, rebalancesBetween, type RebalancesDuring } from './rebalances.js'
import { Receipts, round, type PhaseReceipts } from './receipts.js'
import { nowMs } from './record-value.js'
import { WorkerPool, type Mode, type RestartSteps } from './worker-pool.js'

export interface ConsumeSettings {
  readonly processes: number
  readonly partitions: number
  readonly records: number
  readonly rate: number
  readonly seconds: number
  readonly valueBytes: number
}

export interface ConsumeContext {
  readonly cluster: ClusterUnderTest
  readonly topic: string
  readonly groupId: string
  readonly workerScript: string
  readonly execArgv: string[]
  /** The run's temp dir, for the sidecar's socket. */
  readonly dir: string
  readonly log: (line: string) => void
}

/** How long consumption may make no progress before the records still missing count as lost. */
const DRAIN_IDLE_MS = 30_000
/** Records flow this long before the first worker restarts, and after the last one consumes. */
const RESTART_MARGIN_MS = 1_000

interface Accounting {
  readonly produced: number
  readonly lost: number
  readonly duplicates: number
}

export interface ConsumeModeResult {
  readonly mode: Mode
  readonly groupMembers: number
  readonly peakBrokerConnections: number
  /** From the workers' run() to a steady group: every worker has partitions, each partition one owner. */
  readonly groupSteadySeconds: number
  /** From the workers' run() to the last backlog record processed: the group forming included. */
  readonly backlog: Accounting & {
    readonly seconds: number
    readonly recordsPerSec: number
    readonly cpu: CpuPerRecord
  }
  readonly live: Accounting & { readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number }
  readonly restart: Accounting &
    RebalancesDuring & {
      readonly seconds: number
      readonly longestPartitionPauseMs: number
      readonly longestGroupPauseMs: number
      readonly p50Ms: number
      readonly p99Ms: number
      readonly maxMs: number
      /** Workers that did not exit within 30 s of SIGTERM and were killed. */
      readonly killedOnStop: number
      /** Per restarted worker, on average: SIGTERM to exit, fork to connected, run to first record. */
      readonly meanStepsMs: { readonly stop: number; readonly start: number; readonly firstRecord: number }
    }
  /** Over every phase. */
  readonly lost: number
  readonly duplicates: number
  readonly sidecarCpuPercent?: number
  readonly sidecarRssMb?: number
  readonly firstError: string | null
}

export async function runConsumeMode(
  mode: Mode,
  settings: ConsumeSettings,
  context: ConsumeContext,
): Promise<ConsumeModeResult> {
  const { cluster, topic, groupId, log } = context
  const receipts = new Receipts()
  const kafka = new Kafka({
    clientId: 'compare-consume-admin',
    ...(await kafkaClientSettings(cluster.clientEnv)),
    logLevel: logLevel.NOTHING,
  })
  const admin = kafka.admin()
  await admin.connect()
  const load = await LoadProducer.connect(cluster.clientEnv, settings.valueBytes)
  let sidecar: SidecarProcess | null = null
  let pool: WorkerPool | null = null
  try {
    await load.backlog(topic, settings.records)
    receipts.phases.backlog.producedUpTo(settings.records)
    // Opens the admin's connection to the group's coordinator now, so it is not counted below.
    await admin.describeGroups([groupId])
    const connections = cluster.watchConnections(
      () => [...(pool?.pids() ?? []), ...(sidecar?.child.pid ? [sidecar.child.pid] : [])],
      { excludeOpenNow: true },
    )
    if (mode === 'sidecar') sidecar = await startSidecar(cluster.clientEnv, join(context.dir, 'sidecar.sock'))
    const sidecarWatch = sidecar?.child.pid ? watchProcess(sidecar.child.pid, 500) : null
    pool = new WorkerPool({
      mode,
      processes: settings.processes,
      topic,
      groupId,
      workerScript: context.workerScript,
      execArgv: context.execArgv,
      env: {
        ...cluster.clientEnv,
        ...(sidecar && { KAFKA_SIDECAR_ADDRESS: `unix://${join(context.dir, 'sidecar.sock')}` }),
      },
      onProcessed: (records) => receipts.add(records),
    })
    await pool.start()

    log(`  backlog: ${settings.records.toLocaleString('en-US')} records waiting, ${settings.processes} workers start`)
    const cpuAtGo = cpuSnapshot(pool.pids(), sidecar?.child.pid ?? null)
    const goAt = nowMs()
    pool.go()
    // The live phase starts once no rebalance is under way; the backlog is timed from run() on.
    const steady = untilGroupSteady({
      mode,
      admin,
      groupId,
      pool,
      processes: settings.processes,
      partitions: settings.partitions,
    }).then(() => nowMs())
    await drained(receipts.phases.backlog)
    const backlogCpu = cpuPerRecord(cpuAtGo, cpuSnapshot(pool.pids(), sidecar?.child.pid ?? null), settings.records)
    const backlog = receipts.phases.backlog.summary()
    const backlogSeconds = (backlog.lastFirstReceiptMs - goAt) / 1000
    const steadyAt = await steady

    log(`  live: ${settings.rate.toLocaleString('en-US')} records/s for ${settings.seconds} s`)
    const live = load.atRate(topic, 1, settings.rate)
    await sleep((settings.seconds * 1000) / 2)
    const described = await admin.describeGroups([groupId])
    const groupMembers = described.groups[0]?.members.length ?? 0
    await sleep((settings.seconds * 1000) / 2)
    receipts.phases.live.producedUpTo(await live.stop())
    await drained(receipts.phases.live)
    const peakBrokerConnections = connections.stop()

    log(
      `  rolling restart of ${settings.processes} workers while ${settings.rate.toLocaleString('en-US')} records/s are written`,
    )
    const restart = await rollingRestart(mode, settings, { ...context, pool, load, sidecar, receipts })
    await pool.stopAll()
    const samples = sidecarWatch?.stop() ?? []
    const liveSummary = receipts.phases.live.summary()
    const phases = [backlog, liveSummary, restart]
    return {
      mode,
      groupMembers,
      peakBrokerConnections,
      groupSteadySeconds: round((steadyAt - goAt) / 1000),
      backlog: {
        ...accounting(backlog),
        seconds: round(backlogSeconds),
        recordsPerSec: Math.round(settings.records / backlogSeconds),
        cpu: backlogCpu,
      },
      live: {
        ...accounting(liveSummary),
        p50Ms: liveSummary.p50Ms,
        p99Ms: liveSummary.p99Ms,
        maxMs: liveSummary.maxMs,
      },
      restart,
      lost: phases.reduce((sum, p) => sum + p.lost, 0),
      duplicates: phases.reduce((sum, p) => sum + p.duplicates, 0),
      ...(samples.length > 1 && {
        sidecarCpuPercent: Math.round(
          ((samples.at(-1)!.cpuSeconds - samples[0]!.cpuSeconds) / ((samples.at(-1)!.at - samples[0]!.at) / 1000)) *
            100,
        ),
        sidecarRssMb: Math.round(Math.max(...samples.map((s) => s.rssMb))),
      }),
      firstError: pool.firstError,
    }
  } finally {
    pool?.killAll()
    if (sidecar) await stopProcess(sidecar.child)
    await load.disconnect()
    await deleteGroup(admin, groupId)
    await admin.disconnect()
  }
}

function accounting(summary: { produced: number; lost: number; duplicates: number }): Accounting {
  return { produced: summary.produced, lost: summary.lost, duplicates: summary.duplicates }
}

async function rollingRestart(
  mode: Mode,
  settings: ConsumeSettings,
  run: ConsumeContext & { pool: WorkerPool; load: LoadProducer; sidecar: SidecarProcess | null; receipts: Receipts },
): Promise<ConsumeModeResult['restart']> {
  const { pool, receipts } = run
  const writing = run.load.atRate(run.topic, 2, settings.rate)
  await sleep(RESTART_MARGIN_MS)
  const before = await readRebalances(run.cluster, run.groupId, pool, run.sidecar?.httpAddress ?? null)
  const from = nowMs()
  const steps: RestartSteps[] = []
  for (let id = 0; id < settings.processes; id++) {
    const step = await pool.restart(id)
    steps.push(step)
    run.log(
      `    worker ${id}: exited ${ms(step.stopMs)} after SIGTERM, connected ${ms(step.startMs)} after fork, first record ${ms(step.firstRecordMs)} after run`,
    )
  }
  const to = nowMs()
  const after = await readRebalances(run.cluster, run.groupId, pool, run.sidecar?.httpAddress ?? null)
  await sleep(RESTART_MARGIN_MS)
  receipts.phases.restart.producedUpTo(await writing.stop())
  await drained(receipts.phases.restart)
  const summary = receipts.phases.restart.summary()
  const pauses = receipts.phases.restart.longestPauses(from, to)
  return {
    ...accounting(summary),
    ...rebalancesBetween(mode, before, after),
    seconds: round((to - from) / 1000),
    longestPartitionPauseMs: pauses.partitionMs,
    longestGroupPauseMs: pauses.groupMs,
    p50Ms: summary.p50Ms,
    p99Ms: summary.p99Ms,
    maxMs: summary.maxMs,
    killedOnStop: pool.killedOnStop,
    meanStepsMs: {
      stop: round(mean(steps.map((s) => s.stopMs))),
      start: round(mean(steps.map((s) => s.startMs))),
      firstRecord: round(mean(steps.map((s) => s.firstRecordMs))),
    },
  }
}

function mean(xs: number[]): number {
  return xs.reduce((sum, x) => sum + x, 0) / xs.length
}

function ms(x: number): string {
  return `${Math.round(x).toLocaleString('en-US')} ms`
}

/** Until every acknowledged record of the phase is processed, or nothing new for DRAIN_IDLE_MS. */
async function drained(phase: PhaseReceipts): Promise<void> {
  let seen = phase.processedDistinct
  let progressAt = Date.now()
  while (!phase.complete() && Date.now() - progressAt < DRAIN_IDLE_MS) {
    await sleep(50)
    if (phase.processedDistinct !== seen) {
      seen = phase.processedDistinct
      progressAt = Date.now()
    }
  }
}

/** The run's group goes with its topic; a cluster that refuses says so, naming it. */
async function deleteGroup(admin: Admin, groupId: string): Promise<void> {
  try {
    await admin.deleteGroups([groupId])
  } catch (error) {
    console.warn(`warning: could not delete consumer group ${groupId} (${(error as Error).message}); delete it by hand`)
  }
}
