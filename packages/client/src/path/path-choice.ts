/**
 * Path choice: which path each send takes, and both paths' lifecycle.
 *
 * - direct mode: every send goes through the direct path (KafkaJS's own producer).
 * - sidecar mode: sends go to the sidecar behind a circuit breaker (sidecar-breaker.ts). When the
 *   sidecar path fails (transport, UNAVAILABLE, no answer in time) the send goes through the
 *   direct path instead, so a caller's records are written either way; records the sidecar may
 *   already have taken are then written twice (at-least-once), never zero times. Sends the
 *   sidecar cannot carry go direct too (sidecar-path-limits.ts).
 *
 * A PathGate keeps per-partition order across every switch between the two paths.
 */
import { status } from '@grpc/grpc-js'
import { errorDetail } from '@kafka-sidecar/proto'
import kafkajs from 'kafkajs'
import type { Logger, ProducerConfig, RecordMetadata } from 'kafkajs'
import type { SendResults } from '../delivery/send-results.js'
import { SIDECAR_EVENTS, type BreakerState, type FallbackEventPayload, type ProducerEvents } from '../events.js'
import { countByTopic, type ProducerMetrics } from '../metrics.js'
import type { ProducerMode, ResolvedSidecarOptions } from '../options.js'
import type { OutgoingSend } from '../producer/messages.js'
import type { DirectPath } from '../transport/direct-path.js'
import { SidecarRefusal, SidecarUnavailableError, toKafkaJSError } from '../transport/sidecar-errors.js'
import { SidecarPath } from '../transport/sidecar-path.js'
import type { SidecarClusterCheck } from './cluster-check.js'
import { CredentialVerdict } from './credential-verdict.js'
import { FallbackIdleCheck } from './fallback-idle-check.js'
import { PathGate, type PathName } from './path-gate.js'
import { isOpenBreaker, SidecarBreaker } from './sidecar-breaker.js'
import {
  directReasonFor,
  optionsIgnoredOnSidecarPath,
  registeredCodecReasons,
  type IgnoredOption,
  type KafkaLevelOptions,
} from './sidecar-path-limits.js'

/** The sidecar and the client share KafkaJS's default partitioner; any other must run here. */
const SIDECAR_PARTITIONERS: ReadonlySet<unknown> = new Set([
  undefined,
  kafkajs.Partitioners.DefaultPartitioner,
  kafkajs.Partitioners.JavaCompatiblePartitioner,
])

/** A send's answer, and the path that gave it. */
export interface Sent {
  readonly metadata: RecordMetadata[]
  readonly path: PathName
}

export interface PathChoiceSettings {
  readonly options: ResolvedSidecarOptions
  readonly clientId: string
  /** The producer's KafkaJS config, as the direct path has it. */
  readonly producerConfig: ProducerConfig
  /** Its Kafka's options, some of which the sidecar path ignores. */
  readonly kafkaLevel: KafkaLevelOptions
}

/** What the producer shares with its paths. */
export interface ProducerParts {
  readonly direct: DirectPath
  readonly results: SendResults
  readonly events: ProducerEvents
  readonly clusterCheck: SidecarClusterCheck
  readonly metrics: ProducerMetrics
  readonly log: Logger
  /** Whether the producer is connected (disconnect() not called since). */
  readonly connected: () => boolean
}

export class PathChoice {
  /** Whether sends prefer the sidecar (sidecar mode, and nothing keeps this producer direct). */
  readonly usesSidecar: boolean
  /** Why this producer never uses the sidecar even in sidecar mode, or null. */
  private readonly directOnlyReason: string | null
  /** Options of this producer that sends through the sidecar cannot honour, said at connect. */
  private readonly ignoredOptions: IgnoredOption[]
  private readonly gate = new PathGate()
  private readonly credentials = new CredentialVerdict()
  /** Why some sends went direct, each said once. */
  private readonly directReasonsSaid = new Set<string>()
  private readonly idleCheck: FallbackIdleCheck
  private transactionsUsed = false
  /** The sidecar path while connected (built again by a connect after a disconnect). */
  private sidecar: SidecarBreaker | null = null

  constructor(
    private readonly settings: PathChoiceSettings,
    private readonly parts: ProducerParts,
  ) {
    const { options, producerConfig } = settings
    this.ignoredOptions = optionsIgnoredOnSidecarPath(settings.kafkaLevel, producerConfig, options.backpressureRetryMs)
    this.directOnlyReason = SIDECAR_PARTITIONERS.has(producerConfig.createPartitioner)
      ? null
      : 'a custom createPartitioner runs in this process, so this producer writes directly to keep its partitioning'
    this.usesSidecar = options.mode === 'sidecar' && this.directOnlyReason === null
    this.idleCheck = new FallbackIdleCheck(
      parts.direct,
      options.fallbackIdleMs,
      parts.log,
      () => this.transactionsUsed || this.breakerState !== 'closed',
    )
    if (this.usesSidecar) this.sidecar = this.openSidecar()
  }

  /** The mode in force: `sidecar` when sends go to the sidecar (falling back when needed), else `direct`. */
  get mode(): ProducerMode {
    return this.usesSidecar ? 'sidecar' : 'direct'
  }

  /** The circuit breaker's state; always `closed` in direct mode. */
  get breakerState(): BreakerState {
    return this.sidecar?.state ?? 'closed'
  }

  /** The sidecar path's transport while connected. */
  get sidecarPath(): SidecarPath | null {
    return this.sidecar?.path ?? null
  }

  /** Sends through the path this producer's mode and state choose. */
  send(send: OutgoingSend): Promise<Sent> {
    return this.usesSidecar ? this.preferSidecar(send) : this.sendDirect(send)
  }

  async connect(): Promise<void> {
    if (this.usesSidecar) {
      await this.connectSidecar()
    } else {
      await this.parts.direct.connect()
      this.parts.log.info('Producer connected directly to Kafka', {
        mode: 'direct',
        ...(this.directOnlyReason && this.settings.options.mode === 'sidecar' ? { reason: this.directOnlyReason } : {}),
      })
    }
  }

  /** Lets the sidecar's reports catch up, fails what still waits for room in it, and closes both paths. */
  async disconnect(): Promise<void> {
    if (this.sidecar) {
      await this.sidecar.path.tracker.whenIdle(this.settings.options.reportTimeoutMs)
      // Sends still held behind a full sidecar past the wait above fail as not sent; written
      // later they would reopen the stream after disconnect() returned.
      this.sidecar.path.stop(
        new SidecarRefusal(
          errorDetail({
            grpcCode: status.CANCELLED,
            message: 'not sent: the producer disconnected while this send waited for room in the sidecar',
            retriable: true,
          }),
        ),
      )
      this.closeSidecar()
    }
    await this.parts.direct.disconnect()
  }

  /** Transactions run on the direct path: in sidecar mode it connects, and stays connected from then on. */
  async connectForTransactions(): Promise<void> {
    await this.parts.direct.connect()
    this.transactionsUsed = true
  }

  private async connectSidecar(): Promise<void> {
    const { options } = this.settings
    const { log, direct } = this.parts
    this.sidecar ??= this.openSidecar()
    const ready = await this.sidecar.path.waitUntilServing(options.connectTimeoutMs)
    // A sidecar on another cluster is refused like one not ready: the breaker's probes ask again.
    const refused = ready && (await this.parts.clusterCheck.refuses(this.sidecar.path.client))
    if (ready && !refused) {
      log.info('Producer connected through the sidecar', { mode: 'sidecar', address: options.address })
    } else {
      if (!refused)
        log.warn('Sidecar not ready; producing directly to Kafka until it is', {
          mode: 'sidecar',
          address: options.address,
          waitedMs: options.connectTimeoutMs,
        })
      this.sidecar.open()
      await direct.connect()
    }
    this.warnOfSidecarPathLimits()
    if (this.parts.events.wantsReports()) this.sidecar.path.reports.start()
    this.idleCheck.start()
  }

  private openSidecar(): SidecarBreaker {
    const { options, clientId, producerConfig } = this.settings
    const { clusterCheck, metrics, events, log } = this.parts
    const path = new SidecarPath(options, clientId, log, events)
    return new SidecarBreaker(
      path,
      options,
      { clusterCheck, metrics, events, log },
      { allowAutoTopicCreation: producerConfig.allowAutoTopicCreation, idempotent: producerConfig.idempotent ?? false },
    )
  }

  /** Closes the gRPC channels and the breaker's timers: a producer per job must not leak them. */
  private closeSidecar(): void {
    const sidecar = this.sidecar
    if (!sidecar) return
    this.sidecar = null
    sidecar.close()
    this.idleCheck.stop()
  }

  /** Once per connect: the options set that sends through the sidecar ignore, and the codecs that keep sends direct. */
  private warnOfSidecarPathLimits(): void {
    for (const { option, reason } of this.ignoredOptions)
      this.parts.log.warn(
        `Option ${option} does not apply to sends through the sidecar (it does to the direct fallback): ${reason}`,
        { option },
      )
    for (const reason of registeredCodecReasons()) this.sayOnce(reason)
  }

  private sayOnce(directReason: string): void {
    if (this.directReasonsSaid.has(directReason)) return
    this.directReasonsSaid.add(directReason)
    this.parts.log.warn(`Sends with ${directReason}; they go directly to Kafka`, { reason: directReason })
  }

  // --- a send ---------------------------------------------------------------------------------

  private async preferSidecar(send: OutgoingSend): Promise<Sent> {
    const sidecar = this.sidecar
    // A send started before a disconnect finished the path: as one started after.
    if (!sidecar) throw new kafkajs.KafkaJSError('The producer is disconnected')
    const elsewhere = this.notThroughSidecar(send, sidecar)
    if (elsewhere) return elsewhere
    const ticket = this.gate.ticket()
    await this.gate.enter('sidecar', ticket)
    let failure: Error | null = null
    try {
      const { results } = await sidecar.fire(send)
      this.credentials.noteAccepted()
      return { metadata: this.parts.results.fromSidecar(send, results), path: 'sidecar' }
    } catch (error) {
      failure = this.pathFailure(send, error)
    } finally {
      if (failure === null || !this.parts.connected() || this.credentials.standing) this.gate.leave()
    }
    // Once disconnect() was called nothing is resent directly: the sidecar may still write what
    // it took (a hung sidecar resumed), and the direct producer would open connections after
    // disconnect() returned. The caller hears the outcome is unknown, and may retry.
    if (!this.parts.connected()) throw this.parts.results.abandoned(send.outgoing, failure)
    this.refuseIfCredentialsRefused(send)
    // Sends on the sidecar path fail in any order (streams break separately, deadlines differ, a
    // half-open breaker rejects all but its probe at once). Leaving the gate and entering it
    // again would resend them directly in the order they failed, writing a later record of a
    // partition before an earlier one; switchTo hands the slot over keeping this send's place.
    return this.fallBack(send, failure.message, this.gate.switchTo('direct', ticket))
  }

  /** The answer (or its promise) of a send that does not go to the sidecar although this producer prefers it; else null. */
  private notThroughSidecar(send: OutgoingSend, sidecar: SidecarBreaker): Sent | Promise<Sent> | null {
    // As KafkaJS: nothing to send resolves with nothing; a codec this process has not registered
    // fails here with KafkaJS's own error (KafkaJS looks codecs up when it encodes).
    if (send.outgoing.length === 0) return { metadata: [], path: 'sidecar' }
    const compression = send.compression ?? 0
    if (compression > 1) (kafkajs.CompressionCodecs as Record<number, () => unknown>)[compression]?.()
    const directReason = directReasonFor(send)
    if (directReason) {
      this.sayOnce(directReason)
      return this.sendDirect(send)
    }
    if (sidecar.opened) {
      this.refuseIfCredentialsRefused(send)
      return this.fallBack(send, 'circuit breaker open')
    }
    return null
  }

  /**
   * What a failure on the sidecar path means: a verdict on the records or the producer is the
   * caller's, thrown as the KafkaJS error direct mode would give; a path failure is returned, and
   * the send falls back.
   */
  private pathFailure(send: OutgoingSend, error: unknown): Error {
    this.credentials.noteFailure(error)
    if (error instanceof SidecarRefusal) {
      this.parts.results.failed(send.outgoing, 'sidecar', toKafkaJSError(error.detail), true)
      throw toKafkaJSError(error.detail)
    }
    if (!(error instanceof SidecarUnavailableError) && !isOpenBreaker(error)) throw error
    return error as Error
  }

  /** Throws the sidecar's standing refusal of this producer's token, if there is one (see CredentialVerdict). */
  private refuseIfCredentialsRefused(send: OutgoingSend): void {
    const refusal = this.credentials.standing
    if (!refusal) return
    const error = toKafkaJSError(refusal.detail)
    this.parts.results.failed(send.outgoing, 'sidecar', error, true)
    throw error
  }

  private async fallBack(send: OutgoingSend, reason: string, admitted?: Promise<void>): Promise<Sent> {
    const counts = countByTopic(send.outgoing)
    for (const [topic, n] of counts) this.parts.metrics.fallback(topic, n)
    this.parts.events.emit(SIDECAR_EVENTS.FALLBACK, {
      reason,
      records: send.outgoing.length,
      topics: [...counts.keys()],
    } satisfies FallbackEventPayload)
    return this.sendDirect(send, admitted)
  }

  /** `admitted`: the gate already holds this send's place (a switch from the sidecar path). */
  private async sendDirect(send: OutgoingSend, admitted: Promise<void> = this.gate.enter('direct')): Promise<Sent> {
    await admitted
    const partitions: Array<number | null> = []
    try {
      const metadata = await this.parts.direct.send(send, partitions)
      return { metadata: this.parts.results.fromDirect(send, metadata, partitions), path: 'direct' }
    } catch (error) {
      this.parts.results.failed(send.outgoing, 'direct', error as Error, true, partitions)
      throw error
    } finally {
      this.gate.leave()
    }
  }
}
