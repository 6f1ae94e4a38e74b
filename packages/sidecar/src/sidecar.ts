/**
 * Composition root: builds the KafkaJS producer and admin (and, on first need, the idempotent
 * producer, on the same connections), the pipeline, the gRPC and HTTP servers, and runs the
 * lifecycle. stop() drains: refuse new requests (clients fall back), flush what is queued within
 * shutdownTimeoutMs, fail what is left (reported to its callers), deliver the last reports, then
 * close servers and Kafka connections.
 */
import { chmod, rm, stat } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import type { Server as HttpServer } from 'node:http'
import { Server, ServerCredentials, status } from '@grpc/grpc-js'
import {
  ClusterInfoRequest,
  DeliveryReportsRequest,
  EmitRequest,
  HealthService,
  MAX_REQUEST_BYTES,
  ProducerSidecarService,
  TopicMetadataRequest,
} from '@kafka-sidecar/proto'
import { PROTO_DIR, PROTO_FILES } from '@kafka-sidecar/proto/proto-files'
import { loadSync } from '@grpc/proto-loader'
import { ReflectionService } from '@grpc/reflection'
import { Kafka, logLevel as KafkaLogLevel, Partitioners, type KafkaConfig, type SASLOptions } from 'kafkajs'
import { optionsFromEnv, resolveConfig, type LogLevelName, type SidecarConfig, type SidecarOptions } from './config.js'
import { SidecarError } from './errors.js'
import type { ProduceRequest } from './model.js'
import { TokenAuth } from './grpc/auth.js'
import { guardDeserializers } from './grpc/decode-guard.js'
import { HealthState } from './grpc/health-service.js'
import { OpenStreams } from './grpc/open-streams.js'
import { producerService } from './grpc/producer-service.js'
import { StallGuard } from './grpc/stall-guard.js'
import { unaryMessageCountInterceptor } from './grpc/unary-message-count.js'
import { createHttpServer } from './http-server.js'
import { ClusterIdentity } from './kafka/cluster-identity.js'
import { IdempotentWrites } from './kafka/idempotent-writes.js'
import { KafkaLiveness } from './kafka/kafka-liveness.js'
import { producerAndAdminOnOneCluster } from './kafka/shared-cluster.js'
import { formatListenAddress, type ListenAddress } from './listen-address.js'
import { boundedLabel, SidecarMetrics } from './metrics.js'
import { DefaultPartitioning } from './partitioning/partitioner.js'
import { TopicMetadataCache } from './partitioning/topic-metadata.js'
import { Dispatcher } from './pipeline/dispatcher.js'
import { MemoryBudget } from './pipeline/memory-budget.js'
import { RecordPipeline } from './pipeline/record-pipeline.js'
import { recordSize } from './pipeline/validation.js'
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
  readonly logCreator?: KafkaConfig['logCreator']
}

const LOG_LEVELS: Record<LogLevelName, KafkaLogLevel> = {
  nothing: KafkaLogLevel.NOTHING,
  error: KafkaLogLevel.ERROR,
  warn: KafkaLogLevel.WARN,
  info: KafkaLogLevel.INFO,
  debug: KafkaLogLevel.DEBUG,
}
const KAFKA_RECONNECT_MS = 1_000
const SHUTDOWN_IN_FLIGHT_GRACE_MS = 1_000
/** How often queued records are checked against their request's timeout. */
const QUEUE_EXPIRY_CHECK_MS = 250
/** After streams are asked to end, how long report readers get to catch up before force. */
const STREAM_DRAIN_MS = 2_000

const jsonLogCreator: NonNullable<KafkaConfig['logCreator']> =
  () =>
  ({ namespace, level, label, log }) => {
    const { message, ...extra } = log
    process.stderr.write(
      `${JSON.stringify({ level: label.toLowerCase(), logger: namespace, message, ...extra, levelNumber: level })}\n`,
    )
  }

export async function startSidecar(options: StartOptions = {}): Promise<RunningSidecar> {
  const { fromEnv = false, logCreator = jsonLogCreator, ...rest } = options
  const config = resolveConfig(fromEnv ? [optionsFromEnv(process.env)] : [], rest)

  const sasl: SASLOptions | undefined = config.saslMechanism
    ? ({
        mechanism: config.saslMechanism,
        username: config.saslUsername!,
        password: config.saslPassword!,
      } as SASLOptions)
    : undefined
  const kafka = new Kafka({
    clientId: config.clientId,
    brokers: config.brokers,
    ssl: config.ssl,
    sasl,
    logLevel: LOG_LEVELS[config.logLevel],
    logCreator,
  })
  const log = kafka.logger().namespace('Sidecar')
  // One connection pool for both: the pod's broker connections are the producer's alone.
  const { producer, admin, topicMetadata, createIdempotentProducer } = producerAndAdminOnOneCluster(
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

  // Requests asking for idempotence are written by an idempotent producer, made on first need.
  const idempotence = new IdempotentWrites(producer, config.idempotent, createIdempotentProducer, log)
  const clusterIdentity = new ClusterIdentity(config.brokers, () => admin.describeCluster(), log)
  let kafkaConnected = false
  let stopping = false
  const health = new HealthState()
  const streams = new OpenStreams()
  const stallGuard = new StallGuard()
  const budget = new MemoryBudget(config)
  const reports = new DeliveryReports({
    capacityPerInstance: config.reportsPerInstance,
    instanceIdleMs: config.reportInstanceIdleMs,
  })
  const metadata = new TopicMetadataCache(topicMetadata, {
    maxAgeMs: config.metadataMaxAgeMs,
    allowAutoTopicCreation: config.allowAutoTopicCreation,
  })
  const metrics = new SidecarMetrics({
    queuedRecords: () => dispatcher.queuedRecords,
    queuedBytes: () => budget.bytes,
    batchesInFlight: () => dispatcher.batchesInFlight,
    connectedClients: () => streams.connectedInstances,
    reportSubscribers: () => reports.subscriberCount,
    kafkaConnected: () => kafkaConnected,
    idempotentProducerReady: () => idempotence.ready,
  })
  const dispatcher: Dispatcher = new Dispatcher(
    config,
    idempotence,
    budget,
    (topic, partition) => metadata.leaderOf(topic, partition),
    {
      onBatch(records, bytes) {
        metrics.batchRecords.observe(records)
        metrics.batchBytes.observe(bytes)
      },
      onBatchSettled(_records, error, durationMs) {
        metrics.batchDuration.observe(durationMs / 1000)
        if (error) {
          log.warn('batch failed', {
            error: error.message,
            kafkaError: error.kafkaErrorName,
            retriable: error.retriable,
          })
          // A leadership or topic change shows up as a failure: let the next request reload metadata.
          if (error.kafkaErrorName) metadata.invalidateAll()
        }
      },
    },
  )
  const pipeline = new RecordPipeline(
    config,
    metadata,
    new DefaultPartitioning(),
    budget,
    dispatcher,
    idempotence,
    {
      onAccepted(request, bytes) {
        const app = metrics.apps.admit(request.appName)
        for (const [topic, count] of countByTopic(request)) {
          metrics.records.inc({ app, topic, stage: 'attempted' }, count)
          metrics.records.inc({ app, topic, stage: 'accepted' }, count)
        }
        if (isSingleTopic(request)) metrics.bytes.inc({ app, topic: request.records[0]!.topic }, bytes)
        else for (const [topic, topicBytes] of bytesByTopic(request)) metrics.bytes.inc({ app, topic }, topicBytes)
      },
      onRejected(request, error) {
        metrics.errors.inc({
          code: status[error.grpcCode] ?? String(error.grpcCode),
          kafka_error: error.kafkaErrorName,
        })
        // A refused request's topic may be anything a client sent (an invalid name of any length).
        const app = metrics.apps.admit(request.appName)
        for (const [topic, count] of countByTopic(request)) {
          const label = metrics.refusedTopics.admit(boundedLabel(topic))
          metrics.records.inc({ app, topic: label, stage: 'attempted' }, count)
          metrics.records.inc({ app, topic: label, stage: 'rejected' }, count)
        }
      },
      onSettled(tracker) {
        const { request } = tracker
        void tracker.settled.then((outcomes) => {
          const app = metrics.apps.admit(request.appName)
          metrics.deliveryLatency.observe({ app }, (Date.now() - tracker.acceptedAt) / 1000)
          for (const outcome of outcomes) {
            const stage = outcome.error ? 'failed' : 'acked'
            metrics.records.inc({ app, topic: outcome.topic, stage }, outcome.recordIndexes.length)
            if (outcome.error)
              metrics.errors.inc({
                code: status[outcome.error.grpcCode] ?? String(outcome.error.grpcCode),
                kafka_error: outcome.error.kafkaErrorName,
              })
            // Reports are kept per instance; a caller without one has its ack and nothing to resume.
            if (request.instanceId !== '') reports.publish(request.instanceId, request.requestId, outcome)
          }
        })
      },
    },
    () => kafkaConnected,
  )

  // Requests over maxRequestBytes are refused one by one by the decode guard; grpc-js's own limit
  // (which fails the whole stream) only stops what is far larger, and never what a client of this
  // contract writes (it splits sends into requests of at most MAX_REQUEST_BYTES).
  const server = new Server({
    'grpc.max_receive_message_length': Math.max(
      2 * config.maxRequestBytes,
      config.maxRequestBytes + 4 * 1024 * 1024,
      MAX_REQUEST_BYTES + 4 * 1024 * 1024,
    ),
    // node:http2 answers a broken connection (bad frame, bad HPACK, half a preface) with GOAWAY
    // and leaves the socket to the client; an idle timeout closes such connections too.
    'grpc.max_connection_idle_ms': config.connectionIdleMs,
    interceptors: [unaryMessageCountInterceptor],
  })
  server.addService(
    guardDeserializers(
      ProducerSidecarService,
      {
        emit: { typeName: 'EmitRequest', decode: (reader) => EmitRequest.decode(reader) },
        emitStream: { typeName: 'EmitRequest', decode: (reader) => EmitRequest.decode(reader) },
        deliveryReports: {
          typeName: 'DeliveryReportsRequest',
          decode: (reader) => DeliveryReportsRequest.decode(reader),
        },
        topicMetadata: { typeName: 'TopicMetadataRequest', decode: (reader) => TopicMetadataRequest.decode(reader) },
        clusterInfo: { typeName: 'ClusterInfoRequest', decode: (reader) => ClusterInfoRequest.decode(reader) },
      },
      config.maxRequestBytes,
    ),
    producerService(
      {
        pipeline,
        reports,
        metadata,
        cluster: clusterIdentity,
        auth: new TokenAuth(config.token),
        allowedTopics: config.allowedTopics,
        onRequest: (method, code) => metrics.requests.inc({ method, code: status[code] ?? String(code) }),
        stalled: (clientLivenessMs) => stallGuard.refusal(clientLivenessMs),
      },
      streams,
    ),
  )
  server.addService(HealthService, health.implementation())
  // Server reflection, so grpcurl and similar tools can call the sidecar without the .proto files.
  new ReflectionService(loadSync([...PROTO_FILES], { includeDirs: [PROTO_DIR], keepCase: false })).addToServer(server)
  const address = await bindGrpc(server, config.listen)

  let httpServer: HttpServer | null = null
  let httpAddress: string | null = null
  if (config.http) {
    httpServer = createHttpServer({
      registry: metrics.registry,
      isReady: () =>
        stopping
          ? { ready: false, reason: 'shutting down' }
          : kafkaConnected
            ? { ready: true, reason: 'ready' }
            : { ready: false, reason: 'not connected to Kafka' },
    })
    try {
      httpAddress = await listenHttp(httpServer, config.http)
    } catch (error) {
      // Nothing may stay bound when start fails: the caller has no handle to stop it.
      server.forceShutdown()
      if (config.listen.kind === 'unix') await rm(config.listen.path, { force: true })
      throw error
    }
  }

  // Connect in the background, retrying: the sidecar serves health and refuses requests with
  // UNAVAILABLE (clients fall back) until Kafka answers.
  let reconnectTimer: NodeJS.Timeout | null = null
  const ready = new Promise<void>((resolve) => {
    const connect = () => {
      if (stopping) return
      Promise.all([producer.connect(), admin.connect()]).then(
        () => {
          kafkaConnected = true
          health.set(true)
          log.info('connected to Kafka', { brokers: config.brokers })
          // Known before the first client asks, when the brokers answer; else the liveness probe learns it.
          clusterIdentity
            .refresh()
            .catch((error: unknown) =>
              log.warn('cannot ask the brokers for the cluster id yet', { error: (error as Error).message }),
            )
          resolve()
        },
        (error: unknown) => {
          log.warn('cannot connect to Kafka yet, retrying', { error: (error as Error).message })
          reconnectTimer = setTimeout(connect, KAFKA_RECONNECT_MS).unref()
        },
      )
    }
    connect()
  })
  producer.on(producer.events.DISCONNECT, () => {
    kafkaConnected = false
    health.set(false)
  })
  const liveness = new KafkaLiveness(
    // The probe's answer is the cluster's identity too: kept fresh across reconnects for free.
    () => clusterIdentity.refresh(),
    (up, reason) => {
      if (stopping) return
      kafkaConnected = up
      health.set(up)
      if (up) log.info('Kafka reachable again: ready', { reason })
      else log.error('Kafka unreachable: not ready, refusing requests (clients fall back)', { reason })
    },
    {
      intervalMs: config.kafkaProbeIntervalMs,
      timeoutMs: Math.max(1_000, config.kafkaProbeIntervalMs),
      failuresToDown: 2,
    },
  )
  void ready.then(() => liveness.start())
  // Queued records whose request timeout ran out are failed unsent (see Dispatcher.expireQueued).
  const expiry = setInterval(() => dispatcher.expireQueued(), QUEUE_EXPIRY_CHECK_MS)
  expiry.unref()

  let stopped: Promise<ShutdownSummary> | null = null
  const stop = (): Promise<ShutdownSummary> => {
    stopped ??= (async () => {
      stopping = true
      liveness.stop()
      stallGuard.stop()
      clearInterval(expiry)
      if (reconnectTimer) clearTimeout(reconnectTimer)
      health.set(false)
      pipeline.close('shutting down')
      const deadline = new Promise<'timeout'>((resolve) =>
        setTimeout(() => resolve('timeout'), config.shutdownTimeoutMs).unref(),
      )
      const flushedInTime =
        (await Promise.race([dispatcher.whenIdle().then(() => 'idle' as const), deadline])) === 'idle'
      let failedRecords = flushedInTime
        ? 0
        : dispatcher.failQueued(
            new SidecarError({
              grpcCode: status.UNAVAILABLE,
              message: 'sidecar shut down before this record could be sent',
              retriable: true,
            }),
          )
      if (!flushedInTime) {
        // Batches already at the brokers get a short grace period; after it their fate is
        // unknown and they are reported failed (retriable) rather than left unanswered.
        await Promise.race([
          dispatcher.whenIdle(),
          new Promise((r) => setTimeout(r, SHUTDOWN_IN_FLIGHT_GRACE_MS).unref()),
        ])
        failedRecords += dispatcher.failInFlight(
          new SidecarError({
            grpcCode: status.UNAVAILABLE,
            message: 'sidecar shut down while this record awaited the brokers; it may or may not have been written',
            retriable: true,
          }),
        )
      }
      // Let settled requests publish their last reports and acks, then end every stream.
      await new Promise((r) => setImmediate(r))
      streams.endAll()
      health.endWatches()
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown()
          resolve()
        }, STREAM_DRAIN_MS).unref()
        server.tryShutdown(() => {
          clearTimeout(force)
          resolve()
        })
      })
      if (config.listen.kind === 'unix') await rm(config.listen.path, { force: true })
      if (httpServer) await new Promise<void>((resolve) => httpServer!.close(() => resolve()).closeAllConnections())
      reports.close()
      // One shared cluster: the first disconnect closes every client's connections. The
      // idempotent producer goes first, once a connect still in flight has settled.
      await idempotence.disconnect().catch(() => {})
      await Promise.allSettled([producer.disconnect()])
      log.info('stopped', { failedRecords, flushedInTime })
      return { failedRecords, flushedInTime }
    })()
    return stopped
  }

  return { address, httpAddress, config, metrics, ready, stop }
}

function isSingleTopic(request: ProduceRequest): boolean {
  const first = request.records[0]?.topic
  return request.records.every((r) => r.topic === first)
}

/** Accepted bytes per topic of a multi-topic request (the queue's own per-record size). */
function bytesByTopic(request: ProduceRequest): Map<string, number> {
  const bytes = new Map<string, number>()
  for (const r of request.records) bytes.set(r.topic, (bytes.get(r.topic) ?? 0) + recordSize(r))
  return bytes
}

function countByTopic(request: ProduceRequest): Map<string, number> {
  const counts = new Map<string, number>()
  for (const r of request.records) counts.set(r.topic, (counts.get(r.topic) ?? 0) + 1)
  return counts
}

async function bindGrpc(server: Server, listen: ListenAddress): Promise<string> {
  if (listen.kind === 'unix') await removeStaleSocket(listen.path)
  const target = listen.kind === 'unix' ? `unix:${listen.path}` : formatListenAddress(listen)
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(target, ServerCredentials.createInsecure(), (error, boundPort) =>
      error
        ? reject(new Error(`cannot listen on ${formatListenAddress(listen)}: ${error.message}`))
        : resolve(boundPort),
    ),
  )
  if (listen.kind === 'unix') {
    // Owner and group (the app containers sharing the volume) may connect; nobody else.
    await chmod(listen.path, 0o660)
    return `unix://${listen.path}`
  }
  return formatListenAddress({ ...listen, port })
}

/** A socket file left by a crashed sidecar would make bind fail; remove it, but nothing else. */
async function removeStaleSocket(path: string): Promise<void> {
  const info = await stat(path).catch(() => null)
  if (!info) return
  if (!info.isSocket()) throw new Error(`cannot listen on unix://${path}: a file that is not a socket is in the way`)
  await rm(path)
}

function listenHttp(server: HttpServer, address: ListenAddress): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', (error) =>
      reject(new Error(`cannot serve HTTP on ${formatListenAddress(address)}: ${error.message}`)),
    )
    const onListening = () => {
      const bound = server.address() as AddressInfo | string
      resolve(
        typeof bound === 'string'
          ? `unix://${bound}`
          : formatListenAddress({ kind: 'tcp', host: bound.address, port: bound.port }),
      )
    }
    if (address.kind === 'unix') server.listen(address.path, onListening)
    else server.listen(address.port, address.host, onListening)
  })
}
