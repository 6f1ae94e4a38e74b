/**
 * `Kafka`, as KafkaJS's, with one difference: `producer()` returns a SidecarProducer, which
 * writes through the pod's sidecar or directly depending on KAFKA_SIDECAR_MODE. The consumer,
 * the admin client and the logger are KafkaJS's own, built from the same config.
 */
import kafkajs from 'kafkajs'
import type { Admin, AdminConfig, Consumer, ConsumerConfig, KafkaConfig, Logger } from 'kafkajs'
import type { MetricsOption } from './metrics.js'
import { resolveSidecarOptions, type SidecarClientOptions } from './options.js'
import type { KafkaLevelOptions } from './path/sidecar-path-limits.js'
import { SidecarProducer, type SidecarProducerConfig } from './producer/sidecar-producer.js'

export interface SidecarKafkaConfig extends KafkaConfig {
  /** Defaults for every producer of this client (the environment fills what is not set). */
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

  consumer(config: ConsumerConfig): Consumer {
    return this.kafka.consumer(config)
  }

  admin(config?: AdminConfig): Admin {
    return this.kafka.admin(config)
  }

  logger(): Logger {
    return this.kafka.logger()
  }
}
