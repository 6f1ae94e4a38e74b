/**
 * Fault proofs for consumers under load (issue 16, item 9), in sidecar mode and, for comparison,
 * with KafkaJS's consumers directly: a pod of worker processes running an ordinary KafkaJS
 * eachMessage program, records written to every partition all along (load-pod.ts), and a fault
 * in the middle: the sidecar stopped by SIGTERM and a new one started on the same socket (in
 * direct mode the same outage of the pod's consumption: every worker stopped by SIGTERM and new
 * ones started), or the broker coordinating the group (and leading a third of the partitions)
 * stopped for a few seconds and started again. Every record the cluster stored is then accounted
 * for, one by one (consumption-accounting.ts): processed at least once, none skipped, in order
 * within each ownership, every duplicate counted and explained as the tail of an ownership cut
 * off before it committed. The numbers are in docs/reliability.md.
 */
import { within } from '@kafka-sidecar/test-support'
import { describe, expect, it } from 'vitest'
import { account, longestPauses, type Accounting } from './consumption-accounting.js'
import { report } from './e2e-helpers.js'
import {
  consumingPast,
  highWatermarks,
  settle,
  SIDECAR_SHUTDOWN_TIMEOUT_MS,
  startLoadPod,
  startSidecar,
  startWorkers,
  type LoadPod,
  type Mode,
} from './load-pod.js'

/** How long the broker stays down at least (consumption must resume meanwhile). */
const BROKER_DOWN_MS = 3_000

interface Stoppable {
  signal(signal: NodeJS.Signals): void
  readonly exited: Promise<{ code: number | null }>
}

/** SIGTERM by PID, and its exit within `ms`: the exit code and how long it took. */
async function terminate(program: Stoppable, ms: number): Promise<{ code: number | null; ms: number }> {
  const start = Date.now()
  program.signal('SIGTERM')
  const exit = await within(program.exited, ms, 'exit after SIGTERM')
  return { code: exit.code, ms: Date.now() - start }
}

/**
 * A graceful restart of what stands between the pod and Kafka: in sidecar mode the sidecar
 * (SIGTERM, then a new one on the same socket; the workers stay and rejoin by themselves); in
 * direct mode every worker (SIGTERM, then new ones). `replacedMs`: from the SIGTERM until the new
 * sidecar listens, or the new workers' run() resolved (the process starts are most of a pause).
 */
async function gracefulRestart(pod: LoadPod): Promise<object> {
  const start = Date.now()
  if (pod.sidecar) {
    const exit = await terminate(pod.sidecar, SIDECAR_SHUTDOWN_TIMEOUT_MS + 5_000)
    pod.sidecar = await startSidecar(pod.cluster, pod.socket)
    return { exitCode: exit.code, exitMs: exit.ms, replacedMs: Date.now() - start }
  }
  const exits = await Promise.all(pod.live.map((w) => terminate(w.program, 15_000)))
  await startWorkers(pod)
  return {
    exitCode: Math.max(...exits.map((e) => e.code ?? -1)),
    exitMs: Math.max(...exits.map((e) => e.ms)),
    replacedMs: Date.now() - start,
  }
}

/**
 * The broker coordinating the group stopped; consumption of every partition awaited while it is
 * down (the partitions it led have new leaders); started again after BROKER_DOWN_MS at least
 * (its partitions' leadership returns to it).
 */
async function brokerFailover(pod: LoadPod): Promise<object> {
  const coordinator = pod.cluster.groupCoordinator(pod.groupId)
  const led = pod.cluster
    .offsets(pod.topic)
    .filter((o) => o.leaderId === coordinator)
    .map((o) => o.partition)
  const atStop = highWatermarks(pod)
  const stopped = Date.now()
  await pod.cluster.stopBroker(coordinator)
  const newCoordinator = pod.cluster.groupCoordinator(pod.groupId)
  await consumingPast(pod, atStop, 'consuming while the broker is down', 30_000)
  const resumedMs = Date.now() - stopped
  // Down for a few seconds at least, as a crashed broker is; what is asserted is what comes after.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, stopped + BROKER_DOWN_MS - Date.now())))
  await pod.cluster.startBroker(coordinator)
  return { coordinator, newCoordinator, ledPartitions: led, resumedMs, downMs: Date.now() - stopped }
}

/** The pod under load, the fault, every stored record accounted for; the numbers reported. */
async function underLoad(
  mode: Mode,
  fault: (pod: LoadPod) => Promise<object>,
): Promise<{ numbers: Record<string, unknown>; accounting: Accounting }> {
  const pod = await startLoadPod(mode)
  const generation = pod.cluster.groupGeneration(pod.groupId)!
  const faultAt = Date.now()
  const faultNumbers = await fault(pod)
  const { stored, writingStopped } = await settle(pod)
  const accounting = account(pod.workers, stored)
  const pauses = longestPauses(pod.workers, faultAt, writingStopped)
  const numbers = {
    mode,
    ...faultNumbers,
    ...accounting,
    sendsFailed: pod.writer.failed(),
    kafkaRebalances: pod.cluster.groupGeneration(pod.groupId)! - generation,
    longestPausePodMs: pauses.podMs,
    longestPausePartitionMs: pauses.partitionMs,
  }
  report(JSON.stringify(numbers))
  const message = JSON.stringify(numbers)
  expect(accounting.stored, message).toBeGreaterThan(0)
  expect(accounting.skipped, message).toBe(0)
  expect(accounting.unknown, message).toBe(0)
  expect(accounting.orderViolations, message).toBe(0)
  expect(accounting.unexplainedDuplicates, message).toBe(0)
  return { numbers, accounting }
}

/** The fault hit what it meant to: another broker coordinated the group meanwhile, and the stopped one led partitions. */
function expectFailedOver(numbers: Record<string, unknown>): void {
  expect(numbers.newCoordinator, JSON.stringify(numbers)).not.toBe(numbers.coordinator)
  expect(numbers.newCoordinator, JSON.stringify(numbers)).not.toBe(-1)
  expect(numbers.ledPartitions, JSON.stringify(numbers)).not.toEqual([])
}

describe('consumer faults under load', () => {
  it('sidecar mode: SIGTERM to the sidecar, a new one on the same socket; nothing processed twice', async () => {
    const { numbers, accounting } = await underLoad('sidecar', gracefulRestart)
    expect(numbers, JSON.stringify(numbers)).toMatchObject({ exitCode: 0 })
    // The revoke at shutdown stops each batch after the message in hand, and the processes commit
    // what they processed before the sidecar leaves the group: nothing is cut off.
    expect(accounting.duplicates, JSON.stringify(numbers)).toBe(0)
  }, 90_000)

  it('sidecar mode: the group coordinator (and partition leader) broker down and back', async () => {
    const { numbers } = await underLoad('sidecar', brokerFailover)
    expectFailedOver(numbers)
  }, 90_000)

  it('direct mode (KafkaJS): every worker of the pod SIGTERMed and restarted', async () => {
    const { numbers } = await underLoad('kafkajs', gracefulRestart)
    expect(numbers, JSON.stringify(numbers)).toMatchObject({ exitCode: 0 })
  }, 90_000)

  it('direct mode (KafkaJS): the group coordinator (and partition leader) broker down and back', async () => {
    const { numbers } = await underLoad('kafkajs', brokerFailover)
    expectFailedOver(numbers)
  }, 90_000)
})
