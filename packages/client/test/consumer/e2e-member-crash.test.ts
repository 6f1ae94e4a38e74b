/**
 * The sidecar's group member crashes and KafkaJS restarts it (the brokers gone for longer than its
 * retries): the processes hear `group_error` with `restarting`, which the client turns into
 * KafkaJS's CRASH with `restart: true`, keeping its stream (no rejoin of its own); once the member
 * is back, GROUP_JOIN comes again and consumption goes on from the committed offsets.
 */
import { randomTopic, startCluster, startTestSidecar, waitFor } from '@kafka-sidecar/test-support'
import kafkajs from 'kafkajs'
import type { InstrumentationEvent, LogEntry } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { Kafka } from '../../src/index.js'
import { consumerOf, recordWriter, type Seen } from './e2e-helpers.js'

describe("end to end: the sidecar's member crashes and restarts", () => {
  it('CRASH with restart true, the same stream, GROUP_JOIN again, nothing lost', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const topic = randomTopic('crash')
    await cluster.createTopic({ topic, partitions: 2 })
    const write = await recordWriter(cluster)
    await write(topic, 2, 0, 10)
    const sidecar = await startTestSidecar(cluster)
    const logs: LogEntry[] = []
    const kafka = new Kafka({
      clientId: 'e2e-app',
      brokers: cluster.bootstrapServers,
      logLevel: kafkajs.logLevel.INFO,
      logCreator: () => (entry) => void logs.push(entry),
      sidecar: { consumerMode: 'sidecar', address: sidecar.address },
    })
    const seen: Seen[] = []
    const events: Array<InstrumentationEvent<{ restart?: boolean; error?: Error }>> = []
    const consumer = consumerOf(kafka, { groupId: randomTopic('group') })
    for (const type of [consumer.events.CRASH, consumer.events.GROUP_JOIN, consumer.events.CONNECT])
      consumer.on(type, (event) => void events.push(event))
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ partition, message }) =>
        void seen.push({ partition, offset: Number(message.offset), value: message.value!.toString() }),
    })
    await waitFor('the first 20 records', () => seen.length === 20, 15_000)

    await cluster.stopBrokers()
    await waitFor('CRASH', () => events.some((e) => e.type === 'consumer.crash'), 30_000)
    const crash = events.find((e) => e.type === 'consumer.crash')!.payload
    expect(crash.restart).toBe(true)
    expect(crash.error!.message).toMatch(/the sidecar's member of group .* failed/)
    const joinsBefore = events.filter((e) => e.type === 'consumer.group_join').length
    await cluster.startBrokers()
    await write(topic, 2, 10, 10)
    await waitFor('all 40 records', () => new Set(seen.map((s) => s.value)).size === 40, 20_000)
    expect(events.filter((e) => e.type === 'consumer.group_join').length).toBeGreaterThan(joinsBefore)
    // The stream was kept: no stream lost, and no restart of the client's own (CONNECT from connect() and run() only).
    expect(logs.filter((l) => /Lost the stream to the sidecar/.test(l.log.message))).toEqual([])
    expect(events.filter((e) => e.type === 'consumer.connect')).toHaveLength(2)
  }, 60_000)
})
