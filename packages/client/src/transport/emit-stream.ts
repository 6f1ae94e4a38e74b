/**
 * The fast path to the sidecar: one long-lived EmitStream per producer, requests written as they
 * come and acks matched back by request id. A broken stream fails every request waiting on it
 * (their outcome is unknown) and the next request opens a new one. A request without an answer
 * within its deadline fails too: the sidecar is then too slow to be trusted with the caller's time.
 */
import { status, type ClientDuplexStream, type Metadata, type ServiceError } from '@grpc/grpc-js'
import {
  DELIVERY_WINDOW_MS,
  encodeEmitRequest,
  errorDetail,
  type EmitAck,
  type EmitRequest,
  type ProducerSidecarClient,
} from '@kafka-sidecar/proto'
import { SidecarRefusal, SidecarUnavailableError } from './sidecar-errors.js'

/** Longest delay a Node timer takes; past it setTimeout fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * How long the sidecar may take to answer a request: its delivery window (the sidecar keeps
 * records queued max(timeout, DELIVERY_WINDOW_MS), so `timeout: 0` waits as long as the default)
 * plus the margin after which a silent sidecar counts as failed.
 */
export function answerDeadline(timeoutMs: number, marginMs: number): number {
  return Math.min(Math.max(timeoutMs, DELIVERY_WINDOW_MS) + marginMs, MAX_TIMER_MS)
}

interface Waiting {
  resolve(ack: EmitAck): void
  reject(error: Error): void
  timer: NodeJS.Timeout
}

export class EmitStream {
  private call: ClientDuplexStream<EmitRequest, EmitAck> | null = null
  private readonly waiting = new Map<number, Waiting>()
  private lastRequestId = 0

  constructor(
    private readonly client: ProducerSidecarClient,
    private readonly metadata: () => Metadata,
  ) {}

  nextRequestId(): number {
    this.lastRequestId = this.lastRequestId >= Number.MAX_SAFE_INTEGER ? 1 : this.lastRequestId + 1
    return this.lastRequestId
  }

  get inFlight(): number {
    return this.waiting.size
  }

  /**
   * Writes `request` (its requestId already set) and resolves with its ack. The request is encoded
   * here, not by grpc-js: grpc-js cancels the whole stream when a serializer throws, failing every
   * request in flight on it (their outcome unknown, so resent directly: duplicates) for one
   * request with a number no field can carry (a timestamp that is not a number, say; a timeout
   * the contract cannot carry never gets here, see sidecar-path-limits.ts). Such a request alone
   * is refused, INVALID_ARGUMENT, naming the field's problem.
   */
  send(request: EmitRequest, deadlineMs: number): Promise<EmitAck> {
    let bytes: Buffer
    try {
      bytes = encodeEmitRequest(request)
    } catch (error) {
      return Promise.reject(unencodable(error))
    }
    return new Promise<EmitAck>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.waiting.delete(request.requestId)) return
        reject(
          new SidecarUnavailableError(
            `sidecar did not answer request ${request.requestId} within ${deadlineMs} ms`,
            status.DEADLINE_EXCEEDED,
            true,
          ),
        )
      }, deadlineMs)
      timer.unref()
      this.waiting.set(request.requestId, { resolve, reject, timer })
      try {
        // Already encoded: the client's serializer passes a Buffer through (producer-client.ts).
        this.stream().write(bytes as unknown as EmitRequest)
      } catch (error) {
        this.settle(
          request.requestId,
          null,
          new SidecarUnavailableError(
            `could not write to the sidecar stream: ${String(error)}`,
            status.UNAVAILABLE,
            false,
          ),
        )
      }
    })
  }

  /** Ends the stream; requests still waiting fail as the path going away. */
  close(): void {
    const call = this.call
    this.call = null
    if (call) {
      call.removeAllListeners('data')
      call.cancel()
    }
    this.failAll(new SidecarUnavailableError('the producer closed its sidecar stream', status.CANCELLED, true))
  }

  private stream(): ClientDuplexStream<EmitRequest, EmitAck> {
    if (this.call) return this.call
    const call = this.client.emitStream(this.metadata())
    this.call = call
    call.on('data', (ack: EmitAck) => this.settle(ack.requestId, ack, null))
    const broken = (error: Error) => {
      if (this.call !== call) return
      this.call = null
      this.failAll(error)
    }
    call.on('error', (error: ServiceError) => broken(streamFailure(error)))
    call.on('end', () => broken(new SidecarUnavailableError('sidecar ended the stream', status.UNAVAILABLE, true)))
    return call
  }

  private settle(requestId: number, ack: EmitAck | null, error: Error | null): void {
    const waiting = this.waiting.get(requestId)
    if (!waiting) return
    this.waiting.delete(requestId)
    clearTimeout(waiting.timer)
    if (ack) waiting.resolve(ack)
    else waiting.reject(error!)
  }

  private failAll(error: Error): void {
    const all = [...this.waiting.values()]
    this.waiting.clear()
    for (const w of all) {
      clearTimeout(w.timer)
      w.reject(error)
    }
  }
}

/**
 * What a failed stream means. The sidecar refuses a stream whose credentials it rejects (wrong or
 * missing token) before reading any request: a verdict on this producer, as a business error
 * is, not the sidecar failing, so it must neither open the breaker nor send the records around
 * the sidecar's checks through the direct path. Anything else is the path failing.
 */
function streamFailure(error: ServiceError): Error {
  const code = error.code ?? status.UNAVAILABLE
  const details = error.details || error.message
  if (code === status.UNAUTHENTICATED || code === status.PERMISSION_DENIED) {
    return new SidecarRefusal(
      errorDetail({ grpcCode: code, message: `sidecar refused this producer (${status[code]}): ${details}` }),
    )
  }
  return new SidecarUnavailableError(`sidecar stream failed: ${details}`, code, true)
}

/** A request the contract cannot carry, refused before it is written. */
function unencodable(error: unknown): SidecarRefusal {
  const reason = error instanceof Error ? error.message : String(error)
  return new SidecarRefusal(
    errorDetail({
      grpcCode: status.INVALID_ARGUMENT,
      message: `not sent: the request cannot be encoded for the sidecar (${reason})`,
      retriable: false,
    }),
  )
}
