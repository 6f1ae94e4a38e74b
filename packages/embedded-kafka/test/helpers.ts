/**
 * Test factories that clean up after themselves (onTestFinished): a cluster on ephemeral ports,
 * KafkaJS clients bound to it, random topic names. Tests never share a cluster's topics.
 */
import { randomBytes } from 'node:crypto'
import {
  Kafka,
  logLevel,
  type Admin,
  type Consumer,
  type ConsumerConfig,
  type Producer,
  type ProducerConfig,
} from 'kafkajs'
import { onTestFinished } from 'vitest'
import { EmbeddedKafka, type EmbeddedKafkaOptions } from '../src/index.js'

export function randomTopic(prefix = 'topic'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`
}

export async function startCluster(options: EmbeddedKafkaOptions = {}): Promise<EmbeddedKafka> {
  const cluster = await EmbeddedKafka.start(options)
  onTestFinished(() => cluster.stop())
  return cluster
}

export function kafkaFor(cluster: EmbeddedKafka, clientId = 'embedded-kafka-test'): Kafka {
  return new Kafka({
    clientId,
    brokers: cluster.bootstrapServers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 50, maxRetryTime: 500 },
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

/** Polls `condition` until it holds or `timeoutMs` passes; the error names what was awaited. */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
