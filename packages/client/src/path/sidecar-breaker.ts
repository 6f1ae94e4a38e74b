/**
 * The circuit breaker in front of the sidecar path (opossum). Path failures (transport,
 * UNAVAILABLE, no answer in time) count against the sidecar; verdicts on the records or the
 * producer do not. While it is open, sends go directly to Kafka; after `resetTimeoutMs` one send
 * probes the sidecar (half-open), asking first whether it is serving and which cluster it
 * writes to.
 */
import { status } from '@grpc/grpc-js'
import type { Logger } from 'kafkajs'
import CircuitBreaker from 'opossum'
import { SIDECAR_EVENTS, type BreakerState, type ProducerEvents } from '../events.js'
import type { ProducerMetrics } from '../metrics.js'
import type { ResolvedSidecarOptions } from '../options.js'
import type { OutgoingSend } from '../producer/messages.js'
import { toEmitPart, type EmitPart, type PartOutcome, type ProducerFlags } from '../transport/emit-part.js'
import { countsAgainstSidecar, SidecarUnavailableError } from '../transport/sidecar-errors.js'
import type { SidecarPath } from '../transport/sidecar-path.js'
import type { SidecarClusterCheck } from './cluster-check.js'

/** How long a half-open probe waits for the channel to connect: its longest reconnect backoff, and a margin. */
const PROBE_CONNECT_WAIT_MS = 1_500
/** A probe's health check gets at least this long once the channel is connected. */
const MIN_PROBE_CHECK_MS = 200

/** What the breaker tells as its state changes, besides its own log lines. */
export interface BreakerWatchers {
  readonly clusterCheck: SidecarClusterCheck
  readonly metrics: ProducerMetrics
  readonly events: ProducerEvents
  readonly log: Logger
}

export class SidecarBreaker {
  private readonly breaker: CircuitBreaker<[EmitPart], PartOutcome>
  private consecutiveFailures = 0

  constructor(
    readonly path: SidecarPath,
    private readonly options: ResolvedSidecarOptions,
    private readonly watchers: BreakerWatchers,
    /** The producer's settings every part of it carries. */
    private readonly flags: ProducerFlags,
  ) {
    const b = options.breaker
    this.breaker = new CircuitBreaker((part: EmitPart) => this.attempt(part), {
      timeout: false,
      errorThresholdPercentage: b.errorThresholdPercentage,
      volumeThreshold: b.volumeThreshold,
      resetTimeout: b.resetTimeoutMs,
      rollingCountTimeout: b.rollingCountTimeoutMs,
      // Verdicts on the records (invalid topic, too large, not allowed, full) are not the sidecar failing.
      errorFilter: (error: unknown) => !countsAgainstSidecar(error),
    })
    // opossum opens on a failure share over its rolling window; after thousands of successes a
    // dead sidecar takes seconds to reach that share. A run of consecutive path failures is a
    // clearer signal, so it opens the breaker at once.
    this.breaker.on('success', () => (this.consecutiveFailures = 0))
    this.breaker.on('failure', () => {
      watchers.clusterCheck.pathFailed()
      if (++this.consecutiveFailures >= b.consecutiveFailures && this.breaker.closed) this.breaker.open()
    })
    this.breaker.on('open', () => this.changed('open', SIDECAR_EVENTS.BREAKER_OPEN))
    this.breaker.on('halfOpen', () => this.changed('half_open', SIDECAR_EVENTS.BREAKER_HALF_OPEN))
    this.breaker.on('close', () => this.changed('closed', SIDECAR_EVENTS.BREAKER_CLOSE))
  }

  /** Sends `send` through the sidecar as an EmitPart, or rejects at once while the breaker is open (EOPENBREAKER). */
  fire(send: OutgoingSend): Promise<PartOutcome> {
    return this.breaker.fire(toEmitPart(send, this.flags))
  }

  get state(): BreakerState {
    return this.breaker.opened ? 'open' : this.breaker.halfOpen ? 'half_open' : 'closed'
  }

  get opened(): boolean {
    return this.breaker.opened
  }

  open(): void {
    this.breaker.open()
  }

  /** Closes the breaker's timers and the path: a producer per job must not leak them. */
  close(): void {
    this.breaker.shutdown()
    this.path.close()
  }

  private async attempt(part: EmitPart): Promise<PartOutcome> {
    if (this.breaker.halfOpen) await this.probe()
    else if (this.watchers.clusterCheck.askAgain) await this.confirmCluster()
    return this.path.submit(part)
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
  private async probe(): Promise<void> {
    const waitMs = Math.max(PROBE_CONNECT_WAIT_MS, this.options.livenessTimeoutMs)
    const deadline = Date.now() + waitMs
    await this.path.channelReady(waitMs)
    const serving = await this.path.isServing(Math.max(deadline, Date.now() + MIN_PROBE_CHECK_MS))
    if (!serving)
      throw new SidecarUnavailableError(
        `half-open probe: the sidecar did not answer its health check as serving within ${waitMs} ms`,
        status.UNAVAILABLE,
        false,
      )
    // A restarted sidecar may be pointed elsewhere: asked again before traffic returns to it.
    if (await this.watchers.clusterCheck.refuses(this.path.client)) {
      throw new SidecarUnavailableError(
        'half-open probe: the sidecar writes to another Kafka cluster than this application (clusterMismatch: refuse)',
        status.FAILED_PRECONDITION,
        false,
      )
    }
  }

  /** After a path failure the sidecar may be a restarted process: one on another cluster is refused until a probe finds it right. */
  private async confirmCluster(): Promise<void> {
    if (!(await this.watchers.clusterCheck.refusesAfterPathFailure(this.path.client))) return
    this.breaker.open()
    throw new SidecarUnavailableError(
      'the sidecar writes to another Kafka cluster than this application (clusterMismatch: refuse)',
      status.FAILED_PRECONDITION,
      false,
    )
  }

  private changed(state: BreakerState, event: string): void {
    const { metrics, log, events } = this.watchers
    metrics.breakerState(state)
    const say = state === 'open' ? log.warn : log.info
    say.call(log, `Sidecar circuit breaker ${state.replace('_', '-')}`, { address: this.options.address })
    events.emit(event, { state })
  }
}

/** opossum's rejection of a send while the breaker is open. */
export function isOpenBreaker(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === 'EOPENBREAKER'
}
