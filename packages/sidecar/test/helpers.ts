/**
 * Test factories that clean up after themselves: an embedded cluster, a sidecar on a Unix socket
 * in a fresh temp dir (HTTP on 127.0.0.1:0), grpc-js clients, and request builders.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js'
import { EmbeddedKafka, type EmbeddedKafkaOptions, type Logger as EmbeddedLogger } from '@kafka-sidecar/embedded-kafka'
import {
  Acks,
  Compression,
  ProducerSidecarClient,
  type EmitAck,
  type EmitRequest,
  type SidecarRecord,
} from '@kafka-sidecar/proto'
import { Kafka, logLevel, type KafkaMessage, type Producer } from 'kafkajs'
import { onTestFinished } from 'vitest'
import { startSidecar, type RunningSidecar, type StartOptions } from '../src/index.js'
import { waitFor } from './wait.js'

export function randomTopic(prefix = 'topic'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`
}

export async function startCluster(options: EmbeddedKafkaOptions = {}): Promise<EmbeddedKafka> {
  const cluster = await EmbeddedKafka.start({ brokers: 3, ...options })
  onTestFinished(() => cluster.stop())
  return cluster
}

/** One partition's record batch as a broker received it in a produce request. */
export interface ProducedBatch {
  readonly brokerId: number
  readonly topic: string
  readonly partition: number
  readonly acks: number
  /** The produce request's broker ack timeout. */
  readonly timeoutMs: number
  readonly records: number
  readonly bytes: number
  readonly baseTimestamp: number
}

/**
 * What the brokers were sent, batch by batch: pass `logger` to startCluster, then read
 * `batches(topic)`. Comes from embedded-kafka's debug log of each produce request.
 */
export function produceLog(): { logger: EmbeddedLogger; batches(topic: string): ProducedBatch[] } {
  const all: ProducedBatch[] = []
  return {
    logger: (_level, message, fields) => {
      if (message === 'produce' && fields) all.push(fields as unknown as ProducedBatch)
    },
    batches: (topic) => all.filter((b) => b.topic === topic),
  }
}

export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kafka-sidecar-test-'))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

export async function startTestSidecar(cluster: EmbeddedKafka, options: StartOptions = {}): Promise<RunningSidecar> {
  const dir = await tempDir()
  const sidecar = await startSidecar({
    brokers: cluster.bootstrapServers,
    listen: `unix://${join(dir, 'sidecar.sock')}`,
    http: '127.0.0.1:0',
    logLevel: 'nothing',
    shutdownTimeoutMs: 2_000,
    ...options,
  })
  onTestFinished(async () => {
    await sidecar.stop()
  })
  await sidecar.ready
  return sidecar
}

export function grpcTarget(address: string): string {
  return address.startsWith('unix://') ? `unix:${address.slice('unix://'.length)}` : address
}

export function sidecarClient(sidecar: RunningSidecar | string): ProducerSidecarClient {
  const address = typeof sidecar === 'string' ? sidecar : sidecar.address
  const client = new ProducerSidecarClient(grpcTarget(address), credentials.createInsecure())
  onTestFinished(() => client.close())
  return client
}

export function bearer(token: string): Metadata {
  const metadata = new Metadata()
  metadata.set('authorization', `Bearer ${token}`)
  return metadata
}

let nextRequestId = 1

export function emitRequest(
  topic: string,
  records: Array<Partial<SidecarRecord>>,
  overrides: Partial<EmitRequest> = {},
): EmitRequest {
  return {
    requestId: nextRequestId++,
    clientId: 'test-app',
    appName: 'test-app',
    instanceId: overrides.instanceId ?? `instance-${randomUUID()}`,
    acks: Acks.ACKS_ALL,
    timeoutMs: 30_000,
    compression: Compression.COMPRESSION_NONE,
    awaitDelivery: true,
    topics: [{ topic, records: records.map((r) => ({ headers: [], ...r })) }],
    ...overrides,
  }
}

export function emit(client: ProducerSidecarClient, request: EmitRequest, metadata = new Metadata()): Promise<EmitAck> {
  return new Promise((resolve, reject) =>
    client.emit(request, metadata, (error, ack) => (error ? reject(error) : resolve(ack!))),
  )
}

export async function emitError(
  client: ProducerSidecarClient,
  request: EmitRequest,
  metadata = new Metadata(),
): Promise<ServiceError> {
  try {
    await emit(client, request, metadata)
  } catch (error) {
    return error as ServiceError
  }
  throw new Error('expected the call to fail')
}

export const bytes = (text: string) => Buffer.from(text)

/** A connected plain KafkaJS producer (what direct mode is measured against), disconnected at the end. */
export async function kafkajsProducer(
  cluster: EmbeddedKafka,
  config: Parameters<Kafka['producer']>[0] = {},
): Promise<Producer> {
  const producer = new Kafka({
    clientId: 'direct',
    brokers: cluster.bootstrapServers,
    logLevel: logLevel.NOTHING,
  }).producer(config)
  await producer.connect()
  onTestFinished(() => producer.disconnect())
  return producer
}

/** The first `count` messages of `topic` as a KafkaJS consumer reads them, in partition then offset order. */
export async function consumeWithKafkaJS(
  cluster: EmbeddedKafka,
  topic: string,
  count: number,
): Promise<KafkaMessage[]> {
  const kafka = new Kafka({ clientId: 'reader', brokers: cluster.bootstrapServers, logLevel: logLevel.NOTHING })
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

/** A gauge's current value. */
export async function gauge(sidecar: RunningSidecar, name: string): Promise<number | undefined> {
  return (await sidecar.metrics.registry.getSingleMetric(name)!.get()).values[0]?.value
}
