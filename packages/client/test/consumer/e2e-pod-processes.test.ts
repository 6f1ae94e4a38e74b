/**
 * The processes of one pod, as child processes running an ordinary KafkaJS consumer program: with
 * KafkaJS each process is a member of the group; in sidecar mode the pod's sidecar is the one
 * member, partitions are divided among the processes, a process killed mid-batch gives its
 * partitions to the others (duplicates only for the records it had processed and not reported,
 * fewer than the sidecar counts as redelivered), and a new process takes partitions without a
 * Kafka rebalance. Peak broker connections are measured in both modes.
 */
import {
  connectedAdmin,
  kafkaFor,
  randomTopic,
  startCluster,
  startTestSidecar,
  waitFor,
} from '@kafka-sidecar/test-support'
import { describe, expect, it } from 'vitest'
import { recordWriter, report } from './e2e-helpers.js'
import { allReady, peakConnections, startWorker, tally, type PodWorker } from './pod-workers.js'

const PARTITIONS = 8
const WORKERS = 4

/** Measured by the first test, compared by the second. */
let directPeak: number | null = null

async function setUp() {
  const cluster = await startCluster({ brokers: 3 })
  const topic = randomTopic('pod')
  await cluster.createTopic({ topic, partitions: PARTITIONS })
  const write = await recordWriter(cluster)
  const admin = await connectedAdmin(kafkaFor(cluster, 'pod-admin'))
  return { cluster, topic, write, admin, groupId: randomTopic('pod-group') }
}

/** Per worker and partition, the offsets it processed go up: order per partition holds. */
function expectOrderPerPartition(workers: readonly PodWorker[]): void {
  for (const w of workers) {
    const last = new Map<number, number>()
    for (const r of w.records()) {
      expect(r.o!, `worker ${w.pid} partition ${r.p}`).toBeGreaterThan(last.get(r.p!) ?? -1)
      last.set(r.p!, r.o!)
    }
  }
}

/** The last assignments of `workers` cover every partition once. */
function dividedOnce(workers: readonly PodWorker[], topic: string): boolean {
  const all = workers.flatMap((w) => w.partitions(topic)).sort((a, b) => a - b)
  return JSON.stringify(all) === JSON.stringify(Array.from({ length: PARTITIONS }, (_, p) => p))
}

const counterSum = async (counter: { get(): Promise<{ values: Array<{ value: number }> }> }) =>
  (await counter.get()).values.reduce((sum, v) => sum + v.value, 0)

describe('the processes of one pod', () => {
  it('KafkaJS direct: 4 processes are 4 group members', async () => {
    const { cluster, topic, write, admin, groupId } = await setUp()
    await write(topic, PARTITIONS, 0, 40)
    cluster.resetConnectionStats()
    const workers = Array.from({ length: WORKERS }, () => startWorker({ cluster, topic, groupId, mode: 'kafkajs' }))
    await allReady(workers)
    await waitFor(
      '4 members',
      async () => (await admin.describeGroups([groupId])).groups[0]!.members.length === 4,
      20_000,
    )
    await waitFor('every record', () => tally(workers).counts.size === PARTITIONS * 40, 20_000)
    directPeak = peakConnections(cluster)
    report(`peak broker connections, ${WORKERS} processes, KafkaJS direct: ${directPeak}`)
    await Promise.all(workers.map((w) => w.program.kill()))
  }, 40_000)

  it('sidecar mode: one member, local moves on kill -9 and on a new process, no Kafka rebalance, fewer connections', async () => {
    const { cluster, topic, write, admin, groupId } = await setUp()
    await write(topic, PARTITIONS, 0, 40)
    cluster.resetConnectionStats()
    const sidecar = await startTestSidecar(cluster)
    const address = sidecar.address
    const workers = Array.from({ length: WORKERS }, () =>
      startWorker({ cluster, topic, groupId, mode: 'sidecar', address, delayMs: 3 }),
    )
    await allReady(workers)
    await waitFor(
      'the partitions divided among the 4 processes, 2 each',
      () => dividedOnce(workers, topic) && workers.every((w) => w.partitions(topic).length === 2),
      20_000,
    )
    const described = (await admin.describeGroups([groupId])).groups[0]!
    expect(described.members).toHaveLength(1)
    await waitFor('the first 320 records', () => tally(workers).counts.size === PARTITIONS * 40, 20_000)

    // A backlog, then kill -9 a process while it works through it.
    await write(topic, PARTITIONS, 40, 60)
    const victim = workers[1]!
    const victimPartitions = victim.partitions(topic)
    await waitFor('the victim into the backlog', () => victim.records().some((r) => r.o! >= 45), 20_000)
    await victim.program.kill()
    const victimLines = victim.records()
    const survivors = workers.filter((w) => w !== victim)
    await waitFor('its partitions moved to the others', () => dividedOnce(survivors, topic), 20_000)
    await waitFor('every record of both rounds', () => tally(workers).counts.size === PARTITIONS * 100, 20_000)

    const { counts } = tally(workers)
    const duplicates = [...counts].filter(([, n]) => n > 1)
    const redelivered = await counterSum(sidecar.metrics.consumerRedelivered)
    report(
      `kill -9 of one of ${WORKERS} processes mid-batch: ${duplicates.length} records processed twice, ${redelivered} redelivered by the sidecar`,
    )
    expect(duplicates.every(([, n]) => n === 2)).toBe(true)
    // Only the killed process's cut-off records come twice: its partitions, first seen by it.
    for (const [value] of duplicates) {
      expect(victimPartitions).toContain(Number(/^p(\d+)-/.exec(value)![1]))
      expect(victimLines.some((r) => r.v === value)).toBe(true)
    }
    expect(duplicates.length).toBeLessThanOrEqual(redelivered)
    expectOrderPerPartition(workers)

    // A fifth process: partitions move to it locally.
    const fifth = startWorker({ cluster, topic, groupId, mode: 'sidecar', address, delayMs: 3 })
    const pod = [...survivors, fifth]
    await allReady([fifth])
    await waitFor(
      'partitions moved to the fifth',
      () => fifth.partitions(topic).length > 0 && dividedOnce(pod, topic),
      20_000,
    )
    await write(topic, PARTITIONS, 100, 10)
    await waitFor('the third round', () => tally([...workers, fifth]).counts.size === PARTITIONS * 110, 20_000)
    expect(fifth.records().length).toBeGreaterThan(0)
    expect(await counterSum(sidecar.metrics.consumerRebalances)).toBe(0)
    expect([...workers, fifth].flatMap((w) => w.lines()).filter((l) => l.event === 'rebalancing')).toEqual([])
    expect((await admin.describeGroups([groupId])).groups[0]!.members).toHaveLength(1)

    const sidecarPeak = peakConnections(cluster)
    report(`peak broker connections, ${WORKERS} processes, sidecar mode: ${sidecarPeak} (direct: ${directPeak})`)
    expect(directPeak).not.toBeNull()
    expect(sidecarPeak).toBeLessThan(directPeak!)
    await Promise.all([...survivors, fifth].map((w) => w.program.kill()))
  }, 60_000)
})
