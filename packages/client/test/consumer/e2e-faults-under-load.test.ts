/**
 * Fault proofs for consumers under load (issue 16, item 9), in sidecar mode and, for comparison,
 * with KafkaJS's consumers directly: a pod of worker processes running an ordinary KafkaJS
 * eachMessage program, records written to every partition all along, and a fault in the middle:
 * the sidecar stopped by SIGTERM and a new one started on the same socket (in direct mode the
 * same outage of the pod: every worker stopped by SIGTERM and new ones started), or the broker
 * coordinating the group (and leading a third of the partitions) stopped for a few seconds and
 * started again. Every record the cluster stored is then accounted for, one by one: processed at
 * least once, none skipped, in order within each ownership, every duplicate counted and explained
 * as the tail of an ownership cut off before it committed. The numbers go to docs/reliability.md.
 */
import {
  randomTopic,
  socketPath,
  spawnSidecar,
  startCluster,
  waitFor,
  within,
  type ChildSidecar,
} from '@kafka-sidecar/test-support'
import type { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import { describe, expect, it } from 'vitest'
import { account, longestPauses } from './consumption-accounting.js'
import { writeContinuously } from './continuous-writer.js'
import { report } from './e2e-helpers.js'
import { allReady, startWorker, type PodWorker } from './pod-workers.js'

const PARTITIONS = 6
const WORKERS = 3
const DELAY_MS = 2
/** How long the broker stays down at least (consumption must go on meanwhile). */
const BROKER_DOWN_MS = 3_000

type Mode = 'sidecar' | 'kafkajs'

interface Pod {
  readonly cluster: EmbeddedKafka
  readonly topic: string
  readonly groupId: string
  readonly mode: Mode
  readonly socket: string
  sidecar: ChildSidecar | null
  /** Every worker started, the stopped ones included (their records count). */
  readonly workers: PodWorker[]
  /** The workers running now. */
  live: PodWorker[]
}

function startWorkers(pod: Pod): PodWorker[] {
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
  return started
}

/** The live workers' last GROUP_JOINs cover every partition once. */
function dividedOnce(workers: readonly PodWorker[], topic: string): boolean {
  const all = workers.flatMap((w) => w.partitions(topic)).sort((a, b) => a - b)
  return JSON.stringify(all) === JSON.stringify(Array.from({ length: PARTITIONS }, (_, p) => p))
}

/** Waits until the pod consumes every partition: each has a record processed at or past `offsets`. */
async function consumingPast(pod: Pod, offsets: readonly number[], what: string, timeoutMs: number): Promise<void> {
  const highest = () => {
    const top = Array<number>(PARTITIONS).fill(-1)
    for (const r of pod.workers.flatMap((w) => w.records())) top[r.p!] = Math.max(top[r.p!]!, r.o!)
    return top
  }
  await waitFor(
    () => `${what}: processed up to ${JSON.stringify(highest())}, wanted ${JSON.stringify(offsets)}`,
    () => highest().every((o, p) => o >= offsets[p]!),
    timeoutMs,
  )
}

const highWatermarks = (pod: Pod) => pod.cluster.offsets(pod.topic).map((o) => o.highWatermark)

async function startPod(mode: Mode): Promise<Pod & { stopWriting: () => Promise<void> }> {
  const cluster = await startCluster({ brokers: 3 })
  const topic = randomTopic('load')
  await cluster.createTopic({ topic, partitions: PARTITIONS })
  const writer = await writeContinuously(cluster, topic, PARTITIONS)
  const socket = await socketPath()
  const pod: Pod = {
    cluster,
    topic,
    groupId: randomTopic('load-group'),
    mode,
    socket,
    sidecar: mode === 'sidecar' ? await spawnSidecar(cluster, socket) : null,
    workers: [],
    live: [],
  }
  const workers = startWorkers(pod)
  await allReady(workers, 30_000)
  await waitFor('the partitions divided among the workers', () => dividedOnce(workers, topic), 30_000)
  await consumingPast(pod, highWatermarks(pod), 'consuming before the fault', 20_000)
  return { ...pod, stopWriting: () => writer.stop() }
}

/**
 * After the fault: consumption goes past what was written by then, the writing stops, and every
 * stored record is awaited (not failing here: the accounting says what is missing).
 */
async function settle(pod: Pod, stopWriting: () => Promise<void>) {
  await consumingPast(pod, highWatermarks(pod), 'consuming after the fault', 25_000)
  await stopWriting()
  const writingStopped = Date.now()
  const stored = await pod.cluster.records(pod.topic)
  const wanted = new Set(stored.map((r) => `${r.partition}:${r.offset}`))
  const processed = () => new Set(pod.workers.flatMap((w) => w.records()).map((r) => `${r.p}:${r.o}`))
  await waitFor('every stored record', () => [...wanted].every((k) => processed().has(k)), 20_000).catch(() => {})
  return { stored, writingStopped }
}

function expectAccounted(accounting: ReturnType<typeof account>, numbers: object): void {
  const message = JSON.stringify(numbers)
  expect(accounting.stored, message).toBeGreaterThan(0)
  expect(accounting.skipped, message).toBe(0)
  expect(accounting.unknown, message).toBe(0)
  expect(accounting.orderViolations, message).toBe(0)
  expect(accounting.unexplainedDuplicates, message).toBe(0)
}

/** SIGTERM by PID, and its exit within `ms`; how long it took. */
async function terminate(program: { signal(s: NodeJS.Signals): void; exited: Promise<{ code: number | null }> }, ms: number) {
  const start = Date.now()
  program.signal('SIGTERM')
  const exit = await within(program.exited, ms, 'exit after SIGTERM')
  return { code: exit.code, ms: Date.now() - start }
}

/**
 * The restart of what stands between the pod and Kafka: in sidecar mode the sidecar (SIGTERM,
 * then a new one on the same socket; the workers stay and rejoin); in direct mode every worker
 * (SIGTERM, then new ones), the same outage of the pod's consumption.
 */
async function gracefulRestart(pod: Pod) {
  if (pod.sidecar) {
    const exit = await terminate(pod.sidecar, 10_000)
    pod.sidecar = await spawnSidecar(pod.cluster, pod.socket)
    return { exitCode: exit.code, exitMs: exit.ms }
  }
  const exits = await Promise.all(pod.live.map((w) => terminate(w.program, 15_000)))
  const started = startWorkers(pod)
  await allReady(started, 30_000)
  return { exitCode: Math.max(...exits.map((e) => e.code ?? -1)), exitMs: Math.max(...exits.map((e) => e.ms)) }
}

/** The broker coordinating the group stopped, consumption awaited while it is down, then started again. */
async function brokerFailover(pod: Pod) {
  const coordinator = pod.cluster.groupCoordinator(pod.groupId)
  const led = pod.cluster
    .offsets(pod.topic)
    .filter((o) => o.leaderId === coordinator)
    .map((o) => o.partition)
  const atStop = highWatermarks(pod)
  const stopped = Date.now()
  await pod.cluster.stopBroker(coordinator)
  const newCoordinator = pod.cluster.groupCoordinator(pod.groupId)
  await consumingPast(pod, atStop, 'consuming while the broker is down', 25_000)
  const resumedMs = Date.now() - stopped
  // Down for a few seconds at least, as a crashed broker is; the proof is what comes after.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, stopped + BROKER_DOWN_MS - Date.now())))
  await pod.cluster.startBroker(coordinator)
  return { coordinator, newCoordinator, ledPartitions: led, downMs: Date.now() - stopped, resumedMs }
}

async function underLoad(mode: Mode, fault: (pod: Pod) => Promise<object>) {
  const pod = await startPod(mode)
  const generation = pod.cluster.groupGeneration(pod.groupId)!
  const faultAt = Date.now()
  const faultNumbers = await fault(pod)
  const { stored, writingStopped } = await settle(pod, pod.stopWriting)
  const accounting = account(pod.workers, stored)
  const pauses = longestPauses(pod.workers, faultAt, writingStopped)
  const numbers = {
    mode,
    ...faultNumbers,
    ...accounting,
    kafkaRebalances: pod.cluster.groupGeneration(pod.groupId)! - generation,
    longestPausePodMs: pauses.podMs,
    longestPausePartitionMs: pauses.partitionMs,
  }
  report(JSON.stringify(numbers))
  if (accounting.skipped > 0 || process.env.CFAULT_DEBUG) // DEBUG
    (await import('node:fs')).writeFileSync(`/tmp/cfault-debug-${Date.now()}.json`, JSON.stringify({ numbers, faultAt, writingStopped, workers: pod.workers.map((w) => ({ pid: w.pid, out: w.program.stdout(), err: w.program.stderr() })), sidecarErr: pod.sidecar?.stderr(), hw: pod.cluster.offsets(pod.topic) })) // DEBUG
  expectAccounted(accounting, numbers)
  return { pod, numbers, accounting }
}

describe('consumer faults under load', () => {
  it('sidecar mode: SIGTERM to the sidecar, a new one on the same socket; duplicates at most the messages in hand', async () => {
    const { numbers, accounting } = await underLoad('sidecar', gracefulRestart)
    expect(numbers).toMatchObject({ exitCode: 0 })
    expect(accounting.duplicates, JSON.stringify(numbers)).toBeLessThanOrEqual(WORKERS)
  }, 90_000)

  it('sidecar mode: the group coordinator (and partition leader) broker down and back', async () => {
    const { numbers } = await underLoad('sidecar', brokerFailover)
    expect(numbers).toMatchObject({ mode: 'sidecar' })
  }, 90_000)

  it('direct mode (KafkaJS): every worker of the pod SIGTERMed and restarted', async () => {
    const { numbers } = await underLoad('kafkajs', gracefulRestart)
    expect(numbers).toMatchObject({ exitCode: 0 })
  }, 90_000)

  it('direct mode (KafkaJS): the group coordinator (and partition leader) broker down and back', async () => {
    const { numbers } = await underLoad('kafkajs', brokerFailover)
    expect(numbers).toMatchObject({ mode: 'kafkajs' })
  }, 90_000)
})
