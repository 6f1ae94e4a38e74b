/**
 * Plain KafkaJS clients bound to an embedded cluster, each disconnected when the test ends, and
 * what they read back.
 */
import type { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import {
  Kafka,
  logLevel,
  type Admin,
  type Consumer,
  type ConsumerConfig,
  type KafkaConfig,
  type KafkaMessage,
  type Producer,
  type ProducerConfig,
} from 'kafkajs'
import { onTestFinished } from 'vitest'
import { randomTopic } from './topics.js'
import { waitFor } from './waiting.js'

/**
 * A KafkaJS client of `cluster` (or of any bootstrap servers), silent, with short retries; `config`
 * adds to or overrides that (`ssl`, `sasl`, `retry`).
 */
export function kafkaFor(
  cluster: Pick<EmbeddedKafka, 'bootstrapServers'>,
  clientId = 'embedded-kafka-test',
  config: Partial<KafkaConfig> = {},
): Kafka {
  return new Kafka({
    clientId,
    brokers: cluster.bootstrapServers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 50, maxRetryTime: 500 },
    ...config,
  })
}

export async function connectedProducer(kafka: Kafka, config?: ProducerConfig): Promise<Producer> {
  const producer = kafka.producer(config)
  await producer.connect()
  onTestFinished(() => producer.disconnect())
  return producer
}

export async function connectedAdmin(kafka: Kafka): Promise<Admin> {
  const admin = kafka.admin()
  await admin.connect()
  onTestFinished(() => admin.disconnect())
  return admin
}

export async function connectedConsumer(kafka: Kafka, config: ConsumerConfig): Promise<Consumer> {
  // A short long-poll keeps disconnect fast: KafkaJS waits for the fetch in flight.
  const consumer = kafka.consumer({ maxWaitTimeInMs: 100, ...config })
  await consumer.connect()
  onTestFinished(() => consumer.disconnect())
  return consumer
}

/**
 * The first `count` messages of `topic` as a KafkaJS consumer reads them, in partition then offset
 * order; `config` adds `ssl` or `sasl` for a cluster that asks for them.
 */
export async function consumeWithKafkaJS(
  cluster: EmbeddedKafka,
  topic: string,
  count: number,
  config: Partial<KafkaConfig> = {},
): Promise<KafkaMessage[]> {
  const kafka = new Kafka({
    clientId: 'reader',
    brokers: cluster.bootstrapServers,
    logLevel: logLevel.NOTHING,
    ...config,
  })
  // A short long-poll keeps disconnect fast: KafkaJS waits for the fetch in flight.
  const consumer = kafka.consumer({ groupId: randomTopic('reader'), maxWaitTimeInMs: 100 })
  const seen: Array<{ partition: number; message: KafkaMessage }> = []
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({ eachMessage: async ({ partition, message }) => void seen.push({ partition, message }) })
    await waitFor(`${count} messages of ${topic}`, () => seen.length >= count, 20_000)
  } finally {
    await consumer.disconnect()
  }
  return seen
    .sort((a, b) => a.partition - b.partition || Number(a.message.offset) - Number(b.message.offset))
    .map((s) => s.message)
}

/** The cluster id as a KafkaJS admin client reads it (DescribeCluster). */
export async function kafkajsClusterId(cluster: EmbeddedKafka, clientId: string): Promise<string> {
  const admin = new Kafka({ clientId, brokers: cluster.bootstrapServers, logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  try {
    return (await admin.describeCluster()).clusterId
  } finally {
    await admin.disconnect()
  }
}
