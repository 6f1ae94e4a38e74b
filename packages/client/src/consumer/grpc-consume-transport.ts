/**
 * The consume transport over the wire: ConsumerSidecar's Consume stream on a grpc-js channel to
 * the pod's sidecar, set up as the producer's (sidecar-path.ts: channel options with HTTP/2
 * keepalive pings, the token and liveness headers, the address). Nothing here decides anything
 * about consuming: it writes requests, hands events to the listener, says `alive` on a timer while
 * the run loop progresses, and when the stream breaks opens a new one after a backoff and sends the
 * same join again (not while a handler is stuck: KafkaJS rejoins only from its runner either).
 */
import { credentials, status, type ChannelOptions, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js'
import {
  ConsumerSidecarClient,
  ProducerSidecarClient,
  type ConsumeEvent,
  type ConsumeRequest,
  type DescribeGroupResponse,
  type JoinGroup,
} from '@kafka-sidecar/proto'
import kafkajs from 'kafkajs'
import { grpcTarget, type ResolvedSidecarOptions } from '../options.js'
import { channelOptions, requestMetadata } from '../transport/sidecar-path.js'
import type { ConsumeListener, ConsumeTransport } from './consume-transport.js'

/** First wait before opening a broken stream again, doubled each time up to the longest. */
const FIRST_REJOIN_DELAY_MS = 100
const LONGEST_REJOIN_DELAY_MS = 2_000
/** The sidecar's default process timeout, when the join leaves it to the sidecar (0). */
const DEFAULT_PROCESS_TIMEOUT_MS = 30_000
/** How long leave() waits for the sidecar to end the stream before it cancels it. */
const LEAVE_TIMEOUT_MS = 5_000
const DESCRIBE_GROUP_TIMEOUT_MS = 30_000

/**
 * HTTP/2's receive window of the Consume stream's channel. At the default (64 KiB) a batch of a
 * backlog (1.3 MB for 9,500 records) went out 64 KiB per turn of the sidecar's event loop, which
 * was busy decoding fetches in between: 0.4 to 1.5 s per batch. The sidecar's default
 * max_bytes_in_flight (16 MiB) bounds what is in flight; the window matches it.
 */
const FLOW_CONTROL_WINDOW_BYTES = 16 * 1024 * 1024
/**
 * How long a keepalive ping of the Consume channel may go unanswered before the connection is
 * declared dead. The producers' (three quarters of livenessTimeoutMs, 1.5 s) is for moving sends
 * to the direct path within seconds; a consumer has nothing to move to (the fallback waits a
 * minute or more), and a dropped stream costs every partition of the process (moved to others,
 * records redelivered). A sidecar busy with a backlog on two loaded cores left pings unanswered
 * for 1.5 s and every consumer dropped its stream. The sidecar waits as long for a silent process.
 */
const KEEPALIVE_TIMEOUT_MS = 20_000

function consumeChannelOptions(livenessTimeoutMs: number): ChannelOptions {
  const options = channelOptions(livenessTimeoutMs)
  return {
    ...options,
    'grpc.keepalive_timeout_ms': Math.max(options['grpc.keepalive_timeout_ms'] ?? 0, KEEPALIVE_TIMEOUT_MS),
    'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW_BYTES,
  }
}

type Request = NonNullable<ConsumeRequest['request']>

export class GrpcConsumeTransport implements ConsumeTransport {
  private client: ConsumerSidecarClient | null = null
  private clusterInfoClient: ProducerSidecarClient | null = null
  private call: ClientDuplexStream<ConsumeRequest, ConsumeEvent> | null = null
  private joining: { join: JoinGroup; listener: ConsumeListener } | null = null
  private aliveTimer: NodeJS.Timeout | undefined = undefined
  private rejoinTimer: NodeJS.Timeout | undefined = undefined
  private rejoinDelayMs = FIRST_REJOIN_DELAY_MS

  constructor(private readonly options: Pick<ResolvedSidecarOptions, 'address' | 'token' | 'livenessTimeoutMs'>) {}

  /** Made on first use and again after close(), so a consumer restarted after a crash gets a channel. */
  private channel(): ConsumerSidecarClient {
    this.client ??= new ConsumerSidecarClient(
      grpcTarget(this.options.address),
      credentials.createInsecure(),
      consumeChannelOptions(this.options.livenessTimeoutMs),
    )
    return this.client
  }

  /** ClusterInfo is the ProducerSidecar service's call: a client of it on the same channel (no second connection). */
  clusterClient(): ProducerSidecarClient {
    this.clusterInfoClient ??= new ProducerSidecarClient(
      grpcTarget(this.options.address),
      credentials.createInsecure(),
      {
        channelOverride: this.channel().getChannel(),
      },
    )
    return this.clusterInfoClient
  }

  ready(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => this.channel().waitForReady(Date.now() + timeoutMs, (error) => resolve(!error)))
  }

  join(join: JoinGroup, listener: ConsumeListener): void {
    this.joining = { join, listener }
    this.rejoinDelayMs = FIRST_REJOIN_DELAY_MS
    this.open()
  }

  private open(): void {
    const joining = this.joining
    if (!joining) return
    if (this.stuck(joining)) {
      // Its partitions would wait behind the stuck handler and be taken again at the process timeout.
      this.rejoinTimer = setTimeout(() => this.open(), LONGEST_REJOIN_DELAY_MS)
      return
    }
    const call = this.channel().consume(requestMetadata(this.options))
    this.call = call
    call.on('data', (event: ConsumeEvent) => this.dispatch(event, joining.listener))
    // 'error' comes before 'end' when the stream fails; either way the stream is over once.
    let over = false
    const ended = (error: Error | null) => {
      if (over) return
      over = true
      this.streamEnded(call, error)
    }
    call.on('error', (error: ServiceError) => ended(error))
    call.on('end', () => ended(null))
    call.write({ request: { $case: 'join', value: joining.join } })
    this.startAliveTimer(joining)
  }

  /** A batch has been in its handler without any progress for the process timeout. */
  private stuck({ join, listener }: { join: JoinGroup; listener: ConsumeListener }): boolean {
    const since = listener.lastProgress()
    return since !== null && Date.now() - since >= (join.processTimeoutMs || DEFAULT_PROCESS_TIMEOUT_MS)
  }

  private dispatch(event: ConsumeEvent, listener: ConsumeListener): void {
    const e = event.event
    if (!e) return
    switch (e.$case) {
      case 'joined':
        this.rejoinDelayMs = FIRST_REJOIN_DELAY_MS
        return listener.joined(e.value)
      case 'assigned':
        return listener.assigned(e.value)
      case 'revoke':
        return listener.revoke(e.value)
      case 'batch':
        return listener.batch(e.value)
      case 'commitResult':
        return listener.commitResult(e.value)
      case 'groupError':
        return listener.groupError(e.value)
    }
  }

  /** A stream this transport did not end itself broke: join again on a new one, after a backoff. */
  private streamEnded(call: ClientDuplexStream<ConsumeRequest, ConsumeEvent>, error: Error | null): void {
    if (this.call !== call) return
    this.call = null
    clearInterval(this.aliveTimer)
    const joining = this.joining
    if (!joining) return
    joining.listener.closed(error ?? new Error('the sidecar ended the stream'), true)
    const delay = this.rejoinDelayMs
    this.rejoinDelayMs = Math.min(delay * 2, LONGEST_REJOIN_DELAY_MS)
    // Not unref'd: a consumer waiting for its sidecar must keep the process, as KafkaJS's retries do.
    this.rejoinTimer = setTimeout(() => this.open(), delay)
  }

  /**
   * Any message tells the sidecar this process lives; `alive` is for the quiet times, and says
   * only what KafkaJS's heartbeats say: the run loop moved since the last tick, or waits for
   * records. A handler stuck for the process timeout (plus at most a tick) loses its partitions.
   */
  private startAliveTimer({ join, listener }: { join: JoinGroup; listener: ConsumeListener }): void {
    clearInterval(this.aliveTimer)
    let lastTick = Date.now()
    const processTimeoutMs = join.processTimeoutMs || DEFAULT_PROCESS_TIMEOUT_MS
    this.aliveTimer = setInterval(
      () => {
        const since = listener.lastProgress()
        if (since === null || since >= lastTick) this.alive()
        lastTick = Date.now()
      },
      Math.max(100, Math.floor(processTimeoutMs / 3)),
    )
    this.aliveTimer.unref()
  }

  /** Written only on a stream that is open: what concerns a lost stream's partitions is void anyway. */
  private send(request: Request): void {
    this.call?.write({ request })
  }

  progress: ConsumeTransport['progress'] = (value) => this.send({ $case: 'progress', value })
  done: ConsumeTransport['done'] = (value) => this.send({ $case: 'done', value })
  commit: ConsumeTransport['commit'] = (value) => this.send({ $case: 'commit', value })
  seek: ConsumeTransport['seek'] = (value) => this.send({ $case: 'seek', value })
  pause: ConsumeTransport['pause'] = (value) => this.send({ $case: 'pause', value })
  resume: ConsumeTransport['resume'] = (value) => this.send({ $case: 'resume', value })
  released: ConsumeTransport['released'] = (value) => this.send({ $case: 'released', value })
  alive: ConsumeTransport['alive'] = () => this.send({ $case: 'alive', value: {} })

  leave(): Promise<void> {
    const joining = this.joining
    this.joining = null
    clearTimeout(this.rejoinTimer)
    clearInterval(this.aliveTimer)
    const call = this.call
    this.call = null
    if (!call) {
      joining?.listener.closed(null, false)
      return Promise.resolve()
    }
    return new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer)
        joining?.listener.closed(null, false)
        resolve()
      }
      const timer = setTimeout(() => call.cancel(), LEAVE_TIMEOUT_MS)
      timer.unref()
      call.on('close', finish)
      call.on('error', () => {}) // a cancelled or refused leave ends the same way
      call.write({ request: { $case: 'leave', value: {} } })
      call.end()
    })
  }

  describeGroup(groupId: string): Promise<DescribeGroupResponse> {
    return new Promise((resolve, reject) => {
      this.channel().describeGroup(
        { groupId },
        requestMetadata(this.options),
        { deadline: Date.now() + DESCRIBE_GROUP_TIMEOUT_MS },
        (error, response) => (error ? reject(describeGroupError(error)) : resolve(response)),
      )
    })
  }

  close(): void {
    this.joining = null
    clearTimeout(this.rejoinTimer)
    clearInterval(this.aliveTimer)
    this.call?.cancel()
    this.call = null
    this.client?.close()
    this.client = null
    this.clusterInfoClient = null
  }
}

/** The sidecar could not answer: retriable, as KafkaJS's connection errors are, so its retrier retries. */
function describeGroupError(error: ServiceError): Error {
  const retriable = error.code === status.UNAVAILABLE || error.code === status.DEADLINE_EXCEEDED
  return retriable
    ? new kafkajs.KafkaJSConnectionError(`Sidecar describeGroup failed: ${error.details || error.message}`)
    : new kafkajs.KafkaJSNonRetriableError(`Sidecar describeGroup failed: ${error.details || error.message}`)
}
