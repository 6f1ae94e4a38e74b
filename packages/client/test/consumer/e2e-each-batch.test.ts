/**
 * The eachBatch program a KafkaJS user writes when they manage offsets themselves
 * (eachBatchAutoResolve off, resolveOffset, heartbeat, commitOffsetsIfNecessary), end to end
 * through a real sidecar, against the same program on KafkaJS.
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

const PARTITIONS = 3
const PER_PARTITION = 80

async function eachBatchProgram(kafka: Parameters<typeof consumerOf>[0], groupId: string, topic: string) {
  const seen: Seen[] = []
  let heartbeats = 0
  const consumer = consumerOf(kafka, { groupId })
  consumer.on(consumer.events.HEARTBEAT, () => void heartbeats++)
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    eachBatchAutoResolve: false,
    autoCommitThreshold: 25,
    eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
      for (const message of batch.messages) {
        if (!isRunning() || isStale()) break
        seen.push({ partition: batch.partition, offset: Number(message.offset), value: message.value!.toString() })
        resolveOffset(message.offset)
        await heartbeat()
        await commitOffsetsIfNecessary()
      }
    },
  })
  return { consumer, seen, heartbeats: () => heartbeats }
}

describe('end to end: eachBatch with resolveOffset, heartbeat and commitOffsetsIfNecessary', () => {
  it('reads and commits as the same program on KafkaJS', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const topic = randomTopic('e2e-batch')
    await topicWithRecords(cluster, topic, PARTITIONS, PER_PARTITION)
    const sidecar = await startTestSidecar(cluster)
    const offsets = await offsetsReader(cluster)
    const total = PARTITIONS * PER_PARTITION
    const all = JSON.stringify(
      Object.fromEntries(Array.from({ length: PARTITIONS }, (_, p) => [p, String(PER_PARTITION)])),
    )

    const viaSidecar = randomTopic('group-sidecar')
    const sidecarRun = await eachBatchProgram(sidecarKafka(cluster, sidecar.address), viaSidecar, topic)
    const direct = randomTopic('group-direct')
    const plain = new kafkajs.Kafka({
      clientId: 'e2e-app',
      brokers: cluster.bootstrapServers,
      logLevel: kafkajs.logLevel.NOTHING,
    })
    const directRun = await eachBatchProgram(plain, direct, topic)

    await waitFor(
      `${total} records in both`,
      () => sidecarRun.seen.length >= total && directRun.seen.length >= total,
      15_000,
    )
    await waitFor(
      'every offset committed in both',
      async () => {
        const [a, b] = await Promise.all([offsets(viaSidecar, topic), offsets(direct, topic)])
        return JSON.stringify(a) === all && JSON.stringify(b) === all
      },
      10_000,
    )
    expect(valuesByPartition(sidecarRun.seen)).toEqual(expectedValues(PARTITIONS, PER_PARTITION))
    expect(valuesByPartition(sidecarRun.seen)).toEqual(valuesByPartition(directRun.seen))
    expect(sidecarRun.seen).toHaveLength(total)
    await Promise.all([sidecarRun.consumer.disconnect(), directRun.consumer.disconnect()])
  })
})
