/**
 * One EmitStream: the requests of one producer, decided (queued or refused) one at a time in
 * arrival order and answered by request id, with the stream's OrderBarrier. The stream ends once
 * the client has ended its side and every request it wrote has been answered.
 */
import { status, type ServerDuplexStream } from '@grpc/grpc-js'
import type { EmitAck, EmitRequest } from '@kafka-sidecar/proto'
import { SidecarError } from '../errors.js'
import type { ProduceRequest } from '../model.js'
import type { RecordPipeline } from '../pipeline/record-pipeline.js'
import type { RequestTracker } from '../pipeline/request-tracker.js'
import { asSidecarError, toProduceRequest } from './convert.js'
import { answeredOnReceipt, deliveredAck, receivedAck, refusedAck, type LeaderOf } from './emit-acks.js'
import type { OpenStreams } from './open-streams.js'
import { OrderBarrier } from './order-barrier.js'
import { checkDecoded, orderEpochOf, requestIdOf, stallRefusal, type StallCheck } from './request-checks.js'

export interface EmitStreamDeps {
  readonly pipeline: Pick<RecordPipeline, 'submit'>
  readonly leaderOf: LeaderOf
  /** Counts each answer: OK for an ack, the refusal's code otherwise. */
  readonly onAnswer: (code: status) => void
  readonly stalled?: StallCheck
}

const DECIDED: Promise<void> = Promise.resolve()

export class EmitStreamSession {
  /** Requests read and not yet answered. */
  private unanswered = 0
  private clientDone = false
  private closed = false
  /**
   * Requests read and not yet decided, in arrival order; the first is being decided. Decisions
   * are made one at a time in arrival order, even when one waits for topic metadata, and a
   * refusal is answered as soon as it is made: a producer that hears of a refusal then knows
   * every earlier request was decided before it, and the barrier refuses what it pipelined after it.
   */
  private readonly undecided: EmitRequest[] = []
  private readonly barrier = new OrderBarrier()
  /** The instance ids seen on this stream, each counted once as a connected client. */
  private readonly instances = new Set<string>()
  private readonly releaseInstances: Array<() => void> = []
  /** Stands for the instance of requests without an instance id. */
  private readonly anonymous = {}
  private readonly forget: () => void

  constructor(
    private readonly call: ServerDuplexStream<EmitRequest, EmitAck>,
    private readonly deps: EmitStreamDeps,
    private readonly streams: OpenStreams,
  ) {
    this.forget = streams.add({ end: () => this.finish() })
    call.on('data', (message: EmitRequest) => this.read(message))
    call.on('end', () => this.clientEnded())
    call.on('cancelled', () => this.release())
    call.on('error', () => {})
  }

  private read(message: EmitRequest): void {
    this.unanswered++
    this.undecided.push(message)
    if (this.undecided.length === 1) this.decideNext()
  }

  /** Decides the first undecided request; the next is decided once this decision is made. */
  private decideNext(): void {
    void this.decideSafely(this.undecided[0]!).then(() => {
      this.undecided.shift()
      if (this.undecided.length > 0) this.decideNext()
    })
  }

  /** decide(), and should it ever throw, an INTERNAL refusal rather than a stalled stream. */
  private decideSafely(message: EmitRequest): Promise<void> {
    try {
      return this.decide(message).catch((error: unknown) => this.refuse(requestIdOf(message), error))
    } catch (error) {
      this.refuse(requestIdOf(message), error)
      return DECIDED
    }
  }

  /**
   * Queues the request or refuses it. A refusal is written, and its epoch closed, in the step
   * that makes the decision: the producer hears of refusals in request order, and the next
   * request meets the barrier.
   */
  private decide(message: EmitRequest): Promise<void> {
    // The client gave up on this stream (and resends what it had in flight elsewhere):
    // queueing what it sent would write it a second time, out of order.
    if (this.closed || this.call.cancelled) {
      this.refuse(requestIdOf(message), cancelledBeforeDecided())
      return DECIDED
    }
    const request = this.convert(message)
    if (!request) return DECIDED
    const aborted = this.barrier.admit(request.orderEpoch)
    if (aborted) {
      this.refuse(request.requestId, aborted)
      return DECIDED
    }
    const stall = stallRefusal(this.deps.stalled, this.call.metadata)
    if (stall) {
      this.refuseAndCloseEpoch(request, stall)
      return DECIDED
    }
    this.noteInstance(request.instanceId)
    return this.deps.pipeline.submit(request).then(
      (tracker) => this.accepted(request, tracker),
      (error: unknown) => this.refuseAndCloseEpoch(request, error),
    )
  }

  /** The request the message carries, or null once it was refused (bytes or fields that do not make one). */
  private convert(message: EmitRequest): ProduceRequest | null {
    try {
      checkDecoded(message)
      return toProduceRequest(message)
    } catch (error) {
      this.barrier.closeEpoch(orderEpochOf(message))
      this.refuse(requestIdOf(message), error)
      return null
    }
  }

  private accepted(request: ProduceRequest, tracker: RequestTracker): void {
    if (answeredOnReceipt(request)) return this.answerAccepted(receivedAck(request))
    void tracker.settled.then((outcomes) => this.answerAccepted(deliveredAck(tracker, outcomes, this.deps.leaderOf)))
  }

  private answerAccepted(ack: EmitAck): void {
    this.deps.onAnswer(status.OK)
    this.answer(ack)
  }

  private refuseAndCloseEpoch(request: ProduceRequest, error: unknown): void {
    this.barrier.closeEpoch(request.orderEpoch)
    this.refuse(request.requestId, error)
  }

  private refuse(requestId: number, error: unknown): void {
    const refusal = asSidecarError(error)
    this.deps.onAnswer(refusal.grpcCode)
    this.answer(refusedAck(requestId, refusal))
  }

  private answer(ack: EmitAck): void {
    this.unanswered--
    if (!this.closed && !this.call.cancelled) this.call.write(ack)
    if (this.clientDone && this.unanswered === 0) this.finish()
  }

  private noteInstance(instanceId: string): void {
    if (this.instances.has(instanceId)) return
    this.instances.add(instanceId)
    this.releaseInstances.push(this.streams.noteInstance(instanceId === '' ? this.anonymous : instanceId))
  }

  private clientEnded(): void {
    this.clientDone = true
    if (this.unanswered === 0) this.finish()
  }

  /** Ends the stream (the client is done and answered, or the sidecar shuts down). */
  private finish(): void {
    if (this.closed) return
    this.release()
    this.call.end()
  }

  // grpc-js emits 'cancelled' when the HTTP/2 stream closes, even after a normal end, so
  // releasing must happen exactly once whichever comes first.
  private release(): void {
    if (this.closed) return
    this.closed = true
    this.forget()
    for (const releaseInstance of this.releaseInstances) releaseInstance()
  }
}

function cancelledBeforeDecided(): SidecarError {
  return new SidecarError({
    grpcCode: status.CANCELLED,
    message: 'not queued: the stream was cancelled before this request was decided',
  })
}
