/**
 * The producer `kafka.producer()` returns: KafkaJS's producer API, sending through the pod's
 * sidecar or directly to Kafka. This class is the API surface (argument checks, events,
 * lifecycle); a send goes down from here (docs/architecture.md, "A record's route through the
 * client"): path choice (path/path-choice.ts), transport (transport/), result (delivery/).
 *
 * - direct mode: KafkaJS's own producer does the work (DirectPath); this producer adds delivery
 *   callbacks and metrics.
 * - sidecar mode: sends are coalesced onto one EmitStream behind an opossum circuit breaker,
 *   and go directly to Kafka when the sidecar path fails.
 */
import kafkajs from 'kafkajs'
import type {
  InstrumentationEvent,
  Kafka,
  KafkaConfig,
  Logger,
  Producer,
  ProducerBatch,
  ProducerConfig,
  ProducerRecord,
  RecordMetadata,
  Transaction,
} from 'kafkajs'
import type { DeliveryListener } from '../delivery/delivery-report.js'
import { SendResults } from '../delivery/send-results.js'
import { isNetworkEvent, ProducerEvents, SIDECAR_EVENTS, type BreakerState, type SidecarProducerOn } from '../events.js'
import { KafkaJSConnectionClosedError } from '../kafkajs-exports.js'
import { countByTopic, createProducerMetrics, type MetricsOption, type ProducerMetrics } from '../metrics.js'
import {
  checkProducerLevel,
  resolveSidecarOptions,
  type ProducerMode,
  type ResolvedSidecarOptions,
  type SidecarClientOptions,
} from '../options.js'
import { SidecarClusterCheck, type SidecarClusterState } from '../path/cluster-check.js'
import { PathChoice } from '../path/path-choice.js'
import type { KafkaLevelOptions } from '../path/sidecar-path-limits.js'
import { enterThroughInstrumentation } from '../tracing/direct-entry.js'
import { offerToInstrumentation } from '../tracing/kafkajs-instrumentation.js'
import { offerClusterToInstrumentation, SpanCluster } from '../tracing/span-cluster.js'
import { DirectPath } from '../transport/direct-path.js'
import type { SidecarPath } from '../transport/sidecar-path.js'
import { showKafkaJSSurface } from './kafkajs-surface.js'
import { toOutgoingSend } from './messages.js'
import { validateBatch, validateProducerConfig, type ConnectionStatus } from './validation.js'

export interface SidecarProducerConfig extends ProducerConfig {
  /** Sidecar options for this producer; they override the Kafka-level ones and the environment. */
  readonly sidecar?: Omit<SidecarClientOptions, 'consumerMode'>
  /** Called once for every record sent, with its partition and offset or its error. */
  readonly onDelivery?: DeliveryListener
}

export class SidecarProducer {
  readonly events: Producer['events'] & typeof SIDECAR_EVENTS
  private readonly options: ResolvedSidecarOptions
  private readonly log: Logger
  private readonly emitter: ProducerEvents
  private readonly direct: DirectPath
  private readonly metrics: ProducerMetrics
  /** Whether the sidecar writes to the application's cluster (see cluster-check.ts). */
  private readonly clusterCheck: SidecarClusterCheck
  /** The cluster id the application's tracing sees on this producer's spans. */
  private readonly spanCluster: SpanCluster
  private readonly paths: PathChoice
  private readonly idempotent: boolean
  private readonly transactionalId: string | undefined
  private status: ConnectionStatus = 'disconnected'
  private sendsInFlight = 0
  private sendsSettled: Array<() => void> = []
  /** True while the application's KafkaJS instrumentation wraps this producer (see below). */
  private handingToInstrumentation = false
  private everConnected = false

  constructor(
    kafka: Kafka,
    config: SidecarProducerConfig = {},
    inherited: {
      sidecar?: SidecarClientOptions
      metrics?: MetricsOption
      clientId?: string
      kafka?: KafkaLevelOptions
      brokers?: KafkaConfig['brokers']
    } = {},
  ) {
    validateProducerConfig(config)
    const { sidecar: producerSidecar, onDelivery, ...kafkajsConfig } = config
    checkProducerLevel(producerSidecar)
    this.options = resolveSidecarOptions([inherited.sidecar, producerSidecar])
    const clientId = inherited.clientId ?? 'kafkajs'
    this.idempotent = kafkajsConfig.idempotent ?? false
    this.transactionalId = kafkajsConfig.transactionalId
    this.direct = new DirectPath(kafka, kafkajsConfig)
    this.log = this.direct.producer.logger().namespace('SidecarProducer')
    this.events = Object.freeze({ ...this.direct.producer.events, ...SIDECAR_EVENTS })
    this.emitter = new ProducerEvents(this.log, this.direct.producer.events)
    this.metrics = createProducerMetrics(inherited.metrics, clientId)
    this.clusterCheck = new SidecarClusterCheck(
      {
        policy: this.options.clusterMismatch,
        token: this.options.token,
        timeoutMs: this.options.livenessTimeoutMs,
        applicationBrokers: inherited.brokers,
      },
      this.log,
      this.metrics,
      (payload) => this.emitter.emit(SIDECAR_EVENTS.CLUSTER_MISMATCH, payload),
    )
    this.spanCluster = new SpanCluster(() => this.clusterCheck.clusterIdForSends, this.direct.cluster)
    if (onDelivery) this.emitter.onDelivery(onDelivery)
    this.paths = this.choosePaths(clientId, kafkajsConfig, inherited.kafka ?? {})
    this.metrics.mode(this.mode)
    // A series from the start, so dashboards and alerts see "closed" rather than nothing.
    if (this.paths.usesSidecar) this.metrics.breakerState('closed')
    // Before the instrumentation wraps them: it wraps own properties as it finds them.
    showKafkaJSSurface(this)
    if (this.paths.usesSidecar) this.handToInstrumentation(kafkajsConfig)
    // Sends enter through KafkaJS's producer as the instrumentation wrapped it (direct-entry.ts),
    // which traces them there: its sendBatch below is not traced again.
    else this.direct.untraceSends()
  }

  private choosePaths(clientId: string, producerConfig: ProducerConfig, kafkaLevel: KafkaLevelOptions): PathChoice {
    return new PathChoice(
      { options: this.options, clientId, producerConfig, kafkaLevel },
      {
        direct: this.direct,
        results: new SendResults(this.metrics, this.log, this.emitter),
        events: this.emitter,
        clusterCheck: this.clusterCheck,
        metrics: this.metrics,
        log: this.log,
        connected: () => this.status === 'connected',
      },
    )
  }

  /**
   * In sidecar mode no KafkaJS producer sends, so an application's KafkaJS instrumentation
   * (OpenTelemetry's) would see nothing: it is asked to wrap this producer as it wraps KafkaJS's.
   * Its fallback producer is then not traced again. In direct mode KafkaJS's own producer is
   * traced as in KafkaJS, and this producer's sends enter through it (see send()).
   */
  private handToInstrumentation(config: ProducerConfig): void {
    this.handingToInstrumentation = true
    try {
      if (offerToInstrumentation(this, config)) {
        this.direct.stopTracing()
        offerClusterToInstrumentation(this, this.spanCluster.cluster)
      }
    } finally {
      this.handingToInstrumentation = false
    }
  }

  /** The mode in force: `sidecar` when sends go to the sidecar (falling back when needed), else `direct`. */
  get mode(): ProducerMode {
    return this.paths.mode
  }

  /** The circuit breaker's state; always `closed` in direct mode. */
  get breakerState(): BreakerState {
    return this.paths.breakerState
  }

  /** The sidecar address this producer uses (in sidecar mode). */
  get sidecarAddress(): string | null {
    return this.paths.usesSidecar ? this.options.address : null
  }

  /** Which cluster the sidecar writes to, and whether it is the application's (asked at connect, at each half-open probe, after the channel reconnected). */
  get sidecarCluster(): SidecarClusterState {
    return this.clusterCheck.state
  }

  /** Whether the fallback direct producer currently holds broker connections. */
  get directConnected(): boolean {
    return this.direct.isConnected
  }

  isIdempotent(): boolean {
    return this.idempotent
  }

  logger(): Logger {
    return this.direct.producer.logger()
  }

  /** The sidecar path's transport while connected (its channel and report stream). */
  private get sidecar(): SidecarPath | null {
    return this.paths.sidecarPath
  }

  /** KafkaJS's `on` (same names, event shapes and errors) plus this package's events. */
  readonly on: SidecarProducerOn = ((eventName: string, listener: (event: InstrumentationEvent<unknown>) => unknown) =>
    this.addListener(eventName, listener)) as SidecarProducerOn

  private addListener(eventName: string, listener: (event: InstrumentationEvent<unknown>) => unknown): () => void {
    if (isNetworkEvent(eventName)) {
      // The instrumentation listens to the KafkaJS producer's request events when it creates it;
      // listening again through this producer would count every request twice.
      if (this.handingToInstrumentation) return () => {}
      return this.direct.producer.on(eventName as never, listener as never)
    }
    const remove = this.emitter.listen(eventName, listener)
    if (eventName === SIDECAR_EVENTS.DELIVERY && this.status === 'connected') this.sidecar?.reports.start()
    return remove
  }

  async connect(): Promise<void> {
    await this.metrics.ready
    await this.paths.connect()
    this.status = 'connected'
    this.everConnected = true
    this.spanCluster.connected(this.idempotent)
    this.emitter.emit('producer.connect', undefined)
  }

  async disconnect(): Promise<void> {
    this.status = 'disconnecting'
    await this.whenSendsSettled(this.options.connectTimeoutMs)
    await this.paths.disconnect()
    this.clusterCheck.reset()
    this.spanCluster.disconnected()
    this.status = 'disconnected'
    this.emitter.emit('producer.disconnect', undefined)
  }

  send(record: ProducerRecord): Promise<RecordMetadata[]> {
    if (this.paths.usesSidecar) return this.sendRecord(record)
    return enterThroughInstrumentation(this.direct.producer, 'send', record, (r) =>
      this.sendRecord(r as ProducerRecord),
    )
  }

  sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
    if (this.paths.usesSidecar) return this.sendGivenBatch(batch)
    return enterThroughInstrumentation(this.direct.producer, 'sendBatch', batch, (b) =>
      this.sendGivenBatch(b as ProducerBatch),
    )
  }

  // Destructured in the signature, as KafkaJS does: send(undefined) rejects with the same TypeError.
  private async sendRecord({ acks, timeout, compression, topic, messages }: ProducerRecord): Promise<RecordMetadata[]> {
    // Not through sendBatch: an instrumentation wraps both, and would trace the records twice.
    return this.sendTopicMessages({ acks, timeout, compression, topicMessages: [{ topic, messages }] })
  }

  private async sendGivenBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
    return this.sendTopicMessages(batch)
  }

  /** KafkaJS's checks turn the caller's messages into an OutgoingSend, which goes down to path choice. */
  private async sendTopicMessages(batch: ProducerBatch): Promise<RecordMetadata[]> {
    const send = toOutgoingSend(batch, validateBatch(batch, this.idempotent, this.status))
    const started = performance.now()
    if (this.metrics.enabled) for (const [topic, n] of countByTopic(send.outgoing)) this.metrics.attempted(topic, n)
    this.sendsInFlight++
    try {
      const { metadata, path } = await this.paths.send(send)
      this.metrics.sendSeconds(path, (performance.now() - started) / 1000)
      this.spanCluster.sendSettled(null)
      return metadata
    } catch (error) {
      this.spanCluster.sendSettled(error)
      throw error
    } finally {
      this.sendsInFlight--
      if (this.sendsInFlight === 0) for (const settled of this.sendsSettled.splice(0)) settled()
    }
  }

  /** Transactions always run on the direct path: a transaction's producer id cannot be shared. */
  async transaction(): Promise<Transaction> {
    if (this.paths.usesSidecar) {
      // Refuse before opening broker connections, with KafkaJS's own error.
      if (!this.transactionalId)
        throw new kafkajs.KafkaJSNonRetriableError('Must provide transactional id for transactional producer')
      // KafkaJS's producer, once disconnected, fails here: its connections are closed. The
      // fallback producer must not connect again behind the application's back.
      if (this.everConnected && this.status !== 'connected') throw new KafkaJSConnectionClosedError('Closed connection')
      await this.paths.connectForTransactions()
    }
    const transaction = await this.direct.transaction()
    this.spanCluster.transactionBegan()
    return transaction
  }

  private whenSendsSettled(timeoutMs: number): Promise<void> {
    if (this.sendsInFlight === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      timer.unref()
      this.sendsSettled.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }
}
