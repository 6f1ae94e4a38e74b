/**
 * The sidecar's producer, its admin client and its topic-metadata requests, on one KafkaJS
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
import type { Admin, Kafka, Logger, PartitionMetadata, Producer, ProducerConfig, RetryOptions } from 'kafkajs'
import type { BatchSender } from '../pipeline/dispatcher.js'
import { DirectBatchSender, type KafkaJSCluster as ProducingCluster } from './direct-batch-sender.js'

const require = createRequire(import.meta.url)

type Factory = (options: Record<string, unknown>) => unknown
const createProducer = require('kafkajs/src/producer/index.js') as Factory
const createAdmin = require('kafkajs/src/admin/index.js') as Factory
const InstrumentationEventEmitter = require('kafkajs/src/instrumentation/emitter.js') as new () => unknown
const createRetry = require('kafkajs/src/retry/index.js') as (
  options?: RetryOptions,
) => <T>(fn: (bail: (error: unknown) => void) => Promise<T>) => Promise<T>
const { requests } = require('kafkajs/src/protocol/requests/index.js') as { requests: { Metadata: unknown } }
const apiKeys = require('kafkajs/src/protocol/requests/apiKeys.js') as { Metadata: number }
const Broker = require('kafkajs/src/broker/index.js') as { prototype: object }

/** The parts of a KafkaJS 2.2.4 Broker and Cluster the metadata request needs. */
type MetadataRequest = (args: { topics: string[]; allowAutoTopicCreation: boolean }) => unknown
interface MetadataResponse {
  readonly topicMetadata: ReadonlyArray<{ readonly topic: string; readonly partitionMetadata: PartitionMetadata[] }>
}
interface KafkaJSBroker {
  lookupRequest(apiKey: number, definition: unknown): MetadataRequest
}
interface KafkaJSCluster {
  readonly brokerPool: { findConnectedBroker(): Promise<KafkaJSBroker> }
}

/** The private members of a KafkaJS 2.2.4 Kafka instance this module needs, found by description. */
function privateMember<T>(kafka: Kafka, description: string): T {
  const symbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === description)
  if (!symbol)
    throw new Error(`kafkajs internals changed: Kafka has no "${description}" (this sidecar needs kafkajs 2.2.4)`)
  return (kafka as unknown as Record<symbol, T>)[symbol]
}

/** A topic's partitions, asking the brokers with allow_auto_topic_creation as given. */
export type TopicMetadataSource = (topic: string, allowAutoTopicCreation: boolean) => Promise<PartitionMetadata[]>

export interface SharedClients {
  readonly producer: Producer
  readonly admin: Admin
  readonly topicMetadata: TopicMetadataSource
  /**
   * A new idempotent producer on the same cluster, with the producer's settings. Connecting it
   * gets its producer id; disconnecting it closes the shared connections, so only at shutdown.
   */
  createIdempotentProducer(): Producer
  /**
   * The producer's sendBatch with the sidecar's own Produce request encoder, on the same cluster
   * and with the producer's retry settings (direct-batch-sender.ts).
   */
  createDirectSender(): BatchSender
}

export function producerAndAdminOnOneCluster(
  kafka: Kafka,
  producerConfig: ProducerConfig & { metadataMaxAge: number },
  adminRetry: RetryOptions,
): SharedClients {
  const createCluster = privateMember<(options: Record<string, unknown>) => unknown>(
    kafka,
    'private:Kafka:createCluster',
  )
  const logger = privateMember<unknown>(kafka, 'private:Kafka:logger')
  const clusterRetry = privateMember<RetryOptions | undefined>(kafka, 'private:Kafka:clusterRetry')
  const producerEvents = new InstrumentationEventEmitter()
  const cluster = createCluster({
    metadataMaxAge: producerConfig.metadataMaxAge,
    // The producer's own metadata refreshes never create topics: whether a request may is
    // decided per request, by topicMetadata below, before the producer writes to the topic.
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
  const admin = createAdmin({
    retry: { ...clusterRetry, ...adminRetry },
    logger,
    instrumentationEmitter: new InstrumentationEventEmitter(),
    cluster,
  }) as Admin
  // Its own emitter: its connect and disconnect events are not the sidecar producer's.
  const createIdempotentProducer = () =>
    createProducer({
      ...producerOptions,
      idempotent: true,
      instrumentationEmitter: new InstrumentationEventEmitter(),
    }) as Producer
  const createDirectSender = () =>
    new DirectBatchSender(
      cluster as ProducingCluster,
      producer,
      producerOptions.retry,
      (logger as Logger).namespace('Producer'),
    )
  return {
    producer,
    admin,
    topicMetadata: metadataRequester(cluster as KafkaJSCluster, clusterRetry),
    createIdempotentProducer,
    createDirectSender,
  }
}

const SEND_REQUEST = Object.getOwnPropertySymbols(Broker.prototype).find(
  (s) => s.description === 'private:Broker:sendRequest',
)

/**
 * The Metadata request a KafkaJS producer sends before it writes to a topic, for one topic and
 * with allow_auto_topic_creation as given, so the brokers decide about an unknown topic exactly as
 * they do for a direct producer (created if their auto.create.topics.enable and the flag allow
 * it). KafkaJS fixes the flag per cluster, from its producer's allowAutoTopicCreation; each
 * sidecar request carries its own, so the request is sent here, through a connected broker of the
 * shared pool. As KafkaJS's metadata refresh, LEADER_NOT_AVAILABLE (a topic being created) is
 * retried with the cluster's retry settings; any other error is the answer.
 */
function metadataRequester(cluster: KafkaJSCluster, retry: RetryOptions | undefined): TopicMetadataSource {
  if (!SEND_REQUEST)
    throw new Error(
      'kafkajs internals changed: Broker has no "private:Broker:sendRequest" (this sidecar needs kafkajs 2.2.4)',
    )
  const retrier = createRetry(retry)
  return (topic, allowAutoTopicCreation) =>
    retrier(async (bail) => {
      try {
        const broker = await cluster.brokerPool.findConnectedBroker()
        const metadata = broker.lookupRequest(apiKeys.Metadata, requests.Metadata)
        const send = (broker as unknown as Record<symbol, (request: unknown) => Promise<MetadataResponse>>)[
          SEND_REQUEST
        ]!.bind(broker)
        const response = await send(metadata({ topics: [topic], allowAutoTopicCreation }))
        return response.topicMetadata.find((t) => t.topic === topic)?.partitionMetadata ?? []
      } catch (error) {
        if ((error as { type?: string }).type === 'LEADER_NOT_AVAILABLE') throw error
        bail(error)
        return []
      }
    })
}
