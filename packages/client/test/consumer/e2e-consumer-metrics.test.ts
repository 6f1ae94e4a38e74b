/**
 * The client's consumer metrics, in a real prom-client registry, while a consumer program runs
 * through a real sidecar against embedded-kafka: records processed per topic, each handler call
 * timed, records in flight while a handler is held (0 when done, and after a stop that left
 * batches unrun), commits and their round trip; the mode gauge for sidecar and direct consumers.
 */
import { randomTopic, startCluster, startTestSidecar, waitFor } from '@kafka-sidecar/test-support'
import kafkajs from 'kafkajs'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { Kafka } from '../../src/index.js'
import { consumerOf, QUICK, topicWithRecords } from './e2e-helpers.js'

type Labels = Record<string, string | number>

async function values(registry: Registry, name: string): Promise<Array<{ labels: Labels; value: number }>> {
  const metric = registry.getSingleMetric(name)
  if (!metric) return []
  return (await metric.get()).values.map((v) => ({ labels: v.labels as Labels, value: v.value }))
}

/** The sum of a metric's series whose labels include `match`. */
async function sum(registry: Registry, name: string, match: Labels): Promise<number> {
  const matching = (await values(registry, name)).filter((v) =>
    Object.entries(match).every(([k, value]) => String(v.labels[k]) === String(value)),
  )
  return matching.reduce((total, v) => total + v.value, 0)
}

function metricsKafka(cluster: { bootstrapServers: string[] }, registry: Registry, address?: string): Kafka {
  return new Kafka({
    clientId: 'metrics-app',
    brokers: cluster.bootstrapServers,
    logLevel: kafkajs.logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 50, maxRetryTime: 500 },
    sidecarMetrics: { registry },
    sidecar: address
      ? { consumerMode: 'sidecar', address, connectTimeoutMs: 5_000 }
      : { consumerMode: 'direct', mode: 'direct' },
  })
}

const C = 'kafka_sidecar_client_consumer_'

describe('client consumer metrics', () => {
  it('eachMessage: records processed, handler calls timed, in flight while held and 0 after, commits ok', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('client-metrics')
    await topicWithRecords(cluster, topic, 2, 10)
    const sidecar = await startTestSidecar(cluster)
    const registry = new Registry()
    const groupId = randomTopic('group')
    const consumer = consumerOf(metricsKafka(cluster, registry, sidecar.address), { groupId })
    let release = () => {}
    const held = new Promise<void>((resolve) => (release = resolve))
    let seen = 0
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({
      eachMessage: async () => {
        if (seen++ === 0) await held
      },
    })
    const group = { client_id: 'metrics-app', group: groupId }
    await waitFor('the first message in its handler', () => seen === 1, 15_000)
    // The first partition's batch is in the handler, the other's waits its turn: both in flight.
    await waitFor(
      '20 records in flight',
      async () => (await sum(registry, `${C}records_in_flight`, group)) === 20,
      5_000,
    )
    expect(await sum(registry, `${C}mode`, { ...group, mode: 'sidecar' })).toBe(1)
    expect(await sum(registry, `${C}mode`, { ...group, mode: 'direct' })).toBe(0)

    release()
    await waitFor(
      '20 records processed',
      async () => (await sum(registry, `${C}records_processed_total`, group)) === 20,
    )
    expect(await sum(registry, `${C}records_processed_total`, { ...group, topic })).toBe(20)
    await waitFor('nothing in flight', async () => (await sum(registry, `${C}records_in_flight`, group)) === 0, 5_000)
    const calls = await sum(registry, `${C}handler_duration_seconds`, { ...group, handler: 'eachMessage', le: '+Inf' })
    expect(calls).toBe(20)
    await waitFor(
      'a commit answered',
      async () => (await sum(registry, `${C}commits_total`, { ...group, result: 'ok' })) > 0,
    )
    const commits = await sum(registry, `${C}commits_total`, group)
    expect(await sum(registry, `${C}commit_duration_seconds`, { ...group, le: '+Inf' })).toBe(commits)
    expect(await sum(registry, `${C}commits_total`, { ...group, result: 'failed' })).toBe(0)
  })

  it('eachBatch: the records resolved when it returned are processed; a stop with batches unrun leaves nothing in flight', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('client-metrics-batch')
    await topicWithRecords(cluster, topic, 2, 10)
    const sidecar = await startTestSidecar(cluster)
    const registry = new Registry()
    const groupId = randomTopic('group')
    const consumer = consumerOf(metricsKafka(cluster, registry, sidecar.address), { groupId })
    let batches = 0
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, isRunning }) => {
        // The first batch resolves 4 of its records; the second never returns until the stop.
        if (batches++ === 0) return resolveOffset(batch.messages[3]!.offset)
        while (isRunning()) await new Promise((r) => setTimeout(r, 20))
      },
    })
    const group = { client_id: 'metrics-app', group: groupId }
    await waitFor('the second batch in its handler', () => batches === 2, 15_000)
    expect(await sum(registry, `${C}records_processed_total`, { ...group, topic })).toBe(4)
    expect(await sum(registry, `${C}records_in_flight`, group)).toBeGreaterThan(0)
    await consumer.stop()
    expect(await sum(registry, `${C}records_in_flight`, group)).toBe(0)
    expect(await sum(registry, `${C}handler_duration_seconds`, { ...group, handler: 'eachBatch', le: '+Inf' })).toBe(2)
  })

  it('a direct consumer is counted by mode only', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const registry = new Registry()
    const groupId = randomTopic('group')
    const consumer = metricsKafka(cluster, registry).consumer({ ...QUICK, groupId })
    expect(consumer).toBeInstanceOf(Object)
    const group = { client_id: 'metrics-app', group: groupId }
    await waitFor('the mode gauge', async () => (await sum(registry, `${C}mode`, { ...group, mode: 'direct' })) === 1)
    expect(await sum(registry, `${C}mode`, { ...group, mode: 'sidecar' })).toBe(0)
    expect(await values(registry, `${C}records_processed_total`)).toEqual([])
  })
})
