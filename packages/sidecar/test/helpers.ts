/**
 * The sidecar's own test factories, on top of @kafka-sidecar/test-support: grpc-js clients of a
 * sidecar (closed when the test ends), request builders, and a plain KafkaJS producer to compare
 * with.
 */
import { randomUUID } from 'node:crypto'
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js'
import type { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import {
  Acks,
  Compression,
  ProducerSidecarClient,
  type EmitAck,
  type EmitRequest,
  type SidecarRecord,
} from '@kafka-sidecar/proto'
import { connectedProducer, grpcTarget, randomTopic } from '@kafka-sidecar/test-support'
import { Kafka, logLevel, type Producer } from 'kafkajs'
import { expect, onTestFinished } from 'vitest'
import type { RunningSidecar } from '../src/index.js'

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
export function kafkajsProducer(
  cluster: EmbeddedKafka,
  config: Parameters<Kafka['producer']>[0] = {},
): Promise<Producer> {
  const kafka = new Kafka({ clientId: 'direct', brokers: cluster.bootstrapServers, logLevel: logLevel.NOTHING })
  return connectedProducer(kafka, config)
}

/** A gauge's current value. */
export async function gauge(sidecar: RunningSidecar, name: string): Promise<number | undefined> {
  return (await sidecar.metrics.registry.getSingleMetric(name)!.get()).values[0]?.value
}

/** Writes one record through the sidecar to a new topic and checks the cluster stored it. */
export async function writeOneRecord(sidecar: RunningSidecar, cluster: EmbeddedKafka, value: string): Promise<void> {
  const topic = randomTopic('one')
  await cluster.createTopic({ topic, partitions: 1 })
  const ack = await emit(sidecarClient(sidecar), emitRequest(topic, [{ value: bytes(value) }]))
  expect(ack.results).toEqual([expect.objectContaining({ topic, error: undefined })])
  expect((await cluster.records(topic)).map((r) => r.value?.toString())).toEqual([value])
}
