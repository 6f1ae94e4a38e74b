/**
 * The sidecar's producer and the admin client it reads topic metadata with, on one KafkaJS
 * cluster connection pool.
 *
 * KafkaJS gives every client (`kafka.producer()`, `kafka.admin()`) its own Cluster and therefore
 * its own TCP connection to each broker. The whole point of the sidecar is one producer's worth
 * of connections per pod, so a second pool just for metadata would add a connection per pod for
 * nothing (4 instead of 3 against a 3-broker cluster). KafkaJS 2.2.4 (pinned) builds clients from
 * internal factories that take the cluster as a parameter; this module calls them with one
 * cluster, made by the Kafka instance's own cluster factory so every connection setting (brokers,
 * TLS, SASL, timeouts, retry, logger) is the application's. The idempotent producer, made on
 * first need, joins the same cluster: idempotence costs no extra broker connection.
 */
import { createRequire } from 'node:module'
import type { Admin, Kafka, Producer, ProducerConfig, RetryOptions } from 'kafkajs'

const require = createRequire(import.meta.url)

type Factory = (options: Record<string, unknown>) => unknown
const createProducer = require('kafkajs/src/producer/index.js') as Factory
const createAdmin = require('kafkajs/src/admin/index.js') as Factory
const InstrumentationEventEmitter = require('kafkajs/src/instrumentation/emitter.js') as new () => unknown

/** The private members of a KafkaJS 2.2.4 Kafka instance this module needs, found by description. */
function privateMember<T>(kafka: Kafka, description: string): T {
  const symbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === description)
  if (!symbol) throw new Error(`kafkajs internals changed: Kafka has no "${description}" (this sidecar needs kafkajs 2.2.4)`)
  return (kafka as unknown as Record<symbol, T>)[symbol]
}

export interface SharedClients {
  readonly producer: Producer
  readonly admin: Admin
  /**
   * A new idempotent producer on the same cluster, with the producer's settings. Connecting it
   * gets its producer id; disconnecting it closes the shared connections, so only at shutdown.
   */
  createIdempotentProducer(): Producer
}

export function producerAndAdminOnOneCluster(kafka: Kafka, producerConfig: ProducerConfig & { metadataMaxAge: number }, adminRetry: RetryOptions): SharedClients {
  const createCluster = privateMember<(options: Record<string, unknown>) => unknown>(kafka, 'private:Kafka:createCluster')
  const logger = privateMember<unknown>(kafka, 'private:Kafka:logger')
  const clusterRetry = privateMember<RetryOptions | undefined>(kafka, 'private:Kafka:clusterRetry')
  const producerEvents = new InstrumentationEventEmitter()
  const cluster = createCluster({
    metadataMaxAge: producerConfig.metadataMaxAge,
    // Metadata requests never create topics: the sidecar creates them explicitly (CreateTopics)
    // when the request and its settings allow it, so a refusal can leave no topic behind.
    allowAutoTopicCreation: false,
    maxInFlightRequests: producerConfig.maxInFlightRequests,
    instrumentationEmitter: producerEvents,
  })
  const producerOptions = {
    retry: { ...clusterRetry, ...producerConfig.retry },
    logger,
    cluster,
    createPartitioner: producerConfig.createPartitioner,
  }
  const producer = createProducer({
    ...producerOptions,
    idempotent: producerConfig.idempotent,
    transactionalId: producerConfig.transactionalId,
    transactionTimeout: producerConfig.transactionTimeout,
    instrumentationEmitter: producerEvents,
  }) as Producer
  const admin = createAdmin({ retry: { ...clusterRetry, ...adminRetry }, logger, instrumentationEmitter: new InstrumentationEventEmitter(), cluster }) as Admin
  // Its own emitter: its connect and disconnect events are not the sidecar producer's.
  const createIdempotentProducer = () => createProducer({ ...producerOptions, idempotent: true, instrumentationEmitter: new InstrumentationEventEmitter() }) as Producer
  return { producer, admin, createIdempotentProducer }
}
