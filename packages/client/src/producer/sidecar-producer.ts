/**
 * The producer `kafka.producer()` returns: KafkaJS's producer API, sending through the pod's
 * sidecar or directly to Kafka.
 *
 * - direct mode: KafkaJS's own producer does the work (DirectPath); this class adds delivery
 *   callbacks and metrics.
 * - sidecar mode: sends are coalesced onto one EmitStream behind an opossum circuit breaker.
 *   When the sidecar path fails (transport, UNAVAILABLE, no answer in time) the send goes
 *   through the direct path instead, so a caller's records are written either way; records the
 *   sidecar may already have taken are then written twice (at-least-once), never zero times.
 *   A PathGate keeps per-partition order across every switch between the two paths.
 */
import { randomUUID } from 'node:crypto'
import { credentials, Metadata, status, type ChannelOptions } from '@grpc/grpc-js'
import {
  HealthCheckResponse_ServingStatus,
  HealthClient,
  LIVENESS_HEADER,
  ProducerSidecarClient,
} from '@kafka-sidecar/proto'
import CircuitBreaker from 'opossum'
import { EventEmitter } from 'eventemitter3'
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
  RemoveInstrumentationEventListener,
  TopicMessages,
  Transaction,
} from 'kafkajs'
import type { DeliveryListener, DeliveryReport } from '../delivery/delivery-report.js'
import { SidecarDeliveryTracker } from '../delivery/sidecar-delivery-tracker.js'
import { countByTopic, createProducerMetrics, type MetricsOption, type ProducerMetrics } from '../metrics.js'
import {
  grpcTarget,
  resolveSidecarOptions,
  type ProducerMode,
  type ResolvedSidecarOptions,
  type SidecarClientOptions,
} from '../options.js'
import { Coalescer, type EmitPart, type PartOutcome, type PartResult } from '../transport/coalescer.js'
import { EmitStream } from '../transport/emit-stream.js'
import { ReportStream } from '../transport/report-stream.js'
import {
  countsAgainstSidecar,
  SidecarRefusal,
  SidecarUnavailableError,
  toKafkaJSError,
} from '../transport/sidecar-errors.js'
import { KafkaJSConnectionClosedError } from '../kafkajs-exports.js'
import { enterThroughInstrumentation } from '../tracing/direct-entry.js'
import { offerToInstrumentation } from '../tracing/kafkajs-instrumentation.js'
import { offerClusterToInstrumentation, SpanCluster } from '../tracing/span-cluster.js'
import { SidecarClusterCheck, type ClusterMismatchPayload, type SidecarClusterState } from './cluster-check.js'
import { CredentialVerdict } from './credential-verdict.js'
import { absentInDirectSend, isAbsentPartition, mergeAbsent, warnOfAbsentPartitions } from './absent-partitions.js'
import { DirectPath } from './direct-path.js'
import { flatten, recordBytes, toSidecarRecord, type OutgoingMessage } from './messages.js'
import { showKafkaJSSurface } from './kafkajs-surface.js'
import { PathGate, type PathName } from './path-gate.js'
import {
  directReasonFor,
  optionsIgnoredOnSidecarPath,
  registeredCodecReasons,
  type IgnoredOption,
  type KafkaLevelOptions,
} from './sidecar-path-limits.js'
import { validateBatch, validateProducerConfig, type ConnectionStatus } from './validation.js'

export interface SidecarProducerConfig extends ProducerConfig {
  /** Sidecar options for this producer; they override the Kafka-level ones and the environment. */
  readonly sidecar?: SidecarClientOptions
  /** Called once for every record sent, with its partition and offset or its error. */
  readonly onDelivery?: DeliveryListener
}

/** KafkaJS's producer events plus this package's own. */
export const SIDECAR_EVENTS = {
  DELIVERY: 'producer.sidecar.delivery',
  BREAKER_OPEN: 'producer.sidecar.breaker_open',
  BREAKER_HALF_OPEN: 'producer.sidecar.breaker_half_open',
  BREAKER_CLOSE: 'producer.sidecar.breaker_close',
  FALLBACK: 'producer.sidecar.fallback',
  CLUSTER_MISMATCH: 'producer.sidecar.cluster_mismatch',
} as const

export type BreakerState = 'closed' | 'half_open' | 'open'

export interface FallbackEventPayload {
  readonly reason: string
  readonly records: number
  readonly topics: string[]
}

/** `producer.on` as KafkaJS types it, plus overloads for this package's events. */
export type SidecarProducerOn = Producer['on'] & {
  (
    eventName: typeof SIDECAR_EVENTS.DELIVERY,
    listener: (event: InstrumentationEvent<DeliveryReport>) => void,
  ): RemoveInstrumentationEventListener<typeof eventName>
  (
    eventName: typeof SIDECAR_EVENTS.FALLBACK,
    listener: (event: InstrumentationEvent<FallbackEventPayload>) => void,
  ): RemoveInstrumentationEventListener<typeof eventName>
  (
    eventName: typeof SIDECAR_EVENTS.CLUSTER_MISMATCH,
    listener: (event: InstrumentationEvent<ClusterMismatchPayload>) => void,
  ): RemoveInstrumentationEventListener<typeof eventName>
  (
    eventName:
      | typeof SIDECAR_EVENTS.BREAKER_OPEN
      | typeof SIDECAR_EVENTS.BREAKER_HALF_OPEN
      | typeof SIDECAR_EVENTS.BREAKER_CLOSE,
    listener: (event: InstrumentationEvent<{ state: BreakerState }>) => void,
  ): RemoveInstrumentationEventListener<typeof eventName>
}

const KAFKAJS_OWN_EVENTS = new Set(['producer.connect', 'producer.disconnect'])
const NETWORK_EVENTS = new Set([
  'producer.network.request',
  'producer.network.request_timeout',
  'producer.network.request_queue_size',
])
const DEFAULT_SEND_TIMEOUT_MS = 30_000
const IDLE_CHECK_MS = 1_000
/** The sidecar and the client share KafkaJS's default partitioner; any other must run here. */
const SIDECAR_PARTITIONERS: ReadonlySet<unknown> = new Set([
  undefined,
  kafkajs.Partitioners.DefaultPartitioner,
  kafkajs.Partitioners.JavaCompatiblePartitioner,
])
/**
 * Reconnect faster than grpc-js's defaults (1 s doubling to 120 s), so a restarted sidecar is
 * found again within a second or two. Ping the sidecar every quarter of the liveness timeout, and
 * give up on a connection whose ping is not answered within the other three quarters: a hung
 * sidecar (stopped, event loop blocked) keeps its socket open and answers nothing, and without
 * pings nothing would tell until each send's own deadline (its `timeout`, 30 s by default). So
 * a hung sidecar is told within [3/4, 1] of the liveness timeout. A sidecar that is slow under
 * load still answers pings, which its event loop handles between requests, but late: the long
 * share for the answer keeps one whose answers run a few hundred ms behind (event-loop lag of
 * both processes) from being taken for a hung one.
 */
function channelOptions(livenessTimeoutMs: number): ChannelOptions {
  return {
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 1_000,
    'grpc.keepalive_time_ms': Math.floor(livenessTimeoutMs / 4),
    'grpc.keepalive_timeout_ms': Math.ceil((livenessTimeoutMs * 3) / 4),
    'grpc.keepalive_permit_without_calls': 1,
  }
}
/** How long a half-open probe waits for the channel to connect: its longest reconnect backoff, and a margin. */
const PROBE_CONNECT_WAIT_MS = 1_500
/** A probe's health check gets at least this long once the channel is connected. */
const MIN_PROBE_CHECK_MS = 200

let nextEventId = 0

export class SidecarProducer {
  readonly events: Producer['events'] & typeof SIDECAR_EVENTS
  private readonly options: ResolvedSidecarOptions
  private readonly log: Logger
  private readonly emitter = new EventEmitter()
  private readonly direct: DirectPath
  private readonly gate = new PathGate()
  private readonly metrics: ProducerMetrics
  /** Whether the sidecar writes to the application's cluster (see cluster-check.ts). */
  private readonly clusterCheck: SidecarClusterCheck
  /** The cluster id the application's tracing sees on this producer's spans. */
  private readonly spanCluster: SpanCluster
  private readonly idempotent: boolean
  private readonly transactionalId: string | undefined
  private readonly allowAutoTopicCreation: boolean | undefined
  private readonly clientId: string
  /** Why this producer never uses the sidecar even in sidecar mode, or null. */
  private readonly directOnlyReason: string | null
  /** Options of this producer that sends through the sidecar cannot honour, said at connect. */
  private readonly ignoredOptions: IgnoredOption[]
  /** Why some sends went direct, each said once. */
  private readonly directReasonsSaid = new Set<string>()
  private status: ConnectionStatus = 'disconnected'
  private sendsInFlight = 0
  private sendsSettled: Array<() => void> = []
  private idleTimer: NodeJS.Timeout | null = null
  private transactionsUsed = false
  /** True while the application's KafkaJS instrumentation wraps this producer (see below). */
  private handingToInstrumentation = false
  /** Whether sends prefer the sidecar (sidecar mode, and nothing keeps this producer direct). */
  private readonly usesSidecar: boolean
  /** The sidecar path while connected (built again by a connect after a disconnect). */
  private sidecar: {
    client: ProducerSidecarClient
    health: HealthClient
    stream: EmitStream
    coalescer: Coalescer
    reports: ReportStream
    tracker: SidecarDeliveryTracker
    breaker: CircuitBreaker<[EmitPart], PartOutcome>
  } | null = null
  private everConnected = false
  private readonly credentials = new CredentialVerdict()

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
    this.options = resolveSidecarOptions([inherited.sidecar, producerSidecar])
    this.clientId = inherited.clientId ?? 'kafkajs'
    this.idempotent = kafkajsConfig.idempotent ?? false
    this.transactionalId = kafkajsConfig.transactionalId
    this.allowAutoTopicCreation = kafkajsConfig.allowAutoTopicCreation
    this.ignoredOptions = optionsIgnoredOnSidecarPath(
      inherited.kafka ?? {},
      kafkajsConfig,
      this.options.backpressureRetryMs,
    )
    this.direct = new DirectPath(kafka, kafkajsConfig)
    this.log = this.direct.producer.logger().namespace('SidecarProducer')
    this.events = Object.freeze({ ...this.direct.producer.events, ...SIDECAR_EVENTS })
    this.metrics = createProducerMetrics(inherited.metrics, this.clientId)
    this.clusterCheck = new SidecarClusterCheck(
      {
        policy: this.options.clusterMismatch,
        token: this.options.token,
        timeoutMs: this.options.livenessTimeoutMs,
        applicationBrokers: inherited.brokers,
      },
      this.log,
      this.metrics,
      (payload) => this.emit(SIDECAR_EVENTS.CLUSTER_MISMATCH, payload),
    )
    this.spanCluster = new SpanCluster(() => this.clusterCheck.clusterIdForSends, this.direct.cluster)
    // Guarded like every `on()` listener: an onDelivery that throws or rejects must not fail the
    // send that was just written (direct), nor break the report stream's handler (sidecar).
    if (onDelivery)
      this.emitter.on(
        SIDECAR_EVENTS.DELIVERY,
        this.guarded(SIDECAR_EVENTS.DELIVERY, (event) =>
          onDelivery((event as InstrumentationEvent<DeliveryReport>).payload),
        ),
      )

    this.directOnlyReason = SIDECAR_PARTITIONERS.has(kafkajsConfig.createPartitioner)
      ? null
      : 'a custom createPartitioner runs in this process, so this producer writes directly to keep its partitioning'
    this.usesSidecar = this.options.mode === 'sidecar' && this.directOnlyReason === null
    if (this.usesSidecar) this.sidecar = this.createSidecarPath()
    this.metrics.mode(this.mode)
    // A series from the start, so dashboards and alerts see "closed" rather than nothing.
    if (this.usesSidecar) this.metrics.breakerState('closed')
    // Before the instrumentation wraps them: it wraps own properties as it finds them.
    showKafkaJSSurface(this)
    if (this.usesSidecar) this.handToInstrumentation(kafkajsConfig)
    // Sends enter through KafkaJS's producer as the instrumentation wrapped it (direct-entry.ts),
    // which traces them there: its sendBatch below is not traced again.
    else this.direct.untraceSends()
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
    return this.usesSidecar ? 'sidecar' : 'direct'
  }

  /** The circuit breaker's state; always `closed` in direct mode. */
  get breakerState(): BreakerState {
    const breaker = this.sidecar?.breaker
    if (!breaker) return 'closed'
    return breaker.opened ? 'open' : breaker.halfOpen ? 'half_open' : 'closed'
  }

  /** The sidecar address this producer uses (in sidecar mode). */
  get sidecarAddress(): string | null {
    return this.usesSidecar ? this.options.address : null
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

  /** KafkaJS's `on` (same names, event shapes and errors) plus this package's events. */
  readonly on: SidecarProducerOn = ((eventName: string, listener: (event: InstrumentationEvent<unknown>) => unknown) =>
    this.addListener(eventName, listener)) as SidecarProducerOn

  private addListener(eventName: string, listener: (event: InstrumentationEvent<unknown>) => unknown): () => void {
    if (NETWORK_EVENTS.has(eventName)) {
      // The instrumentation listens to the KafkaJS producer's request events when it creates it;
      // listening again through this producer would count every request twice.
      if (this.handingToInstrumentation) return () => {}
      return this.direct.producer.on(eventName as never, listener as never)
    }
    if (!KAFKAJS_OWN_EVENTS.has(eventName) && !Object.values(SIDECAR_EVENTS).includes(eventName as never)) {
      // KafkaJS's message, naming KafkaJS's events only.
      throw new kafkajs.KafkaJSNonRetriableError(
        `Event name should be one of ${Object.keys(this.direct.producer.events)
          .map((k) => `producer.events.${k}`)
          .join(', ')}`,
      )
    }
    // KafkaJS's own events behave as in KafkaJS (a listener that throws synchronously makes
    // connect() fail); this package's events never let a listener break the producer.
    const wrapped = KAFKAJS_OWN_EVENTS.has(eventName)
      ? this.asKafkaJSListener(eventName, listener)
      : this.guarded(eventName, listener)
    this.emitter.on(eventName, wrapped)
    if (eventName === SIDECAR_EVENTS.DELIVERY && this.status === 'connected') this.sidecar?.reports.start()
    return () => this.emitter.off(eventName, wrapped)
  }

  async connect(): Promise<void> {
    await this.metrics.ready
    if (this.usesSidecar) {
      this.sidecar ??= this.createSidecarPath()
      const ready = await this.waitForSidecar(this.options.connectTimeoutMs)
      // A sidecar on another cluster is refused like one not ready: the breaker's probes ask again.
      const refused = ready && (await this.clusterCheck.refuses(this.sidecar.client))
      if (ready && !refused) {
        this.log.info('Producer connected through the sidecar', { mode: 'sidecar', address: this.options.address })
      } else {
        if (!refused)
          this.log.warn('Sidecar not ready; producing directly to Kafka until it is', {
            mode: 'sidecar',
            address: this.options.address,
            waitedMs: this.options.connectTimeoutMs,
          })
        this.sidecar.breaker.open()
        await this.direct.connect()
      }
      this.warnOfSidecarPathLimits()
      if (this.wantsReports()) this.sidecar.reports.start()
      this.startIdleCheck()
    } else {
      await this.direct.connect()
      this.log.info('Producer connected directly to Kafka', {
        mode: 'direct',
        ...(this.directOnlyReason && this.options.mode === 'sidecar' ? { reason: this.directOnlyReason } : {}),
      })
    }
    this.status = 'connected'
    this.everConnected = true
    this.spanCluster.connected(this.idempotent)
    this.emit('producer.connect', undefined)
  }

  async disconnect(): Promise<void> {
    this.status = 'disconnecting'
    await this.whenSendsSettled(this.options.connectTimeoutMs)
    if (this.sidecar) {
      await this.sidecar.tracker.whenIdle(this.options.reportTimeoutMs)
      this.sidecar.tracker.flush()
      this.sidecar.reports.stop()
      // Sends still held behind a full sidecar past the wait above fail as not sent; written
      // later they would reopen the stream after disconnect() returned.
      this.sidecar.coalescer.failWaiting(
        new SidecarRefusal({
          grpcCode: status.CANCELLED,
          message: 'not sent: the producer disconnected while this send waited for room in the sidecar',
          kafkaErrorCode: 0,
          kafkaErrorName: '',
          retriable: true,
          retryAfterMs: 0,
        }),
      )
      this.closeSidecarPath()
    }
    await this.direct.disconnect()
    this.clusterCheck.reset()
    this.spanCluster.disconnected()
    this.status = 'disconnected'
    this.emit('producer.disconnect', undefined)
  }

  send(record: ProducerRecord): Promise<RecordMetadata[]> {
    if (this.usesSidecar) return this.sendRecord(record)
    return enterThroughInstrumentation(this.direct.producer, 'send', record, (r) =>
      this.sendRecord(r as ProducerRecord),
    )
  }

  sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
    if (this.usesSidecar) return this.sendGivenBatch(batch)
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

  private async sendTopicMessages(batch: ProducerBatch): Promise<RecordMetadata[]> {
    const topicMessages = validateBatch(batch, this.idempotent, this.status)
    const outgoing = flatten(topicMessages)
    const started = performance.now()
    this.count(outgoing, (topic, n) => this.metrics.attempted(topic, n))
    this.sendsInFlight++
    try {
      const { metadata, path } = this.usesSidecar
        ? await this.sendPreferringSidecar(batch, topicMessages, outgoing)
        : await this.sendOn('direct', batch, topicMessages, outgoing)
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
    if (this.usesSidecar) {
      // Refuse before opening broker connections, with KafkaJS's own error.
      if (!this.transactionalId)
        throw new kafkajs.KafkaJSNonRetriableError('Must provide transactional id for transactional producer')
      // KafkaJS's producer, once disconnected, fails here: its connections are closed. The
      // fallback producer must not connect again behind the application's back.
      if (this.everConnected && this.status !== 'connected') throw new KafkaJSConnectionClosedError('Closed connection')
      await this.direct.connect()
      this.transactionsUsed = true
    }
    const transaction = await this.direct.transaction()
    this.spanCluster.transactionBegan()
    return transaction
  }

  // --- sending --------------------------------------------------------------------------------

  private async sendPreferringSidecar(
    batch: ProducerBatch,
    topicMessages: TopicMessages[],
    outgoing: OutgoingMessage[],
  ): Promise<{ metadata: RecordMetadata[]; path: PathName }> {
    const sidecar = this.sidecar
    // A send started before a disconnect finished the path: as one started after.
    if (!sidecar) throw new kafkajs.KafkaJSError('The producer is disconnected')
    // As KafkaJS: nothing to send resolves with nothing; a codec this process has not registered
    // fails here with KafkaJS's own error (KafkaJS looks codecs up when it encodes).
    if (outgoing.length === 0) return { metadata: [], path: 'sidecar' }
    const compression = batch.compression ?? 0
    if (compression > 1) (kafkajs.CompressionCodecs as Record<number, () => unknown>)[compression]?.()
    const directReason = directReasonFor(batch)
    if (directReason) {
      this.sayOnce(directReason)
      return this.sendOn('direct', batch, topicMessages, outgoing)
    }
    if (sidecar.breaker.opened) {
      this.refuseIfCredentialsRefused(outgoing)
      return this.fallBack(batch, topicMessages, outgoing, 'circuit breaker open')
    }
    const ticket = this.gate.ticket()
    await this.gate.enter('sidecar', ticket)
    let failure: Error | null = null
    try {
      const part = this.emitPart(batch, topicMessages, outgoing)
      const { results } = await sidecar.breaker.fire(part)
      this.credentials.noteAccepted()
      return { metadata: this.settleSidecarResults(outgoing, results, batch.acks ?? -1), path: 'sidecar' }
    } catch (error) {
      this.credentials.noteFailure(error)
      if (error instanceof SidecarRefusal) {
        this.failed(outgoing, 'sidecar', toKafkaJSError(error.detail), true)
      }
      if (!(error instanceof SidecarUnavailableError) && !isOpenBreaker(error))
        throw error instanceof SidecarRefusal ? toKafkaJSError(error.detail) : error
      failure = error as Error
    } finally {
      if (failure === null || this.status !== 'connected' || this.credentials.standing) this.gate.leave()
    }
    // Once disconnect() was called nothing is resent directly: the sidecar may still write what
    // it took (a hung sidecar resumed), and the direct producer would open connections after
    // disconnect() returned. The caller hears the outcome is unknown, and may retry.
    if (this.status !== 'connected') throw this.abandoned(outgoing, failure)
    this.refuseIfCredentialsRefused(outgoing)
    // Sends on the sidecar path fail in any order (streams break separately, deadlines differ, a
    // half-open breaker rejects all but its probe at once). Leaving the gate and entering it
    // again would resend them directly in the order they failed, writing a later record of a
    // partition before an earlier one; switchTo hands the slot over keeping this send's place.
    return this.fallBack(batch, topicMessages, outgoing, failure.message, this.gate.switchTo('direct', ticket))
  }

  /** Throws the sidecar's standing refusal of this producer's token, if there is one (see CredentialVerdict). */
  private refuseIfCredentialsRefused(outgoing: OutgoingMessage[]): void {
    const refusal = this.credentials.standing
    if (!refusal) return
    const error = toKafkaJSError(refusal.detail)
    this.failed(outgoing, 'sidecar', error, true)
    throw error
  }

  private async fallBack(
    batch: ProducerBatch,
    topicMessages: TopicMessages[],
    outgoing: OutgoingMessage[],
    reason: string,
    admitted?: Promise<void>,
  ): Promise<{ metadata: RecordMetadata[]; path: PathName }> {
    const counts = countByTopic(outgoing)
    for (const [topic, n] of counts) this.metrics.fallback(topic, n)
    this.emit(SIDECAR_EVENTS.FALLBACK, {
      reason,
      records: outgoing.length,
      topics: [...counts.keys()],
    } satisfies FallbackEventPayload)
    return this.sendOn('direct', batch, topicMessages, outgoing, admitted)
  }

  /** `admitted`: the gate already holds this send's place (a switch from the sidecar path). */
  private async sendOn(
    path: 'direct',
    batch: ProducerBatch,
    topicMessages: TopicMessages[],
    outgoing: OutgoingMessage[],
    admitted: Promise<void> = this.gate.enter(path),
  ): Promise<{ metadata: RecordMetadata[]; path: PathName }> {
    await admitted
    const partitions: Array<number | null> = []
    try {
      const metadata = await this.direct.send(
        { topicMessages, acks: batch.acks, timeout: batch.timeout, compression: batch.compression },
        partitions,
      )
      const absent = absentInDirectSend(outgoing, partitions, metadata, batch.acks ?? -1)
      warnOfAbsentPartitions(this.log, absent)
      this.count(outgoing, (topic, n) => this.metrics.acked(topic, 'direct', n))
      if (this.wantsReports())
        for (const report of this.direct.reportsFor(outgoing, metadata, partitions, absent)) this.deliver(report)
      return { metadata, path }
    } catch (error) {
      this.failed(outgoing, 'direct', error as Error, true, partitions)
      throw error
    } finally {
      this.gate.leave()
    }
  }

  private abandoned(outgoing: OutgoingMessage[], failure: Error): Error {
    const written = failure instanceof SidecarUnavailableError && failure.outcomeUnknown
    const error = new kafkajs.KafkaJSError(
      written
        ? `outcome unknown: the producer disconnected while the sidecar had this send, which it may or may not have written (${failure.message})`
        : `not sent: the producer disconnected before the sidecar took this send (${failure.message})`,
      { retriable: true },
    )
    this.failed(outgoing, 'sidecar', error, true)
    return error
  }

  private emitPart(batch: ProducerBatch, topicMessages: TopicMessages[], outgoing: OutgoingMessage[]): EmitPart {
    let bytes = 0
    // The CreateTime of messages without one: this process's clock at send(), as in KafkaJS.
    const now = Date.now()
    // KafkaJS skips a topic whose messages array is empty and writes the others; the contract
    // has no empty TopicRecords (a send that means nothing), so such groups stay here.
    const topics = topicMessages
      .filter(({ messages }) => messages.length > 0)
      .map(({ topic, messages }) => ({
        topic,
        records: messages.map((message) => {
          const record = toSidecarRecord(message, now)
          bytes += recordBytes(record)
          return record
        }),
      }))
    return {
      acks: toProtoAcks(batch.acks ?? -1),
      timeoutMs: batch.timeout ?? DEFAULT_SEND_TIMEOUT_MS,
      compression: batch.compression ?? 0,
      allowAutoTopicCreation: this.allowAutoTopicCreation,
      // The sidecar writes such requests with its idempotent producer, or refuses them.
      idempotent: this.idempotent,
      topics,
      outgoing,
      bytes,
    }
  }

  /** KafkaJS-shaped metadata (one per topic-partition) from the sidecar's results, or the first error. */
  private settleSidecarResults(outgoing: OutgoingMessage[], allResults: PartResult[], acks: number): RecordMetadata[] {
    this.count(outgoing, (topic, n) => this.metrics.accepted(topic, n))
    // Records for a partition the topic lacks are left out, as KafkaJS leaves them out.
    const absent = allResults.filter((r) => isAbsentPartition(r.error))
    const results = allResults.filter((r) => !isAbsentPartition(r.error))
    warnOfAbsentPartitions(
      this.log,
      mergeAbsent(
        absent.map(({ topic, partition, localIndexes }) => ({ topic, partition, records: localIndexes.length })),
      ),
    )
    const failedResult = results.find((r) => r.error)
    if (failedResult) {
      // As in KafkaJS the send rejects, though its records for other partitions may be written:
      // the metrics count each record as what became of it.
      const failedIndexes = new Set(allResults.flatMap((r) => (r.error ? r.localIndexes : [])))
      const error = toKafkaJSError(failedResult.error!)
      this.count(
        outgoing.filter((_, i) => !failedIndexes.has(i)),
        (topic, n) => this.metrics.acked(topic, 'sidecar', n),
      )
      this.failed(
        outgoing.filter((_, i) => failedIndexes.has(i)),
        'sidecar',
        error,
        false,
      )
      throw error
    }
    const absentIndexes = new Set(absent.flatMap((r) => r.localIndexes))
    this.count(
      outgoing.filter((_, i) => !absentIndexes.has(i)),
      (topic, n) => this.metrics.acked(topic, 'sidecar', n),
    )
    this.count(
      outgoing.filter((_, i) => absentIndexes.has(i)),
      (topic, n) => this.metrics.failed(topic, 'sidecar', n),
    )
    if (acks === 0) return []
    // KafkaJS lists results broker by broker: brokers in the order first met walking the
    // topics in send order (each topic's leaders ascending), then per broker the topics in send
    // order and their partitions ascending. The same order here, from the leaders the sidecar saw.
    const first = new Map<string, PartResult>()
    for (const r of results)
      if (!first.has(`${r.topic}\u0000${r.partition}`)) first.set(`${r.topic}\u0000${r.partition}`, r)
    const topicOrder = [...new Set(outgoing.map((o) => o.topic))]
    const brokers: number[] = []
    for (const topic of topicOrder) {
      const leaders = [...new Set([...first.values()].filter((r) => r.topic === topic).map((r) => r.leaderId))].sort(
        (a, b) => a - b,
      )
      for (const leader of leaders) if (!brokers.includes(leader)) brokers.push(leader)
    }
    const metadata: RecordMetadata[] = []
    for (const broker of brokers) {
      for (const topic of topicOrder) {
        const onBroker = [...first.values()]
          .filter((r) => r.topic === topic && r.leaderId === broker)
          .sort((a, b) => a.partition - b.partition)
        for (const r of onBroker) {
          metadata.push({
            topicName: r.topic,
            partition: r.partition,
            errorCode: 0,
            baseOffset: String(r.baseOffset),
            logAppendTime: String(r.logAppendTimeMs),
            logStartOffset: String(r.logStartOffset),
          })
        }
      }
    }
    return metadata
  }

  /**
   * Counts a failed send and, when this client (not the sidecar's report stream) is the one that
   * knows, reports every record of it as failed.
   */
  private failed(
    outgoing: OutgoingMessage[],
    path: PathName,
    error: Error,
    reportHere: boolean,
    partitions: ReadonlyArray<number | null> = [],
  ): void {
    this.count(outgoing, (topic, n) => this.metrics.failed(topic, path, n))
    if (!reportHere || !this.wantsReports()) return
    outgoing.forEach(({ topic, message }, index) => {
      this.deliver({
        topic,
        partition: partitions[index] ?? null,
        offset: null,
        key: message.key ?? null,
        headers: message.headers,
        error,
        path,
      })
    })
  }

  // --- the sidecar path -----------------------------------------------------------------------

  private createSidecarPath(): NonNullable<SidecarProducer['sidecar']> {
    const target = grpcTarget(this.options.address)
    const client = new ProducerSidecarClient(
      target,
      credentials.createInsecure(),
      channelOptions(this.options.livenessTimeoutMs),
    )
    const health = new HealthClient(
      target,
      credentials.createInsecure(),
      channelOptions(this.options.livenessTimeoutMs),
    )
    const metadata = () => {
      const m = new Metadata()
      if (this.options.token) m.set('authorization', `Bearer ${this.options.token}`)
      // How long this client waits for an unanswered ping: the sidecar refuses what it read after
      // a stall only when the stall was long enough for this client to have given up (StallGuard).
      m.set(LIVENESS_HEADER, String(this.options.livenessTimeoutMs))
      return m
    }
    const instanceId = randomUUID()
    const stream = new EmitStream(client, metadata)
    const tracker = new SidecarDeliveryTracker(
      (report) => this.deliver(report),
      this.options.reportTimeoutMs,
      () => this.wantsReports(),
    )
    const coalescer = new Coalescer(
      stream,
      { clientId: this.clientId, appName: this.options.appName ?? this.clientId, instanceId },
      {
        maxRecords: this.options.maxCoalescedRecords,
        maxBytes: this.options.maxCoalescedBytes,
        deadlineMarginMs: this.options.requestTimeoutMarginMs,
        retryBudgetMs: this.options.backpressureRetryMs,
      },
      tracker,
    )
    const reports = new ReportStream(client, metadata, instanceId, {
      onReport: (requestId, result) => tracker.onReport(requestId, result),
      // The acks carry the same results as the reports: report from them what is still open.
      onLost: () => tracker.onGap(),
      onGap: (first, last, reason) => {
        this.log.warn('Delivery reports lost between sequences; using the acks for what is still open', {
          first,
          last,
          reason,
        })
        tracker.onGap()
      },
    })
    const { breaker: b } = this.options
    const breaker: CircuitBreaker<[EmitPart], PartOutcome> = new CircuitBreaker(
      async (part: EmitPart) => {
        if (breaker.halfOpen) await this.probe(client, health)
        else if (this.clusterCheck.askAgain) await this.confirmCluster(client, breaker)
        return coalescer.submit(part)
      },
      {
        timeout: false,
        errorThresholdPercentage: b.errorThresholdPercentage,
        volumeThreshold: b.volumeThreshold,
        resetTimeout: b.resetTimeoutMs,
        rollingCountTimeout: b.rollingCountTimeoutMs,
        // Verdicts on the records (invalid topic, too large, not allowed, full) are not the sidecar failing.
        errorFilter: (error: unknown) => !countsAgainstSidecar(error),
      },
    )
    // opossum opens on a failure share over its rolling window; after thousands of successes a
    // dead sidecar takes seconds to reach that share. A run of consecutive path failures is a
    // clearer signal, so it opens the breaker at once.
    let consecutiveFailures = 0
    breaker.on('success', () => (consecutiveFailures = 0))
    breaker.on('failure', () => {
      this.clusterCheck.pathFailed()
      if (++consecutiveFailures >= b.consecutiveFailures && breaker.closed) breaker.open()
    })
    breaker.on('open', () => this.breakerChanged('open', SIDECAR_EVENTS.BREAKER_OPEN))
    breaker.on('halfOpen', () => this.breakerChanged('half_open', SIDECAR_EVENTS.BREAKER_HALF_OPEN))
    breaker.on('close', () => this.breakerChanged('closed', SIDECAR_EVENTS.BREAKER_CLOSE))
    return { client, health, stream, coalescer, reports, tracker, breaker }
  }

  /** Closes the gRPC channels and the breaker's timers: a producer per job must not leak them. */
  private closeSidecarPath(): void {
    const sidecar = this.sidecar
    if (!sidecar) return
    this.sidecar = null
    sidecar.stream.close()
    sidecar.breaker.shutdown()
    sidecar.client.close()
    sidecar.health.close()
    if (this.idleTimer) clearInterval(this.idleTimer)
    this.idleTimer = null
  }

  /** Once per connect: the options set that sends through the sidecar ignore, and the codecs that keep sends direct. */
  private warnOfSidecarPathLimits(): void {
    for (const { option, reason } of this.ignoredOptions)
      this.log.warn(
        `Option ${option} does not apply to sends through the sidecar (it does to the direct fallback): ${reason}`,
        { option },
      )
    for (const reason of registeredCodecReasons()) this.sayOnce(reason)
  }

  private sayOnce(directReason: string): void {
    if (this.directReasonsSaid.has(directReason)) return
    this.directReasonsSaid.add(directReason)
    this.log.warn(`Sends with ${directReason}; they go directly to Kafka`, { reason: directReason })
  }

  private breakerChanged(state: BreakerState, event: string): void {
    this.metrics.breakerState(state)
    const log = state === 'open' ? this.log.warn : this.log.info
    log.call(this.log, `Sidecar circuit breaker ${state.replace('_', '-')}`, { address: this.options.address })
    this.emit(event, { state })
  }

  /**
   * Before a half-open breaker sends through the sidecar again: is it answering? Every other send
   * waits behind the probe (order across paths), so the probe is bounded by the liveness timeout
   * (or the channel's longest reconnect backoff), not by the send's own `timeout`: a hung sidecar
   * fails it in seconds and the sends go on directly.
   *
   * The channel first gets up to its longest backoff to connect: a call made while it still waits
   * out its backoff from the dead sidecar fails at once with the old error, and the breaker would
   * stay open another resetTimeoutMs although the sidecar is back.
   */
  private async probe(client: ProducerSidecarClient, health: HealthClient): Promise<void> {
    const waitMs = Math.max(PROBE_CONNECT_WAIT_MS, this.options.livenessTimeoutMs)
    const deadline = Date.now() + waitMs
    await channelReady(client, waitMs)
    const serving = await healthCheck(health, Math.max(deadline, Date.now() + MIN_PROBE_CHECK_MS))
    if (!serving)
      throw new SidecarUnavailableError(
        `half-open probe: the sidecar did not answer its health check as serving within ${waitMs} ms`,
        status.UNAVAILABLE,
        false,
      )
    // A restarted sidecar may be pointed elsewhere: asked again before traffic returns to it.
    if (await this.clusterCheck.refuses(client)) {
      throw new SidecarUnavailableError(
        'half-open probe: the sidecar writes to another Kafka cluster than this application (clusterMismatch: refuse)',
        status.FAILED_PRECONDITION,
        false,
      )
    }
  }

  /** After a path failure the sidecar may be a restarted process: one on another cluster is refused until a probe finds it right. */
  private async confirmCluster(
    client: ProducerSidecarClient,
    breaker: CircuitBreaker<[EmitPart], PartOutcome>,
  ): Promise<void> {
    if (!(await this.clusterCheck.refusesAfterPathFailure(client))) return
    breaker.open()
    throw new SidecarUnavailableError(
      'the sidecar writes to another Kafka cluster than this application (clusterMismatch: refuse)',
      status.FAILED_PRECONDITION,
      false,
    )
  }

  private async waitForSidecar(timeoutMs: number): Promise<boolean> {
    const health = this.sidecar!.health
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (await healthCheck(health, Math.min(deadline, Date.now() + 1_000))) return true
      await new Promise((resolve) => setTimeout(resolve, Math.min(100, Math.max(0, deadline - Date.now()))))
    }
    return false
  }

  /** Disconnects the fallback producer once the sidecar path has been healthy and it idle for a while. */
  private startIdleCheck(): void {
    if (this.idleTimer) return
    this.idleTimer = setInterval(
      () => {
        if (
          !this.direct.isConnected ||
          this.transactionsUsed ||
          this.breakerState !== 'closed' ||
          this.direct.inFlight > 0
        )
          return
        if (Date.now() - this.direct.lastUsedAt < this.options.fallbackIdleMs) return
        this.log.info('Disconnecting the fallback direct producer: the sidecar path has been healthy', {
          idleMs: Date.now() - this.direct.lastUsedAt,
        })
        void this.direct
          .disconnect()
          .catch((error: unknown) => this.log.warn('Fallback producer disconnect failed', { error: String(error) }))
      },
      Math.min(IDLE_CHECK_MS, this.options.fallbackIdleMs),
    )
    this.idleTimer.unref()
  }

  // --- events ---------------------------------------------------------------------------------

  private wantsReports(): boolean {
    return this.emitter.listenerCount(SIDECAR_EVENTS.DELIVERY) > 0
  }

  private deliver(report: DeliveryReport): void {
    this.emit(SIDECAR_EVENTS.DELIVERY, report)
  }

  private emit(type: string, payload: unknown): void {
    if (this.emitter.listenerCount(type) === 0) return
    nextEventId = nextEventId >= Number.MAX_SAFE_INTEGER ? 0 : nextEventId + 1
    this.emitter.emit(type, { id: nextEventId, type, timestamp: Date.now(), payload })
  }

  /** As in KafkaJS: a listener's failure (thrown or rejected) is logged and never reaches the producer. */
  /** Per-topic record counts for a metric, computed only when metrics are on. */
  private count(outgoing: readonly OutgoingMessage[], record: (topic: string, n: number) => void): void {
    if (this.metrics.enabled) for (const [topic, n] of countByTopic(outgoing)) record(topic, n)
  }

  private asKafkaJSListener(
    eventName: string,
    listener: (event: InstrumentationEvent<unknown>) => unknown,
  ): (event: InstrumentationEvent<unknown>) => void {
    return (event) => {
      Promise.resolve(listener(event)).catch((error: unknown) => this.logListenerError(eventName, error))
    }
  }

  private guarded(
    eventName: string,
    listener: (event: InstrumentationEvent<unknown>) => unknown,
  ): (event: InstrumentationEvent<unknown>) => void {
    return (event) => {
      try {
        Promise.resolve(listener(event)).catch((error: unknown) => this.logListenerError(eventName, error))
      } catch (error) {
        this.logListenerError(eventName, error)
      }
    }
  }

  private logListenerError(eventName: string, error: unknown): void {
    this.log.error(`Failed to execute listener: ${error instanceof Error ? error.message : String(error)}`, {
      eventName,
      stack: error instanceof Error ? error.stack : undefined,
    })
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

/** Whether the sidecar answers its health check as serving before `deadline`. */
function healthCheck(health: HealthClient, deadline: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    health.check({ service: 'kafka_sidecar.v1.ProducerSidecar' }, new Metadata(), { deadline }, (error, response) =>
      resolve(!error && response?.status === HealthCheckResponse_ServingStatus.SERVING),
    )
  })
}

/** Resolves once the client's channel is connected, or after `waitMs` whatever its state. */
function channelReady(client: ProducerSidecarClient, waitMs: number): Promise<void> {
  return new Promise((resolve) => client.waitForReady(Date.now() + waitMs, () => resolve()))
}

function isOpenBreaker(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === 'EOPENBREAKER'
}

/** KafkaJS acks (-1, 0, 1) as the contract's enum. */
function toProtoAcks(acks: number): number {
  if (acks === 0) return 3
  if (acks === 1) return 2
  return 1
}
