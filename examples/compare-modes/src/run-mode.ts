/**
 * Runs one mode: forks the worker processes, starts them together, follows their progress, and
 * afterwards checks every acknowledged record against what the cluster holds (lost, duplicated,
 * out of order per key).
 */
import { fork, type ChildProcess } from 'node:child_process'
import type { ClusterUnderTest } from './cluster-under-test.js'
import { APPLICATION_CORE, pinToCore } from './cpu-pinning.js'
import { cpuSecondsOf, watchProcess, type ProcessSample } from './process-stats.js'
import { parseValue, type ParentMessage, type WorkerConfig, type WorkerMessage } from './worker.js'

export type Mode = 'direct' | 'sidecar'

export interface RunSettings {
  readonly processes: number
  readonly recordsPerProcess: number
  readonly batch: number
  readonly concurrency: number
  readonly valueBytes: number
  readonly keysPerWorker: number
  /** Records each worker sends to the warm-up topic before the measured run (0: none). */
  readonly warmupPerProcess?: number
}

export interface ModeResult {
  readonly mode: Mode
  readonly peakBrokerConnections: number
  readonly recordsPerSec: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly attempted: number
  readonly acked: number
  readonly failed: number
  readonly lost: number
  readonly duplicates: number
  readonly outOfOrder: number
  readonly fallbackRecords: number
  /** With --tracing: producer spans the workers' instrumentation produced (null untraced). */
  readonly tracedSpans: number | null
  readonly elapsedMs: number
  readonly firstError: string | null
  /** Sidecar mode only: the sidecar process's resident memory (peak and at the end) and CPU. */
  readonly sidecarRssMb?: number
  readonly sidecarRssEndMb?: number
  readonly sidecarCpuPercent?: number
  /** The sidecar's CPU from the workers' go to their last answer, per acknowledged record (µs). */
  readonly sidecarCpuUsPerRecord?: number
  /** All the workers' CPU over the same time, per acknowledged record (µs): KafkaJS's own in direct mode. */
  readonly workersCpuUsPerRecord: number
  readonly sidecarRssSamples?: Array<{ tSec: number; rssMb: number }>
}

export interface RunContext {
  readonly cluster: ClusterUnderTest
  readonly topic: string
  /** Where the workers' warm-up records go (`--warmup`); null without one. */
  readonly warmupTopic?: string | null
  readonly workerScript: string
  readonly execArgv: string[]
  readonly sidecarAddress: string | null
  readonly sidecarPid: number | null
  /** `--pin`: each worker is pinned to the application's core once forked (cpu-pinning.ts). */
  readonly pin?: boolean
  /** How often the sidecar's CPU and RSS are sampled; default 500 ms. */
  readonly sampleIntervalMs?: number
  readonly onProgress: (acked: number, failed: number, elapsedSeconds: number) => void
}

interface Worker {
  readonly child: ChildProcess
  readonly messages: WorkerMessage[]
  acked: number
  failed: number
}

function nextMessage<T extends WorkerMessage['type']>(
  worker: Worker,
  type: T,
): Promise<Extract<WorkerMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: WorkerMessage) => {
      if (message.type !== type) return
      worker.child.off('message', onMessage)
      worker.child.off('exit', onExit)
      resolve(message as Extract<WorkerMessage, { type: T }>)
    }
    const onExit = (code: number | null) =>
      reject(new Error(`worker ${worker.child.pid} exited with ${code} before sending "${type}"`))
    worker.child.on('message', onMessage)
    worker.child.once('exit', onExit)
  })
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

/** One worker process, told its share of the run by COMPARE_WORKER_CONFIG and its mode by KAFKA_SIDECAR_MODE. */
function forkWorker(mode: Mode, settings: RunSettings, context: RunContext, workerId: number): Worker {
  const config: WorkerConfig = {
    workerId,
    topic: context.topic,
    records: settings.recordsPerProcess,
    batch: settings.batch,
    concurrency: settings.concurrency,
    valueBytes: settings.valueBytes,
    keysPerWorker: settings.keysPerWorker,
    warmupRecords: settings.warmupPerProcess ?? 0,
    warmupTopic: context.warmupTopic ?? null,
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...context.cluster.clientEnv,
    COMPARE_WORKER_CONFIG: JSON.stringify(config),
    KAFKA_SIDECAR_MODE: mode,
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
  }
  if (context.sidecarAddress) env.KAFKA_SIDECAR_ADDRESS = context.sidecarAddress
  const child = fork(context.workerScript, ['--worker'], { execArgv: context.execArgv, env, serialization: 'advanced' })
  if (context.pin && child.pid) pinToCore(child.pid, APPLICATION_CORE)
  const worker: Worker = { child, messages: [], acked: 0, failed: 0 }
  child.on('message', (message: WorkerMessage) => {
    if (message.type === 'progress') {
      worker.acked = message.acked
      worker.failed = message.failed
    }
  })
  return worker
}

export async function runMode(mode: Mode, settings: RunSettings, context: RunContext): Promise<ModeResult> {
  const { cluster, topic } = context
  const workers: Worker[] = []
  // Started before the workers exist: the pids are asked for at every sample.
  const connections = cluster.watchConnections(() => [
    ...workers.flatMap((w) => (w.child.pid ? [w.child.pid] : [])),
    ...(context.sidecarPid ? [context.sidecarPid] : []),
  ])
  try {
    for (let workerId = 0; workerId < settings.processes; workerId++)
      workers.push(forkWorker(mode, settings, context, workerId))
    const ready = await Promise.all(workers.map((w) => nextMessage(w, 'ready')))
    const wrongMode = ready.find((r) => r.mode !== mode)
    if (wrongMode) throw new Error(`a worker runs in ${wrongMode.mode} mode, expected ${mode}`)

    const sidecarWatch = context.sidecarPid ? watchProcess(context.sidecarPid, context.sampleIntervalMs ?? 500) : null
    const workersCpuAtGo = workersCpuSeconds(workers)
    const started = performance.now()
    const progress = setInterval(
      () =>
        context.onProgress(
          workers.reduce((s, w) => s + w.acked, 0),
          workers.reduce((s, w) => s + w.failed, 0),
          (performance.now() - started) / 1000,
        ),
      500,
    )
    const done = workers.map((w) => nextMessage(w, 'done'))
    for (const w of workers) w.child.send({ type: 'go' } satisfies ParentMessage)
    const results = await Promise.all(done)
    const elapsedMs = performance.now() - started
    const workersCpu = workersCpuSeconds(workers) - workersCpuAtGo
    clearInterval(progress)
    const samples = sidecarWatch?.stop() ?? []
    const peakBrokerConnections = connections.stop()
    for (const w of workers) w.child.send({ type: 'exit' } satisfies ParentMessage)
    await Promise.all(
      workers.map(
        (w) => new Promise((resolve) => (w.child.exitCode !== null ? resolve(null) : w.child.once('exit', resolve))),
      ),
    )

    const check = await checkDelivery(
      cluster,
      topic,
      results.map((r) => r.acked),
    )
    const latencies = Float64Array.from(
      results.flatMap((r) => Array.from(r.latenciesMs).filter((x) => !Number.isNaN(x))),
    ).sort()
    const acked = results.reduce((sum, r) => sum + r.acked.reduce((s, x) => s + x, 0), 0)
    return {
      mode,
      peakBrokerConnections,
      recordsPerSec: Math.round(acked / (elapsedMs / 1000)),
      p50Ms: round(percentile(latencies, 50)),
      p99Ms: round(percentile(latencies, 99)),
      attempted: settings.processes * settings.recordsPerProcess,
      acked,
      failed: results.reduce((sum, r) => sum + r.failed, 0),
      lost: check.lost,
      duplicates: check.duplicates,
      outOfOrder: check.outOfOrder,
      fallbackRecords: results.reduce((sum, r) => sum + r.fallbacks, 0),
      tracedSpans: results.some((r) => r.tracedSpans !== null)
        ? results.reduce((sum, r) => sum + (r.tracedSpans ?? 0), 0)
        : null,
      elapsedMs: Math.round(elapsedMs),
      firstError: results.find((r) => r.firstError)?.firstError ?? null,
      workersCpuUsPerRecord: round((workersCpu * 1e6) / Math.max(acked, 1)),
      ...(samples.length > 0 ? sidecarStats(samples, Math.max(acked, 1)) : {}),
    }
  } finally {
    connections.stop()
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL')
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000
}

/** CPU seconds the workers used so far (read from /proc). */
function workersCpuSeconds(workers: readonly Worker[]): number {
  return cpuSecondsOf(workers.flatMap((w) => (w.child.pid ? [w.child.pid] : [])))
}

function sidecarStats(
  samples: ProcessSample[],
  records: number,
): Pick<
  ModeResult,
  'sidecarRssMb' | 'sidecarRssEndMb' | 'sidecarCpuPercent' | 'sidecarCpuUsPerRecord' | 'sidecarRssSamples'
> {
  const first = samples[0]!
  const last = samples[samples.length - 1]!
  const seconds = (last.at - first.at) / 1000
  return {
    sidecarRssMb: Math.round(Math.max(...samples.map((s) => s.rssMb))),
    sidecarRssEndMb: Math.round(last.rssMb),
    sidecarCpuPercent: seconds > 0 ? Math.round(((last.cpuSeconds - first.cpuSeconds) / seconds) * 100) : 0,
    sidecarCpuUsPerRecord: round(((last.cpuSeconds - first.cpuSeconds) * 1e6) / records),
    sidecarRssSamples: samples.map((s) => ({ tSec: round((s.at - first.at) / 1000), rssMb: Math.round(s.rssMb) })),
  }
}

/**
 * Every acknowledged record must be in the log (else it is lost); a record found more than once
 * is a duplicate (at-least-once after a fallback); within a key, sequence numbers must grow.
 */
async function checkDelivery(
  cluster: ClusterUnderTest,
  topic: string,
  ackedByWorker: Uint8Array[],
): Promise<{ lost: number; duplicates: number; outOfOrder: number }> {
  const seen = ackedByWorker.map((a) => new Uint8Array(a.length))
  let duplicates = 0
  let outOfOrder = 0
  const lastSeqByKey = new Map<string, number>()
  await cluster.forEachRecord(topic, (record) => {
    const parsed = parseValue(record.value)
    if (!parsed || !seen[parsed.workerId]) return
    const counts = seen[parsed.workerId]!
    if (counts[parsed.seq]) {
      duplicates++
      return
    }
    counts[parsed.seq] = 1
    const key = `${record.partition}/${record.key?.toString()}`
    if ((lastSeqByKey.get(key) ?? -1) > parsed.seq) outOfOrder++
    lastSeqByKey.set(key, parsed.seq)
  })
  let lost = 0
  ackedByWorker.forEach((acked, workerId) => {
    for (let seq = 0; seq < acked.length; seq++) if (acked[seq] && !seen[workerId]![seq]) lost++
  })
  return { lost, duplicates, outOfOrder }
}
