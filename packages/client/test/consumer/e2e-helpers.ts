/**
 * What the end-to-end consumer tests share: a topic with records in every partition, the client's
 * Kafka in sidecar mode against a real sidecar, a plain KafkaJS Kafka on the same cluster, and
 * what a consumer program saw and committed, compared partition by partition.
 */
import type { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import { connectedAdmin, connectedProducer, kafkaFor } from '@kafka-sidecar/test-support'
import kafkajs from 'kafkajs'
import type { Consumer, ConsumerConfig } from 'kafkajs'
import { onTestFinished } from 'vitest'
import { Kafka } from '../../src/index.js'

/** `perPartition` records in each partition of a new topic, values "p<partition>-<i>", keys "k<i>". */
export async function topicWithRecords(
  cluster: EmbeddedKafka,
  topic: string,
  partitions: number,
  perPartition: number,
): Promise<void> {
  await cluster.createTopic({ topic, partitions })
  await produceTo(cluster, topic, partitions, 0, perPartition)
}

/** Records `from` .. `from + count - 1` of each partition (same value scheme), by a new producer. */
export async function produceTo(
  cluster: EmbeddedKafka,
  topic: string,
  partitions: number,
  from: number,
  count: number,
): Promise<void> {
  await (
    await recordWriter(cluster)
  )(topic, partitions, from, count)
}

/**
 * One producer, connected now (so it counts the same in every connection measurement), writing
 * records `from` .. `from + count - 1` of each partition with the values above.
 */
export async function recordWriter(
  cluster: EmbeddedKafka,
): Promise<(topic: string, partitions: number, from: number, count: number) => Promise<void>> {
  const producer = await connectedProducer(kafkaFor(cluster, 'e2e-producer'))
  return async (topic, partitions, from, count) => {
    for (let p = 0; p < partitions; p++)
      await producer.send({
        topic,
        messages: Array.from({ length: count }, (_, i) => ({
          partition: p,
          key: `k${from + i}`,
          value: `p${p}-${from + i}`,
        })),
      })
  }
}

/** The client's Kafka with consumers in sidecar mode against `address` (the env variable, set in code). */
export function sidecarKafka(cluster: EmbeddedKafka, address: string, clientId = 'e2e-app'): Kafka {
  return new Kafka({
    clientId,
    brokers: cluster.bootstrapServers,
    logLevel: kafkajs.logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 50, maxRetryTime: 500 },
    sidecar: { consumerMode: 'sidecar', address, connectTimeoutMs: 5_000 },
  })
}

/** Settings that keep a test quick: a short long-poll and session (the sidecar's member takes them). */
export const QUICK: Partial<ConsumerConfig> = {
  maxWaitTimeInMs: 100,
  sessionTimeout: 6_000,
  heartbeatInterval: 500,
  rebalanceTimeout: 6_000,
}

/** A consumer of `kafka`, disconnected when the test ends. */
export function consumerOf(
  kafka: Pick<Kafka, 'consumer'> | InstanceType<typeof kafkajs.Kafka>,
  config: ConsumerConfig,
): Consumer {
  const consumer = kafka.consumer({ ...QUICK, ...config })
  onTestFinished(() => consumer.disconnect())
  return consumer
}

export interface Seen {
  readonly topic?: string
  readonly partition: number
  readonly offset: number
  readonly value: string
}

/** The values seen, per partition, in the order the handler saw them. */
export function valuesByPartition(seen: readonly Seen[]): Record<number, string[]> {
  const out: Record<number, string[]> = {}
  for (const s of seen) (out[s.partition] ??= []).push(s.value)
  return out
}

/** Every value of `partitions` x `perPartition`, in offset order per partition. */
export function expectedValues(partitions: number, perPartition: number, from = 0): Record<number, string[]> {
  return Object.fromEntries(
    Array.from({ length: partitions }, (_, p) => [
      p,
      Array.from({ length: perPartition }, (_, i) => `p${p}-${from + i}`),
    ]),
  )
}

/** Reads a group's committed offsets of a topic by partition, as KafkaJS's admin.fetchOffsets does. */
export async function offsetsReader(
  cluster: EmbeddedKafka,
): Promise<(groupId: string, topic: string) => Promise<Record<number, string>>> {
  const admin = await connectedAdmin(kafkaFor(cluster, 'e2e-admin'))
  return async (groupId, topic) => {
    const [result] = await admin.fetchOffsets({ groupId, topics: [topic] })
    return Object.fromEntries(result!.partitions.map((p) => [p.partition, p.offset]))
  }
}

/** A measurement into the test output (the numbers docs/reliability.md quotes). */
export function report(line: string): void {
  process.stdout.write(`${line}\n`)
}
