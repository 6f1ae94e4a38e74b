import {
  connectedProducer,
  kafkaFor,
  randomTopic,
  startCluster,
  startTestSidecar,
  waitFor,
} from '@kafka-sidecar/test-support'
import { status } from '@grpc/grpc-js'
import { describe, expect, it } from 'vitest'
import { byPartition, consumerClient, joinRequest, TestConsumer, type ConsumedByTest } from './consumer-helpers.js'
import type { RunningSidecar } from '../src/index.js'

async function produce(
  cluster: Parameters<typeof kafkaFor>[0],
  topic: string,
  partitions: number,
  perPartition: number,
  from = 0,
) {
  const producer = await connectedProducer(kafkaFor(cluster))
  for (let p = 0; p < partitions; p++)
    await producer.send({
      topic,
      messages: Array.from({ length: perPartition }, (_, i) => ({ partition: p, value: `p${p}-${from + i}` })),
    })
}

async function metric(sidecar: RunningSidecar, name: string): Promise<number> {
  const values = (await sidecar.metrics.registry.getSingleMetric(name)!.get()).values
  return values.reduce((sum, v) => sum + v.value, 0)
}

/** Every value of 0..n-1 per partition, each at least once, in order within each reader's share. */
function distinctValues(consumed: readonly ConsumedByTest[]): Set<string> {
  return new Set(consumed.map((c) => c.value))
}

describe("Consume: partitions move between the pod's processes without a Kafka rebalance", () => {
  it('splits the partitions evenly between two processes, each partition read by one', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('split')
    await cluster.createTopic({ topic, partitions: 4 })
    const sidecar = await startTestSidecar(cluster)
    const groupId = randomTopic('group')
    const client = consumerClient(sidecar)
    const a = TestConsumer.join(client, joinRequest(groupId, [topic]))
    await waitFor('a owns all 4', () => a.partitions().length === 4, 20_000)
    const b = TestConsumer.join(client, joinRequest(groupId, [topic]))
    await waitFor('2 and 2', () => a.partitions().length === 2 && b.partitions().length === 2, 10_000)
    await produce(cluster, topic, 4, 30)
    await waitFor('120 records', () => a.consumed.length + b.consumed.length >= 120, 20_000)
    const aParts = new Set(a.consumed.map((c) => c.partition))
    const bParts = new Set(b.consumed.map((c) => c.partition))
    expect([...aParts].filter((p) => bParts.has(p))).toEqual([])
    expect(a.consumed.length + b.consumed.length).toBe(120)
    expect(await metric(sidecar, 'kafka_sidecar_consumer_kafka_rebalances_total')).toBe(0)
    expect(await metric(sidecar, 'kafka_sidecar_consumer_local_moves_total')).toBe(2)
    expect(await metric(sidecar, 'kafka_sidecar_consumer_processes')).toBe(2)
  })

  it('a process cancelled mid-batch: its partitions move to the other, its unprocessed records come again (counted), nothing lost', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('cancel')
    await cluster.createTopic({ topic, partitions: 2 })
    await produce(cluster, topic, 2, 40)
    const sidecar = await startTestSidecar(cluster)
    const groupId = randomTopic('group')
    const client = consumerClient(sidecar)
    const a = TestConsumer.join(client, joinRequest(groupId, [topic]), { hold: true })
    await waitFor('a holds a batch of each partition', () => a.held.length === 2, 20_000)
    const b = TestConsumer.join(client, joinRequest(groupId, [topic]))
    // One partition is revoked from a, which keeps it until its batch is finished.
    await waitFor('a revoke for a', () => a.events$('revoke').length === 1)
    expect(b.partitions()).toEqual([])
    // a processes 10 records of each batch, reports them, and dies.
    for (const batch of a.held) {
      a.send({
        request: {
          $case: 'progress',
          value: { topic, partition: batch.partition, assignmentId: batch.assignmentId, nextOffset: 10 },
        },
      })
      a.consumed.push(
        ...batch.records.slice(0, 10).map((r) => ({
          topic,
          partition: batch.partition,
          offset: r.offset,
          value: Buffer.from(r.value!).toString(),
        })),
      )
    }
    await new Promise((r) => setTimeout(r, 100))
    a.cancel()
    await waitFor('b reads the rest', () => b.consumed.length >= 60, 10_000)
    expect(b.partitions()).toEqual([`${topic}|0`, `${topic}|1`])
    expect(b.redelivered).toBe(60)
    expect(await metric(sidecar, 'kafka_sidecar_consumer_records_redelivered_total')).toBe(60)
    const all = [...a.consumed, ...b.consumed]
    expect(all.length).toBe(80)
    expect(distinctValues(all).size).toBe(80)
    // Order within b's share: from where a stopped, in offset order.
    for (const values of byPartition(b.consumed).values()) expect(values[0]).toMatch(/-10$/)
  })

  it('a process that stops sending anything loses its partitions after process_timeout_ms', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('silent')
    await cluster.createTopic({ topic, partitions: 2 })
    const sidecar = await startTestSidecar(cluster)
    const groupId = randomTopic('group')
    const client = consumerClient(sidecar)
    const silent = TestConsumer.join(client, joinRequest(groupId, [topic], { processTimeoutMs: 600 }), { hold: true })
    await waitFor('silent owns both', () => silent.partitions().length === 2, 20_000)
    const other = TestConsumer.join(client, joinRequest(groupId, [topic]))
    await waitFor('other joined', () => other.events$('joined').length === 1)
    await produce(cluster, topic, 2, 5)
    await waitFor('silent holds a batch', () => silent.held.length === 1 && other.consumed.length === 5, 10_000)
    const stoppedAt = Date.now()
    silent.fallSilent()
    const ended = await silent.ended()
    expect(ended.code).toBe(status.DEADLINE_EXCEEDED)
    expect(ended.details).toMatch(/nothing heard from this instance for 600 ms/)
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(500)
    await waitFor('other reads all 10', () => other.consumed.length === 10, 10_000)
    expect(other.partitions()).toEqual([`${topic}|0`, `${topic}|1`])
  })

  it("a slow process (never finishing its batch) does not slow the other process's partitions", async () => {
    const cluster = await startCluster()
    const topic = randomTopic('slow')
    await cluster.createTopic({ topic, partitions: 2 })
    const sidecar = await startTestSidecar(cluster)
    const groupId = randomTopic('group')
    const client = consumerClient(sidecar)
    const slow = TestConsumer.join(client, joinRequest(groupId, [topic]), { hold: true })
    await waitFor('slow owns both', () => slow.partitions().length === 2, 20_000)
    const fast = TestConsumer.join(client, joinRequest(groupId, [topic]))
    await waitFor('one each', () => slow.partitions().length === 1 && fast.partitions().length === 1, 10_000)
    const fastPartition = Number(fast.partitions()[0]!.split('|')[1])
    const producer = await connectedProducer(kafkaFor(cluster))
    for (let round = 0; round < 5; round++) {
      await producer.send({
        topic,
        messages: [0, 1].flatMap((p) =>
          Array.from({ length: 20 }, (_, i) => ({ partition: p, value: `p${p}-${round * 20 + i}` })),
        ),
      })
      await waitFor(`fast reads round ${round}`, () => fast.consumed.length === (round + 1) * 20, 5_000)
    }
    expect(new Set(fast.consumed.map((c) => c.partition))).toEqual(new Set([fastPartition]))
    expect(slow.held.length).toBe(1)
  })

  it('holds each process to its records in flight: a full process gets no more until it reports', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('flow')
    await cluster.createTopic({ topic, partitions: 3 })
    await produce(cluster, topic, 3, 30)
    const sidecar = await startTestSidecar(cluster)
    const groupId = randomTopic('group')
    const consumer = TestConsumer.join(
      consumerClient(sidecar),
      joinRequest(groupId, [topic], { maxRecordsInFlight: 25 }),
      { hold: true },
    )
    await waitFor('batches', () => consumer.held.length > 0, 20_000)
    await new Promise((r) => setTimeout(r, 300))
    const inFlight = () => consumer.held.reduce((sum, b) => sum + b.records.length, 0)
    expect(inFlight()).toBeLessThanOrEqual(25)
    let delivered = 0
    while (delivered < 90) {
      expect(inFlight()).toBeLessThanOrEqual(25)
      delivered += inFlight()
      consumer.finish()
      if (delivered < 90) await waitFor('more batches', () => consumer.held.length > 0, 5_000)
    }
    expect(consumer.consumed.length).toBe(90)
  })
})
