/**
 * The sidecar's KafkaJS clients: one Kafka instance (whose logger is the sidecar's too), the
 * producer and the admin on one connection pool, the idempotent producer made on first need on
 * the same pool, and the identity of the cluster they write to.
 */
import {
  Kafka,
  logLevel as KafkaLogLevel,
  Partitioners,
  type Admin,
  type Consumer,
  type ConsumerConfig,
  type KafkaConfig,
  type Logger,
  type Producer,
} from 'kafkajs'
import type { LogLevelName, SidecarConfig } from '../config.js'
import { ClusterIdentity } from './cluster-identity.js'
import { IdempotentWrites } from './idempotent-writes.js'
import { answeringProducer } from './kafkajs-answers.js'
import type { KafkaSecurity } from './kafka-security.js'
import { secretFreeLogCreator } from './secret-free-logs.js'
import { producerAndAdminOnOneCluster, type TopicMetadataSource } from './shared-cluster.js'

export type LogCreator = NonNullable<KafkaConfig['logCreator']>

const LOG_LEVELS: Record<LogLevelName, KafkaLogLevel> = {
  nothing: KafkaLogLevel.NOTHING,
  error: KafkaLogLevel.ERROR,
  warn: KafkaLogLevel.WARN,
  info: KafkaLogLevel.INFO,
  debug: KafkaLogLevel.DEBUG,
}

/** The default logCreator: JSON lines to stderr. */
export const jsonLogCreator: LogCreator =
  () =>
  ({ namespace, level, label, log }) => {
    const { message, ...extra } = log
    process.stderr.write(
      `${JSON.stringify({ level: label.toLowerCase(), logger: namespace, message, ...extra, levelNumber: level })}\n`,
    )
  }

export class KafkaClients {
  readonly log: Logger
  readonly producer: Producer
  readonly admin: Admin
  readonly topicMetadata: TopicMetadataSource
  /** Requests asking for idempotence are written by an idempotent producer, made on first need. */
  readonly idempotence: IdempotentWrites
  readonly clusterIdentity: ClusterIdentity
  /** The Kafka instance: consumers of the consumer groups are made from it, with its TLS and SASL settings. */
  private readonly kafka: Kafka

  constructor(config: SidecarConfig, security: KafkaSecurity, logCreator: LogCreator) {
    const kafka = new Kafka({
      clientId: config.clientId,
      brokers: config.brokers,
      connectionTimeout: config.connectionTimeoutMs,
      ...security.clientSettings,
      logLevel: LOG_LEVELS[config.logLevel],
      logCreator: secretFreeLogCreator(logCreator, () => security.secrets()),
    })
    this.kafka = kafka
    this.log = kafka.logger().namespace('Sidecar')
    // One connection pool for both: the pod's broker connections are the producer's alone.
    const { producer, admin, topicMetadata, createIdempotentProducer, createDirectSender } =
      producerAndAdminOnOneCluster(
        kafka,
        {
          // Every record leaves with an explicit partition (see DefaultPartitioning); naming the
          // partitioner also silences KafkaJS's v2 migration warning.
          createPartitioner: Partitioners.DefaultPartitioner,
          allowAutoTopicCreation: config.allowAutoTopicCreation,
          idempotent: config.idempotent,
          ...(config.idempotent ? { maxInFlightRequests: 1 } : {}),
          metadataMaxAge: config.metadataMaxAgeMs,
        },
        { retries: 1 },
      )
    this.producer = producer
    this.admin = admin
    this.topicMetadata = topicMetadata
    // The sidecar's encoder writes the plain producer's batches; an idempotent producer's stay KafkaJS's (sequence numbers).
    const plain =
      config.produceEncoder === 'sidecar' && !config.idempotent ? createDirectSender() : answeringProducer(producer)
    this.idempotence = new IdempotentWrites(producer, plain, config.idempotent, createIdempotentProducer, this.log)
    this.clusterIdentity = new ClusterIdentity(config.brokers, () => admin.describeCluster(), this.log)
  }

  /** A KafkaJS consumer of one consumer group (its own connections, as every KafkaJS consumer has). */
  createConsumer(config: ConsumerConfig): Consumer {
    return this.kafka.consumer(config)
  }

  /**
   * At shutdown, once nothing is left to send. One shared cluster: the first disconnect closes
   * every client's connections. The idempotent producer goes first, once a connect still in
   * flight has settled.
   */
  async disconnect(): Promise<void> {
    await this.idempotence.disconnect().catch(() => {})
    await Promise.allSettled([this.producer.disconnect()])
  }
}
