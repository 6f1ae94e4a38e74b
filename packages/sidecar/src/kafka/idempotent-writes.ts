/**
 * Idempotent writes for the requests that ask for them (EmitRequest.idempotent, KafkaJS's
 * `idempotent: true` in the application).
 *
 * The sidecar's producer is not idempotent by default: idempotence forces acks -1 and one produce
 * request per broker at a time, which the pod's other traffic need not pay. So a second,
 * idempotent KafkaJS producer is created on the first request that needs it, on the cluster the
 * producer and the admin share (no extra broker connection), and connected (which gets its
 * producer id with InitProducerId) before that request is admitted. When it cannot be had, the
 * request is refused with an error naming idempotence; it is never written without. When the
 * sidecar runs idempotent throughout (KAFKA_SIDECAR_IDEMPOTENT), its one producer serves both.
 */
import { status } from '@grpc/grpc-js'
import type { Logger, Producer } from 'kafkajs'
import { fromKafkaJSError, SidecarError } from '../errors.js'
import type { BatchSender, BatchSenders } from '../pipeline/dispatcher.js'

/** After a failed attempt, requests are refused with its error this long before the next one. */
export const RETRY_AFTER_FAILURE_MS = 1_000

export type IdempotentProducerState = 'not created' | 'connecting' | 'ready' | 'failed'

/** What the pipeline asks before admitting a request. */
export interface Idempotence {
  /** Every batch is written idempotently (the sidecar's own producer is idempotent). */
  readonly always: boolean
  /** Idempotent batches can be sent now. */
  readonly ready: boolean
  /** Resolves once they can (creating the idempotent producer on first need); rejects with a SidecarError naming idempotence. */
  prepare(): Promise<void>
}

export class IdempotentWrites implements Idempotence, BatchSenders {
  private producer: Producer | null = null
  private connecting: Promise<void> | null = null
  private failure: { error: SidecarError; at: number } | null = null
  private closed = false

  constructor(
    /** The sidecar's producer: writes everything when `always`; connected or not, it owns the connections. */
    private readonly sidecarProducer: Producer,
    /** Writes the requests that did not ask for idempotence (the producer, or the sidecar's own encoder on its cluster). */
    readonly plain: BatchSender,
    readonly always: boolean,
    private readonly create: () => Producer,
    private readonly log: Logger,
  ) {}

  get ready(): boolean {
    return this.always || this.state === 'ready'
  }

  get state(): IdempotentProducerState {
    if (this.connecting) return 'connecting'
    if (this.producer) return 'ready'
    return this.failure ? 'failed' : 'not created'
  }

  idempotent(): BatchSender {
    if (this.always) return this.sidecarProducer
    if (!this.producer)
      throw new Error('the idempotent producer is not connected (a request was admitted without prepare())')
    return this.producer
  }

  prepare(): Promise<void> {
    if (this.ready) return Promise.resolve()
    if (this.closed) return Promise.reject(refusal(status.UNAVAILABLE, 'the sidecar is shutting down', true))
    if (this.failure && Date.now() - this.failure.at < RETRY_AFTER_FAILURE_MS) return Promise.reject(this.failure.error)
    this.connecting ??= this.connect().finally(() => (this.connecting = null))
    return this.connecting
  }

  private async connect(): Promise<void> {
    const producer = this.create()
    try {
      await producer.connect()
    } catch (error) {
      const cause = fromKafkaJSError(error)
      const reason = cause.kafkaErrorName ? `${cause.kafkaErrorName}: ${cause.message}` : cause.message
      const refused = refusal(
        cause.retriable ? status.UNAVAILABLE : status.FAILED_PRECONDITION,
        `this sidecar's idempotent producer could not get a producer id (${reason})`,
        cause.retriable,
        error,
      )
      // The failed producer is dropped, not disconnected: that would close the shared connections.
      this.failure = { error: refused, at: Date.now() }
      this.log.error('Idempotent producer unavailable: requests asking for idempotence are refused', {
        error: reason,
        retriable: cause.retriable,
      })
      throw refused
    }
    this.producer = producer
    this.failure = null
    // stop() ran while it connected: disconnect() takes it down once this settles.
    if (this.closed) throw refusal(status.UNAVAILABLE, 'the sidecar is shutting down', true)
    this.log.info('Idempotent producer connected: requests asking for idempotence are written with it')
  }

  /** Shutdown, after the queues were flushed: waits out a connect in flight, then disconnects. */
  async disconnect(): Promise<void> {
    this.closed = true
    await this.connecting?.catch(() => {})
    await this.producer?.disconnect()
  }
}

function refusal(grpcCode: status, reason: string, retriable: boolean, cause?: unknown): SidecarError {
  return new SidecarError(
    { grpcCode, message: `idempotent write refused, nothing was written: ${reason}`, retriable },
    { cause },
  )
}
