/**
 * A pod under load, for the consumer fault tests: a 3-broker cluster, a topic written to all along
 * (continuous-writer.ts), and worker processes running the ordinary KafkaJS eachMessage program
 * (pod-workers.ts), either in sidecar mode behind the kafka-sidecar CLI on a Unix socket or on
 * KafkaJS directly. Everything started here is stopped by PID when the test ends.
 */
import type { EmbeddedKafka, EmbeddedRecord } from '@kafka-sidecar/embedded-kafka'
import {
  randomTopic,
  socketPath,
  spawnSidecar,
  startCluster,
  waitFor,
  type ChildSidecar,
} from '@kafka-sidecar/test-support'
import { writeContinuously, type ContinuousWriter } from './continuous-writer.js'
import { allReady, startWorker, type PodWorker } from './pod-workers.js'

export type Mode = 'sidecar' | 'kafkajs'

export const PARTITIONS = 6
export const WORKERS = 3
/** Each record's handler waits this long, so a batch is in hand when a fault comes. */
const DELAY_MS = 2
/** As the CLI's default: a graceful stop waits this long for the processes' releases. */
export const SIDECAR_SHUTDOWN_TIMEOUT_MS = 10_000

export interface LoadPod {
  readonly cluster: EmbeddedKafka
  readonly topic: string
  readonly groupId: string
  readonly mode: Mode
  readonly socket: string
  readonly writer: ContinuousWriter
  sidecar: ChildSidecar | null
  /** Every worker started, the stopped ones included (what they processed counts). */
  readonly workers: PodWorker[]
  /** The workers running now. */
  live: PodWorker[]
}

/** The sidecar CLI as a pod runs it (through tsx here, so a start on a busy machine gets time). */
export function startSidecar(cluster: EmbeddedKafka, socket: string): Promise<ChildSidecar> {
  const env = { KAFKA_SIDECAR_SHUTDOWN_TIMEOUT_MS: String(SIDECAR_SHUTDOWN_TIMEOUT_MS) }
  return spawnSidecar(cluster, socket, env, 40_000)
}

/** WORKERS new worker processes of the pod, the live ones from now on; resolves once all joined. */
export async function startWorkers(pod: LoadPod): Promise<void> {
  const started = Array.from({ length: WORKERS }, () =>
    startWorker({
      cluster: pod.cluster,
      topic: pod.topic,
      groupId: pod.groupId,
      mode: pod.mode,
      address: pod.sidecar?.address,
      delayMs: DELAY_MS,
    }),
  )
  pod.workers.push(...started)
  pod.live = started
  await allReady(started, 45_000)
}

/** The cluster's high watermark of each partition now. */
export const highWatermarks = (pod: LoadPod): number[] => pod.cluster.offsets(pod.topic).map((o) => o.highWatermark)

/** The highest offset processed of each partition (-1 for none), by any worker. */
function highestProcessed(pod: LoadPod): number[] {
  const top = Array<number>(PARTITIONS).fill(-1)
  for (const w of pod.workers) for (const r of w.records()) top[r.p!] = Math.max(top[r.p!]!, r.o!)
  return top
}

/** Waits until every partition has a record processed at or past `offsets` (a high watermark: the next one written). */
export async function consumingPast(
  pod: LoadPod,
  offsets: readonly number[],
  what: string,
  timeoutMs: number,
): Promise<void> {
  await waitFor(
    () => `${what}: processed up to ${JSON.stringify(highestProcessed(pod))}, wanted ${JSON.stringify(offsets)}`,
    () => highestProcessed(pod).every((o, p) => o >= offsets[p]!),
    timeoutMs,
  )
}

/** The live workers' last GROUP_JOINs cover every partition once. */
function dividedOnce(pod: LoadPod): boolean {
  const all = pod.live.flatMap((w) => w.partitions(pod.topic)).sort((a, b) => a - b)
  return JSON.stringify(all) === JSON.stringify(Array.from({ length: PARTITIONS }, (_, p) => p))
}

/** The pod consuming under load: writes going on, the partitions divided, the backlog consumed. */
export async function startLoadPod(mode: Mode): Promise<LoadPod> {
  const cluster = await startCluster({ brokers: 3 })
  const topic = randomTopic('load')
  await cluster.createTopic({ topic, partitions: PARTITIONS })
  const socket = await socketPath()
  const pod: LoadPod = {
    cluster,
    topic,
    groupId: randomTopic('load-group'),
    mode,
    socket,
    writer: await writeContinuously(cluster, topic, PARTITIONS),
    sidecar: mode === 'sidecar' ? await startSidecar(cluster, socket) : null,
    workers: [],
    live: [],
  }
  await startWorkers(pod)
  await waitFor('the partitions divided among the workers', () => dividedOnce(pod), 30_000)
  await consumingPast(pod, highWatermarks(pod), 'consuming before the fault', 30_000)
  return pod
}

/**
 * After the fault: consumption goes past what was written by then, the writing stops, and every
 * stored record is awaited (without failing here: the accounting says what is missing).
 */
export async function settle(pod: LoadPod): Promise<{ stored: EmbeddedRecord[]; writingStopped: number }> {
  await consumingPast(pod, highWatermarks(pod), 'consuming after the fault', 30_000)
  await pod.writer.stop()
  const writingStopped = Date.now()
  const stored = await pod.cluster.records(pod.topic)
  const everyStored = () => {
    const processed = new Set(pod.workers.flatMap((w) => w.records()).map((r) => `${r.p}:${r.o}`))
    return stored.every((r) => processed.has(`${r.partition}:${r.offset}`))
  }
  await waitFor('every stored record processed', everyStored, 20_000).catch(() => {})
  return { stored, writingStopped }
}
