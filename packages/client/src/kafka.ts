/**
 * `Kafka`, as KafkaJS's, with two differences: `producer()` returns a SidecarProducer, which
 * writes through the pod's sidecar or directly depending on KAFKA_SIDECAR_MODE; `consumer()`
 * returns KafkaJS's own consumer, or with KAFKA_SIDECAR_CONSUMER_MODE=sidecar a SidecarConsumer
 * whose group member is the pod's sidecar; with `deadLetter`, either wrapped so a record whose
 * handler keeps failing goes to a dead-letter topic. The admin client and the logger are KafkaJS's
 * own, built from the same config.
 */
import kafkajs from 'kafkajs'
import type { Admin, AdminConfig, Consumer, ConsumerConfig, KafkaConfig, Logger } from 'kafkajs'
import { createConsumerMetrics } from './consumer/consumer-metrics.js'
import { resolveConsumerOptions, runsInSidecar, type SidecarConsumerOptions } from './consumer/consumer-mode.js'
import { DeadLetterConsumerImpl, type DeadLetterConsumer } from './consumer/dead-letter-consumer.js'
import { resolveDeadLetter, type DeadLetterOptions } from './consumer/dead-letter-options.js'
import { ConsumerCluster } from './consumer/consumer-cluster.js'
import { GrpcConsumeTransport } from './consumer/grpc-consume-transport.js'
import { SidecarConsumer } from './consumer/sidecar-consumer.js'
import type { MetricsOption } from './metrics.js'
import { resolveSidecarOptions, type SidecarClientOptions } from './options.js'
import type { KafkaLevelOptions } from './path/sidecar-path-limits.js'
import { SidecarProducer, type SidecarProducerConfig } from './producer/sidecar-producer.js'
import { offerToInstrumentation } from './tracing/kafkajs-instrumentation.js'
import { offerClusterToInstrumentation } from './tracing/span-cluster.js'

export interface SidecarConsumerConfig extends ConsumerConfig {
  /** Sidecar options for this consumer: its mode overrides the Kafka-level `consumerMode` and the environment. */
  readonly sidecar?: SidecarConsumerOptions
  /**
   * Beyond KafkaJS, in both modes: a record whose handler keeps failing is tried again with
   * backoff, then written to this dead-letter topic, and the partition moves on (docs/consumers.md).
   */
  readonly deadLetter?: DeadLetterOptions
}

export interface SidecarKafkaConfig extends KafkaConfig {
  /** Defaults for every producer (and, with `consumerMode`, consumer) of this client; the environment fills what is not set. */
  readonly sidecar?: SidecarClientOptions
  /** Opt in to client metrics in prom-client's default registry (`true`) or in `{ registry }`. */
  readonly sidecarMetrics?: MetricsOption
}

export class Kafka {
  private readonly kafka: InstanceType<typeof kafkajs.Kafka>
  private readonly sidecarOptions: SidecarClientOptions | undefined
  private readonly metrics: MetricsOption | undefined
  private readonly clientId: string | undefined
  /** Kafka-level options a producer's sidecar path cannot honour; it names them at connect. */
  private readonly kafkaLevel: KafkaLevelOptions
  /** The application's bootstrap brokers: a producer checks the sidecar writes to their cluster. */
  private readonly brokers: KafkaConfig['brokers']

  constructor(config: SidecarKafkaConfig) {
    const { sidecar, sidecarMetrics, ...kafkaConfig } = config
    // Fail at construction, like KafkaJS does for its own config, not at the first send.
    resolveSidecarOptions([sidecar])
    this.kafka = new kafkajs.Kafka(kafkaConfig)
    this.sidecarOptions = sidecar
    this.metrics = sidecarMetrics
    this.clientId = kafkaConfig.clientId
    this.kafkaLevel = { retry: kafkaConfig.retry, requestTimeout: kafkaConfig.requestTimeout }
    this.brokers = kafkaConfig.brokers
  }

  producer(config?: SidecarProducerConfig): SidecarProducer {
    return new SidecarProducer(this.kafka, config, {
      sidecar: this.sidecarOptions,
      metrics: this.metrics,
      clientId: this.clientId,
      kafka: this.kafkaLevel,
      brokers: this.brokers,
    })
  }

  /**
   * KafkaJS's consumer, or in sidecar mode one whose group member is the pod's sidecar (a consumer
   * with custom partitionAssigners stays KafkaJS's, with a warning: see consumer-mode.ts). With
   * `deadLetter`, that consumer wrapped (dead-letter-consumer.ts), in either mode.
   */
  consumer(config: SidecarConsumerConfig & { readonly deadLetter: DeadLetterOptions }): DeadLetterConsumer
  consumer(config: SidecarConsumerConfig): Consumer
  consumer(config: SidecarConsumerConfig): Consumer {
    // Whatever KafkaJS does with a missing config (it refuses it), it does here.
    if (typeof config !== 'object' || config === null) return this.kafka.consumer(config)
    const { deadLetter, ...rest } = config
    const policy = resolveDeadLetter(deadLetter)
    const consumer = this.modeConsumer(rest)
    if (!policy) return consumer
    // The same wrapper in both modes; a consumer without deadLetter is the mode's own, untouched.
    return new DeadLetterConsumerImpl({
      inner: consumer,
      policy,
      groupId: config.groupId,
      heartbeatInterval: config.heartbeatInterval ?? 3_000,
      createProducer: () => this.producer(),
    })
  }

  private modeConsumer(config: Omit<SidecarConsumerConfig, 'deadLetter'>): Consumer {
    const { sidecar, ...kafkajsConfig } = config
    const kafkaLevel = resolveSidecarOptions([this.sidecarOptions])
    const options = resolveConsumerOptions(kafkaLevel, sidecar)
    // KafkaJS's consumer checks the config (groupId, heartbeatInterval) and gives the logger and
    // events; it opens no connection until connect(), which a sidecar consumer never calls.
    const kafkajsConsumer = this.kafka.consumer(kafkajsConfig)
    const clientId = this.clientId ?? 'kafkajs'
    const metrics = createConsumerMetrics(this.metrics, clientId, kafkajsConfig.groupId)
    if (!runsInSidecar(kafkajsConfig, options, kafkajsConsumer.logger())) {
      // KafkaJS's consumer stays untouched: only its mode is counted, and a missing prom-client logged.
      metrics.mode('direct')
      metrics.ready.catch((error: Error) => kafkajsConsumer.logger().error(error.message, { groupId: config.groupId }))
      return kafkajsConsumer
    }
    const transport = new GrpcConsumeTransport(kafkaLevel)
    const cluster = new ConsumerCluster(
      {
        policy: kafkaLevel.clusterMismatch,
        token: kafkaLevel.token,
        timeoutMs: kafkaLevel.livenessTimeoutMs,
        applicationBrokers: this.brokers,
      },
      kafkajsConsumer.logger(),
      () => transport.clusterClient(),
    )
    const consumer = new SidecarConsumer({
      kafkajsConsumer,
      config: kafkajsConfig,
      transport,
      cluster,
      options,
      clientId,
      appName: kafkaLevel.appName ?? clientId,
      connectTimeoutMs: kafkaLevel.connectTimeoutMs,
      createDirect: () => this.kafka.consumer(kafkajsConfig),
      // As KafkaJS merges them: the consumer's own retry (default { retries: 5 }) over the Kafka-level one.
      retry: { ...this.kafkaLevel.retry, ...(kafkajsConfig.retry ?? { retries: 5 }) },
      metrics,
    })
    // The application's KafkaJS instrumentation traces its handlers, as on KafkaJS's own consumer,
    // with the cluster id of the sidecar's cluster.
    if (offerToInstrumentation(consumer, kafkajsConfig, 'consumer'))
      offerClusterToInstrumentation(consumer, cluster.view, 'consumer')
    return consumer
  }

  admin(config?: AdminConfig): Admin {
    return this.kafka.admin(config)
  }

  logger(): Logger {
    return this.kafka.logger()
  }
}
