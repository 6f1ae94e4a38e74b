/**
 * The consumer `kafka.consumer()` returns in sidecar mode: KafkaJS 2.2.4's Consumer, whose group
 * member is the pod's sidecar. The application's handlers run here, as in KafkaJS, on the batches
 * of the partitions the sidecar gives this process (docs/consumers.md). This class is the API
 * surface and the lifecycle (KafkaJS's consumer/index.js); a run is a GroupSession (offsets,
 * commits, pauses) with a RunLoop (scheduling, retries) over a PartitionRunner (the handlers),
 * fed by the sidecar through a ConsumeTransport.
 */
import { randomUUID } from 'node:crypto'
import type { GroupError, JoinGroup, PauseRequest, Subscription } from '@kafka-sidecar/proto'
import kafkajs from 'kafkajs'
import type {
  Consumer,
  ConsumerConfig,
  ConsumerRunConfig,
  ConsumerSubscribeTopic,
  ConsumerSubscribeTopics,
  GroupDescription,
  Logger,
  RetryOptions,
  TopicPartitionOffset,
  TopicPartitionOffsetAndMetadata,
  TopicOffsets,
  TopicPartitions,
} from 'kafkajs'
import createRetry from 'kafkajs/src/retry/index.js'
import Long from 'kafkajs/src/utils/long.js'
import retryDefaults from 'kafkajs/src/retry/defaults.js'
import { toKafkaJSError } from '../transport/sidecar-errors.js'
import { KAFKAJS_CONSUMER_KEYS, showKafkaJSSurface } from '../producer/kafkajs-surface.js'
import { CommitPolicy, commitSettings } from './commit-policy.js'
import type { ResolvedConsumerOptions } from './consumer-mode.js'
import type { ConsumeTransport } from './consume-transport.js'
import type { ConsumerCluster } from './consumer-cluster.js'
import { ConsumerEvents } from './consumer-events.js'
import type { ConsumerMetrics } from './consumer-metrics.js'
import { DirectFallback } from './direct-fallback.js'
import { groupDescription, groupSettings } from './group-description.js'
import { GroupSession } from './group-session.js'
import { PartitionRunner } from './partition-runner.js'
import { RunLoop } from './run-loop.js'
import { listenTo } from './session-listener.js'
import {
  checkCommitOffsets,
  checkPauseRequests,
  checkSeek,
  checkSubscription,
  NOT_RUNNING_MESSAGE,
} from './validation.js'

const { KafkaJSNonRetriableError } = kafkajs

/** KafkaJS's default sessionTimeout. */
const KAFKAJS_SESSION_TIMEOUT_MS = 30_000
/**
 * Batches of a partition the sidecar may send ahead: the next one travels while this process
 * handles the current one (they still run one at a time). Two hide the round trip of `done`;
 * more would only cut the sidecar's buffer into smaller batches.
 */
const PIPELINED_BATCHES = 2
/** While consuming directly, how long each wait for the sidecar to answer again lasts. */
const SIDECAR_PROBE_MS = 1_000
/** While consuming directly because the sidecar reads another cluster: how often it is asked again. */
const CLUSTER_RECHECK_MS = 5_000
/** The longest wait between two failed starts of the direct consumer. */
const LONGEST_DIRECT_RETRY_MS = 30_000

export interface SidecarConsumerParts {
  /** KafkaJS's consumer for the same config, never connected: its logger, events and checks. */
  readonly kafkajsConsumer: Consumer
  readonly config: ConsumerConfig
  readonly transport: ConsumeTransport
  /** Which cluster the sidecar reads (checked before each join through it), and the spans' cluster id. */
  readonly cluster: ConsumerCluster
  readonly options: ResolvedConsumerOptions
  readonly clientId: string
  readonly appName: string
  readonly connectTimeoutMs: number
  /** KafkaJS's consumer for the same Kafka and config, to be connected: the direct fallback. */
  readonly createDirect: () => Consumer
  /** The consumer's `retry`, over the Kafka-level one, as KafkaJS merges them. */
  readonly retry: RetryOptions & { restartOnFailure?: (error: Error) => Promise<boolean> }
  /** The client's consumer metrics (no-ops unless `sidecarMetrics`). */
  readonly metrics: ConsumerMetrics
}

interface Running {
  readonly session: GroupSession
  readonly loop: RunLoop
}

export class SidecarConsumer implements Consumer {
  readonly events: Consumer['events']
  private readonly parts: SidecarConsumerParts
  private readonly groupId: string
  private readonly log: Logger
  private readonly emitter: ConsumerEvents
  private readonly instanceId = randomUUID()
  /** By topic, or by a regular expression's `/source/flags`: the latest subscribe() of it wins. */
  private readonly subscriptions = new Map<string, Subscription>()
  private running: Running | null = null
  private runConfig: ConsumerRunConfig = {}
  private restartTimer: NodeJS.Timeout | undefined = undefined
  private stopping: Promise<void> | null = null
  /** A start in progress (asking the sidecar's cluster, joining), shared by whoever asks for one meanwhile. */
  private starting: Promise<void> | null = null
  /** How long after a failed direct start the next is tried; doubled each time, reset by a success. */
  private directRetryMs = SIDECAR_PROBE_MS
  private whenAssigned: (() => void) | null = null
  private readonly fallback: DirectFallback
  /** Armed when the stream to the sidecar is lost, disarmed when it joins again: then the fallback. */
  private outageTimer: NodeJS.Timeout | undefined = undefined
  /** Between a start and a stop: what the fallback returns to, and what it must not restart after a stop. */
  private wanted = false

  constructor(parts: SidecarConsumerParts) {
    this.parts = parts
    this.groupId = parts.config.groupId
    this.log = parts.kafkajsConsumer.logger()
    this.events = parts.kafkajsConsumer.events
    this.emitter = new ConsumerEvents(this.log, this.events)
    this.fallback = new DirectFallback({
      create: parts.createDirect,
      forward: (type, payload) => this.emitter.emitFromSidecar(type, payload),
      log: this.log,
    })
    showKafkaJSSurface(this, KAFKAJS_CONSUMER_KEYS)
    parts.metrics.mode('sidecar')
  }

  logger(): Logger {
    return this.log
  }

  /** KafkaJS's `on`: its names, its event shapes; network events are accepted and never come (no broker requests here). */
  readonly on: Consumer['on'] = ((eventName: string, listener: (event: never) => unknown) =>
    this.emitter.listen(eventName, listener as never)) as Consumer['on']

  async connect(): Promise<void> {
    // Without prom-client, asking for metrics fails here, naming the package, as a producer's connect does.
    await this.parts.metrics.ready
    if (!(await this.parts.transport.ready(this.parts.connectTimeoutMs)))
      this.log.warn('The sidecar did not answer in time; this consumer joins once it does', {
        groupId: this.groupId,
        connectTimeoutMs: this.parts.connectTimeoutMs,
      })
    this.emitter.emit('consumer.connect')
  }

  async disconnect(): Promise<void> {
    try {
      await this.stop()
      this.log.debug('consumer has stopped, disconnecting', { groupId: this.groupId })
      this.parts.transport.close()
      this.emitter.emit('consumer.disconnect')
    } catch (error) {
      this.log.error(`Caught error when disconnecting the consumer: ${(error as Error).message}`, {
        stack: (error as Error).stack,
        groupId: this.groupId,
      })
      throw error
    }
  }

  /** Shared by concurrent callers, as KafkaJS's. */
  stop(): Promise<void> {
    this.stopping ??= this.stopNow().finally(() => (this.stopping = null))
    return this.stopping
  }

  private async stopNow(): Promise<void> {
    try {
      this.wanted = false
      clearTimeout(this.outageTimer)
      this.outageTimer = undefined
      if (this.fallback.active) {
        await this.fallback.stop()
        this.emitter.emit('consumer.stop')
      }
      const running = this.running
      if (running) {
        await running.loop.stop()
        await running.session.commitsSettled()
        running.session.end()
        await this.parts.transport.leave()
        this.running = null
        this.emitter.emit('consumer.stop')
      }
      clearTimeout(this.restartTimer)
      this.log.info('Stopped', { groupId: this.groupId })
    } catch (error) {
      this.log.error(`Caught error when stopping the consumer: ${(error as Error).message}`, {
        stack: (error as Error).stack,
        groupId: this.groupId,
      })
      throw error
    }
  }

  async subscribe(subscription: ConsumerSubscribeTopics | ConsumerSubscribeTopic): Promise<void> {
    if (this.running) throw new KafkaJSNonRetriableError('Cannot subscribe to topic while consumer is running')
    const { subscriptions, fromBeginning } = checkSubscription(subscription)
    for (const s of subscriptions) {
      if (typeof s === 'string')
        this.subscriptions.set(s, { topicOrPattern: { $case: 'topic', value: s }, fromBeginning })
      else
        this.subscriptions.set(`/${s.source}/${s.flags}`, {
          topicOrPattern: { $case: 'pattern', value: { source: s.source, flags: s.flags } },
          fromBeginning,
        })
    }
  }

  async run(config: ConsumerRunConfig = {}): Promise<void> {
    if (this.running || this.fallback.active || this.starting) {
      this.log.warn('consumer#run was called, but the consumer is already running', { groupId: this.groupId })
      return
    }
    this.runConfig = config
    await this.start()
  }

  /** KafkaJS's start(): a new session joins; resolves at its first assignment (or after a crash). */
  private start(): Promise<void> {
    this.starting ??= this.startNow().finally(() => (this.starting = null))
    return this.starting
  }

  private async startNow(): Promise<void> {
    this.wanted = true
    this.log.info('Starting', { groupId: this.groupId })
    const refuses = await this.parts.cluster.refuses()
    // stop() or disconnect() while the sidecar was asked: nothing starts.
    if (!this.wanted || this.running || this.fallback.active) return
    if (refuses) return this.consumeDirectly()
    this.parts.cluster.readingFromSidecar(true)
    const policy = new CommitPolicy(commitSettings(this.runConfig))
    const heartbeatInterval = this.parts.config.heartbeatInterval ?? 3_000
    const session = new GroupSession(
      { groupId: this.groupId, heartbeatInterval },
      this.parts.transport,
      this.emitter,
      policy,
      this.parts.metrics,
    )
    const loop = this.runLoopFor(session)
    const running: Running = { session, loop }
    this.running = running
    const assigned = new Promise<void>((resolve) => (this.whenAssigned = resolve))
    try {
      this.emitter.emit('consumer.connect')
    } catch (error) {
      await this.crash(error as Error)
      return
    }
    this.parts.transport.join(
      this.joinMessage(),
      listenTo(session, loop, {
        groupId: this.groupId,
        events: this.emitter,
        log: this.log,
        assignedOnce: () => this.assignedOnce(),
        groupFailed: (error) => this.onGroupError(running, error),
        isCurrent: () => this.running === running,
        streamLost: () => this.outageBegan(running),
        streamJoined: () => {
          clearTimeout(this.outageTimer)
          this.outageTimer = undefined
        },
      }),
    )
    loop.start()
    await assigned
  }

  /** The stream to the sidecar is lost: with a fallback time, consume directly once it has passed. */
  private outageBegan(running: Running): void {
    const { fallbackAfterMs } = this.parts.options
    if (fallbackAfterMs === 0 || this.outageTimer !== undefined) return
    // Not unref'd: the consumer is waiting to consume, as KafkaJS's retries keep a process too.
    this.outageTimer = setTimeout(() => void this.fallBack(running), fallbackAfterMs)
  }

  /**
   * No sidecar for `fallbackAfterMs`: the sidecar session ends (its partitions were given away
   * with the stream), and the process joins the group directly until the sidecar answers again.
   */
  private async fallBack(running: Running): Promise<void> {
    this.outageTimer = undefined
    if (this.running !== running || !this.wanted) return
    this.log.warn('No sidecar: this consumer joins its group directly until the sidecar answers again', {
      groupId: this.groupId,
      fallbackAfterMs: this.parts.options.fallbackAfterMs,
    })
    this.running = null
    await running.loop.stop()
    await running.session.commitsSettled()
    running.session.end()
    await this.parts.transport.leave()
    await this.consumeDirectly()
  }

  /**
   * Joins the group directly (the outage fallback, or a sidecar reading another cluster with
   * `clusterMismatch: 'refuse'`) until the sidecar answers again and reads the application's cluster.
   */
  private async consumeDirectly(): Promise<void> {
    if (!this.wanted || this.fallback.active) return
    this.parts.cluster.readingFromSidecar(false)
    try {
      await this.fallback.start([...this.subscriptions.values()], this.runConfig)
    } catch {
      // Not at once: a sidecar refused for its cluster would be asked again, and refused again, in
      // a loop; and brokers that cannot be reached are tried less and less often, as KafkaJS's retries.
      if (this.wanted) this.restartTimer = setTimeout(() => void this.start(), this.directRetryMs)
      this.directRetryMs = Math.min(this.directRetryMs * 2, LONGEST_DIRECT_RETRY_MS)
      return
    }
    this.directRetryMs = SIDECAR_PROBE_MS
    this.assignedOnce()
    void this.returnWhenSidecarAnswers()
  }

  /** While direct: once the sidecar answers, the direct consumer stops after its batch and commits; then rejoin. */
  private async returnWhenSidecarAnswers(): Promise<void> {
    while (this.fallback.active && !(await this.sidecarServes()));
    if (!this.fallback.active) return
    this.log.info('The sidecar answers again: the direct consumer stops, this consumer rejoins through the sidecar', {
      groupId: this.groupId,
    })
    await this.fallback.stop()
    if (this.wanted && !this.running) void this.start()
  }

  /**
   * Whether the sidecar would take this consumer back: it answers a describeGroup (so the token
   * is right, it is not shutting down, and it reaches Kafka), not only the connection. A sidecar
   * that refuses would otherwise be tried, and left, at every fallback time: two rebalances each.
   */
  private async sidecarServes(): Promise<boolean> {
    const { transport, cluster } = this.parts
    if (!(await transport.ready(SIDECAR_PROBE_MS))) return false
    const answers = await transport.describeGroup(this.groupId).then(
      () => true,
      () => false,
    )
    // A ClusterInfo that fails now keeps the verdict that sent this consumer direct: one failed
    // call must not take it back to a sidecar found on another cluster (two rebalances).
    if (answers && !(await cluster.refuses({ keepVerdictOnFailure: true }))) return true
    // Unref'd: the direct consumer keeps the process alive while it runs, this wait must not after it.
    await new Promise((resolve) => setTimeout(resolve, answers ? CLUSTER_RECHECK_MS : SIDECAR_PROBE_MS).unref())
    return false
  }

  private assignedOnce(): void {
    this.whenAssigned?.()
    this.whenAssigned = null
  }

  private runLoopFor(session: GroupSession): RunLoop {
    const { eachMessage = null, eachBatch = null, eachBatchAutoResolve = true } = this.runConfig
    let loop: RunLoop | null = null
    const runner = new PartitionRunner(
      { eachMessage, eachBatch, eachBatchAutoResolve },
      session,
      this.emitter,
      this.log,
      () => loop?.isRunning ?? false,
      this.parts.metrics,
    )
    const logError = (error: unknown) =>
      this.log.error('Could not commit for a partition being given up or moved', {
        groupId: this.groupId,
        error: (error as Error).message,
      })
    loop = new RunLoop({
      runner,
      concurrency: this.runConfig.partitionsConsumedConcurrently ?? 1,
      retry: this.parts.retry,
      batchOver: (owned, delivered) => session.batchOver(owned, delivered, logError),
      isCurrent: (owned, delivered) => session.runs(owned, delivered),
      onCrash: (error) => void this.crash(error),
    })
    session.onBackgroundCommitError = (error) => loop.fail(error)
    return loop
  }

  private joinMessage(): JoinGroup {
    const { options } = this.parts
    return {
      groupId: this.groupId,
      instanceId: this.instanceId,
      clientId: this.parts.clientId,
      appName: this.parts.appName,
      subscriptions: [...this.subscriptions.values()],
      settings: groupSettings(this.parts.config),
      // KafkaJS's session: a process silent this long (a handler stuck) loses its partitions.
      processTimeoutMs: options.processTimeoutMs || (this.parts.config.sessionTimeout ?? KAFKAJS_SESSION_TIMEOUT_MS),
      maxRecordsInFlight: options.maxRecordsInFlight,
      maxBytesInFlight: options.maxBytesInFlight,
      maxBatchesPerPartition: PIPELINED_BATCHES,
    }
  }

  /** The sidecar's member failed: with `restarting` it rejoins by itself; else this consumer crashes. */
  private onGroupError(running: Running, groupError: GroupError): void {
    const error = toKafkaJSError(
      groupError.error ?? {
        grpcCode: 13,
        message: 'group error',
        kafkaErrorCode: 0,
        kafkaErrorName: '',
        retriable: true,
        retryAfterMs: 0,
      },
    )
    if (groupError.restarting) {
      this.log.error(`Crash: ${error.name}: ${error.message}`, { groupId: this.groupId, restartedBy: 'sidecar' })
      this.emitter.emitFromSidecar('consumer.crash', { error, groupId: this.groupId, restart: true })
      return
    }
    void running.loop.stop().then(() => this.crash(error))
  }

  /** KafkaJS's onCrash: disconnect, decide and announce a restart (CRASH), restart after a while. */
  private async crash(error: Error & { retryCount?: number; retryTime?: number }): Promise<void> {
    this.log.error(`Crash: ${error.name}: ${error.message}`, {
      groupId: this.groupId,
      retryCount: error.retryCount,
      stack: error.stack,
    })
    await this.disconnect().catch(() => {})
    const restart = await this.shouldRestart(error)
    this.emitter.emitFromSidecar('consumer.crash', { error, groupId: this.groupId, restart })
    this.assignedOnce()
    if (!restart) return
    const retryTime = error.retryTime || this.parts.retry.initialRetryTime || retryDefaults.initialRetryTime
    this.log.error(`Restarting the consumer in ${retryTime}ms`, {
      retryCount: error.retryCount,
      retryTime,
      groupId: this.groupId,
    })
    // Not unref'd: KafkaJS's restart timer keeps the process alive too.
    this.restartTimer = setTimeout(() => void this.start(), retryTime)
  }

  private async shouldRestart(error: Error): Promise<boolean> {
    // KafkaJS's getOriginalCause: the innermost cause decides.
    let cause = error as { cause?: unknown; retriable?: unknown }
    while (cause.cause) cause = cause.cause as typeof cause
    const retriable = error.name === 'KafkaJSNumberOfRetriesExceeded' || cause.retriable === true
    if (!retriable) return false
    const { restartOnFailure } = this.parts.retry
    if (!restartOnFailure) return true
    return restartOnFailure(error).catch((callbackError: Error) => {
      this.log.error(
        'Caught error when invoking user-provided "restartOnFailure" callback. Defaulting to restarting.',
        {
          error: callbackError.message || callbackError,
          cause: error.message || error,
          groupId: this.groupId,
        },
      )
      return true
    })
  }

  async commitOffsets(offsets: TopicPartitionOffsetAndMetadata[] = []): Promise<void> {
    const direct = this.fallback.running
    if (direct) return direct.commitOffsets(offsets)
    const requests = checkCommitOffsets(offsets)
    const running = this.requireRunning()
    if (!running.loop.isRunning) {
      this.log.debug('consumer not running, exiting', { groupId: this.groupId, offsets })
      return
    }
    await createRetry(this.parts.retry)(async (bail) => {
      try {
        await running.session.commitGiven(requests, commitOffsetsEventTopics(offsets))
      } catch (error) {
        if (!running.loop.isRunning) return
        if ((error as Error).name === 'KafkaJSNotImplemented') return bail(error as Error)
        throw error
      }
    })
  }

  seek({ topic, partition, offset }: TopicPartitionOffset): void {
    const direct = this.fallback.running
    if (direct) return direct.seek({ topic, partition, offset })
    const value = checkSeek({ topic, partition, offset })
    const running = this.requireRunning()
    running.session.seek(topic, partition, value, (error) =>
      this.log.error('Could not commit the seek offset', { topic, partition, error: (error as Error).message }),
    )
  }

  async describeGroup(): Promise<GroupDescription> {
    const direct = this.fallback.running
    if (direct) return direct.describeGroup()
    return createRetry(this.parts.retry)(async () =>
      groupDescription(await this.parts.transport.describeGroup(this.groupId)),
    )
  }

  pause(topicPartitions: Array<{ topic: string; partitions?: number[] }> = []): void {
    const direct = this.fallback.running
    if (direct) return direct.pause(topicPartitions)
    const requests = checkPauseRequests(topicPartitions as PauseRequest[], 'pause')
    const running = this.requireRunning()
    this.log.info(`Pausing fetching from ${requests.length} topics`, { topicPartitions: requests })
    running.session.pause(requests)
  }

  paused(): TopicPartitions[] {
    const direct = this.fallback.running
    if (direct) return direct.paused()
    if (!this.running) return []
    const { session } = this.running
    return session.paused.pausedAmong(session.ownerships.assigned())
  }

  resume(topicPartitions: Array<{ topic: string; partitions?: number[] }> = []): void {
    const direct = this.fallback.running
    if (direct) return direct.resume(topicPartitions)
    const requests = checkPauseRequests(topicPartitions as PauseRequest[], 'resume')
    const running = this.requireRunning()
    this.log.info(`Resuming fetching from ${requests.length} topics`, { topicPartitions: requests })
    running.session.resume(requests)
  }

  private requireRunning(): Running {
    if (!this.running) throw new KafkaJSNonRetriableError(NOT_RUNNING_MESSAGE)
    return this.running
  }
}

/**
 * How KafkaJS's COMMIT_OFFSETS lists a commitOffsets() call: by topic in first-seen order, each
 * partition as the application gave it, its offset as a Long, its metadata (null by default).
 */
function commitOffsetsEventTopics(offsets: readonly TopicPartitionOffsetAndMetadata[]): TopicOffsets[] {
  const byTopic = new Map<string, TopicOffsets>()
  for (const { topic, partition, offset, metadata = null } of offsets) {
    const entry = byTopic.get(topic) ?? { topic, partitions: [] }
    entry.partitions.push({ partition, offset: Long.fromValue(offset), metadata } as never)
    byTopic.set(topic, entry)
  }
  return [...byTopic.values()]
}
