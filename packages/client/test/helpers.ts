/**
 * The client's own test factories, on top of @kafka-sidecar/test-support: client producers in
 * either mode (disconnected when the test ends) and what to compare them with.
 */
import type { EmbeddedKafka, EmbeddedKafkaOptions } from '@kafka-sidecar/embedded-kafka'
import { randomTopic, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import { onTestFinished } from 'vitest'
import {
  Kafka,
  logLevel,
  type ProducerMode,
  type SidecarClientOptions,
  type SidecarProducer,
  type SidecarProducerConfig,
} from '../src/index.js'
import { connectedPlainProducer } from './kafkajs-reference.js'

export interface ProducerSetup {
  readonly cluster: EmbeddedKafka
  readonly mode: ProducerMode
  readonly address?: string
  readonly config?: SidecarProducerConfig
  readonly sidecar?: SidecarClientOptions
}

/** A connected client producer, disconnected when the test ends. */
export async function connectedProducer(setup: ProducerSetup): Promise<SidecarProducer> {
  const producer = clientProducer(setup)
  await producer.connect()
  return producer
}

export function clientProducer({ cluster, mode, address, config, sidecar }: ProducerSetup): SidecarProducer {
  const kafka = new Kafka({
    clientId: 'client-test',
    brokers: cluster.bootstrapServers,
    logLevel: logLevel.NOTHING,
    sidecar: { mode, ...(address ? { address } : {}), connectTimeoutMs: 3_000, ...sidecar },
  })
  const producer = kafka.producer(config)
  onTestFinished(() => producer.disconnect().catch(() => {}))
  return producer
}

/** Broker connections open now, summed over the cluster. */
export function openConnections(cluster: EmbeddedKafka): number {
  return cluster.connectionStats().reduce((sum, s) => sum + s.current, 0)
}

/**
 * A one-broker cluster with a sidecar, the client producer through it and a plain KafkaJS
 * producer beside it, each with a one-partition topic of its own (`ours`, `theirs`): the same
 * sends made on both, compared.
 */
export async function sidecarBesidePlainKafkaJS(options: EmbeddedKafkaOptions = {}) {
  const cluster = await startCluster({ brokers: 1, ...options })
  const [ours, theirs] = [randomTopic(), randomTopic()]
  await cluster.createTopic({ topic: ours, partitions: 1 })
  await cluster.createTopic({ topic: theirs, partitions: 1 })
  const sidecar = await startTestSidecar(cluster)
  const client = await connectedProducer({ cluster, mode: 'sidecar', address: sidecar.address })
  const plain = await connectedPlainProducer(cluster)
  return { cluster, ours, theirs, sidecar, client, plain }
}
