/**
 * Composition root: builds the KafkaJS clients, the pipeline, the metrics wiring and the gRPC and
 * HTTP servers (the Sidecar class), and runs the lifecycle. stop() drains: refuse new requests
 * (clients fall back), flush what is queued within shutdownTimeoutMs while the consumer groups'
 * members revoke their partitions from the processes and leave their groups, fail what is left
 * (reported to its callers), deliver the last reports, then close servers and Kafka connections.
 */
import type { Server as HttpServer } from 'node:http'
import { status, type Server } from '@grpc/grpc-js'
import type { ConsumerSidecarServer, ProducerSidecarServer } from '@kafka-sidecar/proto'
import {
  optionsFromEnv,
  resolveConfigAndSources,
  type ResolvedConfig,
  type SidecarConfig,
  type SidecarOptions,
} from './config.js'
import { SidecarError } from './errors.js'
import type { PartitionOutcome, ProduceRequest } from './model.js'
import { ConsumerGroups } from './consumer/consumer-groups.js'
import { consumerService } from './consumer/consumer-service.js'
import { LagReader } from './consumer/partition-lag.js'
import { TokenAuth } from './grpc/auth.js'
import { bindGrpc, createGrpcServer, removeSocketFile, shutDownGrpc } from './grpc/grpc-server.js'
import { CONSUMER_SERVICE_NAME, HealthState } from './grpc/health-service.js'
import { OpenStreams } from './grpc/open-streams.js'
import { producerService } from './grpc/producer-service.js'
import { StallGuard } from './grpc/stall-guard.js'
import { closeHttp, createHttpServer, listenHttp } from './http-server.js'
import { jsonLogCreator, KafkaClients, type LogCreator } from './kafka/kafka-clients.js'
import { KafkaConnection } from './kafka/kafka-connection.js'
import { kafkaFailureOf } from './kafka/kafka-failure.js'
import { loadKafkaSecurity, type KafkaSecurity } from './kafka/kafka-security.js'
import type { ListenAddress } from './listen-address.js'
import { SidecarMetrics } from './metrics.js'
import {
  codeLabel,
  consumerMeter,
  countAccepted,
  countBatch,
  countRejected,
  countSettled,
  watchGauges,
} from './metrics-wiring.js'
import { DefaultPartitioning } from './partitioning/partitioner.js'
import { TopicMetadataCache } from './partitioning/topic-metadata.js'
import { Dispatcher } from './pipeline/dispatcher.js'
import { MemoryBudget } from './pipeline/memory-budget.js'
import { RecordPipeline } from './pipeline/record-pipeline.js'
import { DeliveryReports } from './reports/delivery-reports.js'

export interface RunningSidecar {
  /** The gRPC address clients use: unix:///path.sock or host:port (the bound port). */
  readonly address: string
  /** host:port of the HTTP endpoints, or null when disabled. */
  readonly httpAddress: string | null
  readonly config: Readonly<SidecarConfig>
  readonly metrics: SidecarMetrics
  /** Resolves once the Kafka producer is connected (readiness). */
  readonly ready: Promise<void>
  /** Graceful shutdown: flush within shutdownTimeoutMs, fail the rest, close. Idempotent. */
  stop(): Promise<ShutdownSummary>
}

export interface ShutdownSummary {
  /** Records failed because they were still queued at the deadline. */
  readonly failedRecords: number
  readonly flushedInTime: boolean
}

export interface StartOptions extends SidecarOptions {
  /** Read KAFKA_* / KAFKA_SIDECAR_* variables too (the CLI does). Default false. */
  readonly fromEnv?: boolean
  /** KafkaJS logCreator for the sidecar's own logs and KafkaJS's. Default: JSON lines to stderr. */
  readonly logCreator?: LogCreator
}

const SHUTDOWN_IN_FLIGHT_GRACE_MS = 1_000
/** How often queued records are checked against their request's timeout. */
const QUEUE_EXPIRY_CHECK_MS = 250
/** After streams are asked to end, how long report readers get to catch up before force. */
const STREAM_DRAIN_MS = 2_000
/** How long a scrape waits for the brokers' offsets for the consumer lag before it shows the last ones. */
const LAG_READ_WAIT_MS = 1_000

export async function startSidecar(options: StartOptions = {}): Promise<RunningSidecar> {
  const { fromEnv = false, logCreator = jsonLogCreator, ...rest } = options
  return startResolvedSidecar(resolveConfigAndSources(fromEnv ? [optionsFromEnv(process.env)] : [], rest), logCreator)
}

/**
 * Starts a sidecar from a resolved configuration (the CLI's, which names options by variable and
 * flag). The files the TLS and SASL options name are read first: a bad one fails the start.
 */
export async function startResolvedSidecar(
  { config, source }: ResolvedConfig,
  logCreator: LogCreator = jsonLogCreator,
): Promise<RunningSidecar> {
  const security = await loadKafkaSecurity(config, source)
  return new Sidecar(config, security, logCreator).start()
}

/** One sidecar: its parts, built in the order they read each other, and its lifecycle. */
class Sidecar {
  private readonly kafka: KafkaClients
  private readonly health: HealthState
  private readonly streams: OpenStreams
  private readonly stallGuard: StallGuard
  private readonly budget: MemoryBudget
  private readonly reports: DeliveryReports
  private readonly metadata: TopicMetadataCache
  private readonly connection: KafkaConnection
  private readonly metrics: SidecarMetrics
  private readonly dispatcher: Dispatcher
  private readonly pipeline: RecordPipeline
  private readonly consumers: ConsumerGroups
  private readonly grpc: Server
  private http: HttpServer | null = null
  private expiry: NodeJS.Timeout | null = null
  private stopping = false
  private stopped: Promise<ShutdownSummary> | null = null

  constructor(
    private readonly config: SidecarConfig,
    security: KafkaSecurity,
    logCreator: LogCreator,
  ) {
    this.kafka = new KafkaClients(config, security, logCreator)
    this.health = new HealthState()
    this.streams = new OpenStreams()
    this.stallGuard = new StallGuard()
    this.budget = new MemoryBudget(config)
    this.reports = new DeliveryReports({
      capacityPerInstance: config.reportsPerInstance,
      instanceIdleMs: config.reportInstanceIdleMs,
    })
    this.metadata = new TopicMetadataCache(this.kafka.topicMetadata, {
      maxAgeMs: config.metadataMaxAgeMs,
      allowAutoTopicCreation: config.allowAutoTopicCreation,
    })
    this.connection = new KafkaConnection(this.kafka, this.health, config, security)
    // The counters first: the dispatcher and the pipeline count into them. The gauges read those
    // parts, so they are watched once the parts exist.
    this.metrics = new SidecarMetrics()
    this.dispatcher = this.createDispatcher()
    this.pipeline = this.createPipeline()
    watchGauges(this.metrics, {
      dispatcher: this.dispatcher,
      budget: this.budget,
      streams: this.streams,
      reports: this.reports,
      connection: this.connection,
      idempotence: this.kafka.idempotence,
    })
    this.consumers = new ConsumerGroups({
      createConsumer: (consumerConfig) => this.kafka.createConsumer(consumerConfig),
      log: this.kafka.log,
      bufferBytesPerPartition: config.consumerBufferBytesPerPartition,
      groupIdleMs: config.consumerGroupIdleMs,
      bufferBytes: config.consumerBufferBytes,
      meter: consumerMeter(this.metrics),
      describeError: (error) => kafkaFailureOf(error, security.secrets()),
      healthChanged: () => this.health.consumerGroupsChanged(),
    })
    this.health.watchConsumerGroups(() => this.consumers.health.problem())
    const lag = new LagReader(this.kafka.admin, LAG_READ_WAIT_MS)
    this.metrics.watchConsumers({
      groups: () => this.consumers.stats(),
      sessions: () => this.consumers.health.sessions(),
      lag: () => lag.read(this.consumers.assignments(), this.connection.connected && !this.stopping),
    })
    this.grpc = createGrpcServer(config, this.createProducerService(), this.health, this.createConsumerService())
  }

  /** Binds the gRPC socket, then HTTP, then connects to Kafka in the background. */
  async start(): Promise<RunningSidecar> {
    const { config, metrics, connection } = this
    const address = await bindGrpc(this.grpc, config.listen)
    const httpAddress = config.http ? await this.serveHttp(config.http) : null
    // Connect in the background, retrying: the sidecar serves health and refuses requests with
    // UNAVAILABLE (clients fall back) until Kafka answers.
    connection.start()
    // Queued records whose request timeout ran out are failed unsent (see Dispatcher.expireQueued).
    this.expiry = setInterval(() => this.dispatcher.expireQueued(), QUEUE_EXPIRY_CHECK_MS)
    this.expiry.unref()
    return { address, httpAddress, config, metrics, ready: connection.ready, stop: () => this.stop() }
  }

  /** Graceful shutdown, once: drain with a deadline, then force. */
  stop(): Promise<ShutdownSummary> {
    this.stopped ??= this.shutDown()
    return this.stopped
  }

  private createDispatcher(): Dispatcher {
    const { metrics, metadata } = this
    return new Dispatcher(
      this.config,
      this.kafka.idempotence,
      this.budget,
      (topic, partition) => metadata.leaderOf(topic, partition),
      {
        onBatch: (records, bytes) => countBatch(metrics, records, bytes),
        onBatchSettled: (_records, error, durationMs) => {
          metrics.batchDuration.observe(durationMs / 1000)
          if (error) this.batchFailed(error)
        },
      },
    )
  }

  private batchFailed(error: SidecarError): void {
    this.kafka.log.warn('batch failed', {
      error: error.message,
      kafkaError: error.kafkaErrorName,
      retriable: error.retriable,
    })
    // A leadership or topic change shows up as a failure: let the next request reload metadata.
    if (error.kafkaErrorName) this.metadata.invalidateAll()
  }

  private createPipeline(): RecordPipeline {
    const { config, metrics, connection } = this
    return new RecordPipeline(
      config,
      this.metadata,
      new DefaultPartitioning(),
      this.budget,
      this.dispatcher,
      this.kafka.idempotence,
      {
        onAccepted: (request, bytes) => countAccepted(metrics, request, bytes),
        onRejected: (request, error) => countRejected(metrics, request, error),
        onSettled: (tracker) =>
          void tracker.settled.then((outcomes) => {
            countSettled(metrics, tracker, outcomes)
            this.publishReports(tracker.request, outcomes)
          }),
      },
      () => connection.connected,
    )
  }

  private publishReports(request: ProduceRequest, outcomes: readonly PartitionOutcome[]): void {
    // Reports are kept per instance; a caller without one has its ack and nothing to resume, and
    // one that reports from the ack has its results there (EmitRequest.reports_from_ack).
    if (request.instanceId === '' || request.reportsFromAck) return
    for (const outcome of outcomes) this.reports.publish(request.instanceId, request.requestId, outcome)
  }

  private createProducerService(): ProducerSidecarServer {
    const { config, metrics, stallGuard } = this
    return producerService(
      {
        pipeline: this.pipeline,
        reports: this.reports,
        metadata: this.metadata,
        cluster: this.kafka.clusterIdentity,
        auth: new TokenAuth(config.token),
        allowedTopics: config.allowedTopics,
        onRequest: (method, code) => metrics.requests.inc({ method, code: codeLabel(code) }),
        stalled: (clientLivenessMs) => stallGuard.refusal(clientLivenessMs),
      },
      this.streams,
    )
  }

  private createConsumerService(): ConsumerSidecarServer {
    const { config } = this
    return consumerService(
      {
        groups: this.consumers,
        defaults: {
          maxRecordsInFlight: config.consumerMaxRecordsInFlight,
          maxBytesInFlight: config.consumerMaxBytesInFlight,
        },
        joinTimeoutMs: config.consumerJoinTimeoutMs,
        auth: new TokenAuth(config.token),
        admin: this.kafka.admin,
      },
      this.streams,
    )
  }

  private async serveHttp(address: ListenAddress): Promise<string> {
    this.http = createHttpServer({
      registry: this.metrics.registry,
      isReady: () => this.readiness(),
      consumersReady: () => this.health.of(CONSUMER_SERVICE_NAME),
    })
    try {
      return await listenHttp(this.http, address)
    } catch (error) {
      // Nothing may stay bound when start fails: the caller has no handle to stop it.
      this.grpc.forceShutdown()
      await removeSocketFile(this.config.listen)
      throw error
    }
  }

  /**
   * The pod's readiness: Kafka connected and not shutting down. A consumer group in trouble is
   * named but does not make the sidecar unready: its producers still work, and an unready sidecar
   * takes the whole pod out of its Services (see /readyz/consumers and docs/consumers.md, "Health").
   */
  private readiness(): { ready: boolean; reason: string } {
    if (this.stopping) return { ready: false, reason: 'shutting down' }
    if (!this.connection.connected) return { ready: false, reason: `not connected to Kafka: ${this.connection.reason}` }
    const consumers = this.health.of(CONSUMER_SERVICE_NAME)
    return { ready: true, reason: consumers.serving ? 'ready' : `ready\nconsumers: ${consumers.reason}` }
  }

  private async shutDown(): Promise<ShutdownSummary> {
    this.refuseNewRequests()
    const [flushedInTime] = await Promise.all([this.flushQueued(), this.stopConsumers()])
    const failedRecords = flushedInTime ? 0 : await this.failUnsent()
    await this.endStreams()
    await this.closeServers()
    this.reports.close()
    await this.kafka.disconnect()
    this.kafka.log.info('stopped', { failedRecords, flushedInTime })
    return { failedRecords, flushedInTime }
  }

  /** Not ready, and new requests are refused with UNAVAILABLE: clients fall back. */
  private refuseNewRequests(): void {
    this.stopping = true
    this.connection.stop()
    this.stallGuard.stop()
    if (this.expiry) clearInterval(this.expiry)
    this.health.set(false, 'shutting down')
    this.pipeline.close('shutting down')
  }

  /**
   * Every group member revokes its partitions from the processes (they finish their batches,
   * commit and release), within shutdownTimeoutMs, then leaves its group.
   */
  private async stopConsumers(): Promise<void> {
    await this.consumers.stopAll(this.config.shutdownTimeoutMs)
  }

  /** Waits for the queues to empty, up to shutdownTimeoutMs; whether they did. */
  private async flushQueued(): Promise<boolean> {
    const deadline = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), this.config.shutdownTimeoutMs).unref(),
    )
    return (await Promise.race([this.dispatcher.whenIdle().then(() => 'idle' as const), deadline])) === 'idle'
  }

  /** Past the deadline: fails what is queued, then what the brokers have not answered; how many records. */
  private async failUnsent(): Promise<number> {
    const queued = this.dispatcher.failQueued(
      new SidecarError({
        grpcCode: status.UNAVAILABLE,
        message: 'sidecar shut down before this record could be sent',
        retriable: true,
      }),
    )
    // Batches already at the brokers get a short grace period; after it their fate is
    // unknown and they are reported failed (retriable) rather than left unanswered.
    await Promise.race([
      this.dispatcher.whenIdle(),
      new Promise((r) => setTimeout(r, SHUTDOWN_IN_FLIGHT_GRACE_MS).unref()),
    ])
    return (
      queued +
      this.dispatcher.failInFlight(
        new SidecarError({
          grpcCode: status.UNAVAILABLE,
          message: 'sidecar shut down while this record awaited the brokers; it may or may not have been written',
          retriable: true,
        }),
      )
    )
  }

  /** Lets settled requests publish their last reports and acks, then ends every stream. */
  private async endStreams(): Promise<void> {
    await new Promise((r) => setImmediate(r))
    this.streams.endAll()
    this.health.endWatches()
  }

  /** gRPC drains for up to STREAM_DRAIN_MS (report readers catch up), then is forced; then HTTP. */
  private async closeServers(): Promise<void> {
    await shutDownGrpc(this.grpc, STREAM_DRAIN_MS)
    await removeSocketFile(this.config.listen)
    if (this.http) await closeHttp(this.http)
  }
}
