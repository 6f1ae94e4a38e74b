/**
 * An ordinary KafkaJS consumer program, run against real parts: embedded-kafka, a real sidecar on
 * a Unix socket, the client over grpc-js in sidecar mode. It reads every record of a
 * multi-partition topic once, in order per partition, and commits exactly what it processed: the
 * same as the program with `kafkajs` imported.
 */
import { randomTopic, startCluster, startTestSidecar, waitFor } from '@kafka-sidecar/test-support'
import kafkajs from 'kafkajs'
import { describe, expect, it } from 'vitest'
import {
  consumerOf,
  expectedValues,
  offsetsReader,
  sidecarKafka,
  topicWithRecords,
  valuesByPartition,
  type Seen,
} from './e2e-helpers.js'

const PARTITIONS = 4
const PER_PARTITION = 60

/** The program: connect, subscribe fromBeginning, run eachMessage; what it saw. */
async function eachMessageProgram(kafka: Parameters<typeof consumerOf>[0], groupId: string, topic: string) {
  const seen: Seen[] = []
  const consumer = consumerOf(kafka, { groupId })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ partition, message }) =>
      void seen.push({ partition, offset: Number(message.offset), value: message.value!.toString() }),
  })
  return { consumer, seen }
}

describe('end to end: eachMessage through a real sidecar', () => {
  it('reads every record once in order per partition and commits what it processed, as KafkaJS does', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const topic = randomTopic('e2e')
    await topicWithRecords(cluster, topic, PARTITIONS, PER_PARTITION)
    const sidecar = await startTestSidecar(cluster)
    const offsets = await offsetsReader(cluster)
    const total = PARTITIONS * PER_PARTITION
    const allCommitted = Object.fromEntries(Array.from({ length: PARTITIONS }, (_, p) => [p, String(PER_PARTITION)]))

    const viaSidecar = randomTopic('group-sidecar')
    const sidecarRun = await eachMessageProgram(sidecarKafka(cluster, sidecar.address), viaSidecar, topic)
    const direct = randomTopic('group-direct')
    const plain = new kafkajs.Kafka({
      clientId: 'e2e-app',
      brokers: cluster.bootstrapServers,
      logLevel: kafkajs.logLevel.NOTHING,
    })
    const directRun = await eachMessageProgram(plain, direct, topic)

    await waitFor(
      `${total} records in both`,
      () => sidecarRun.seen.length >= total && directRun.seen.length >= total,
      15_000,
    )
    await waitFor(
      'every offset committed in both',
      async () => {
        const [a, b] = await Promise.all([offsets(viaSidecar, topic), offsets(direct, topic)])
        return JSON.stringify(a) === JSON.stringify(allCommitted) && JSON.stringify(b) === JSON.stringify(allCommitted)
      },
      10_000,
    )
    expect(valuesByPartition(sidecarRun.seen)).toEqual(expectedValues(PARTITIONS, PER_PARTITION))
    expect(valuesByPartition(sidecarRun.seen)).toEqual(valuesByPartition(directRun.seen))
    expect(sidecarRun.seen).toHaveLength(total)
    expect(await offsets(viaSidecar, topic)).toEqual(await offsets(direct, topic))
    await Promise.all([sidecarRun.consumer.disconnect(), directRun.consumer.disconnect()])
  })
})
