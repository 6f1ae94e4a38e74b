/**
 * Merges concurrent sends into few EmitStream messages. A record-per-RPC design tops out near
 * 6,000 records/s on two cores; merging what many callers send at the same time lets one
 * message carry hundreds. There is no linger: what arrived during one turn of the event loop
 * leaves at the end of it (setImmediate), so a lone serial send pays no wait.
 *
 * Sends merge only with sends of the same acks, timeout, compression and idempotence (the sidecar
 * writes idempotent requests with another producer). Each send keeps its own topic groups inside
 * the merged message (the sidecar batches each group's records for a partition whole), in send
 * order, so per-partition order is the callers' order (merged-request.ts).
 * When the sidecar refuses a merged message for a reason that belongs to its records (invalid
 * topic, too large, not allowed), each send is retried alone, so one caller's bad record never
 * fails another caller's send.
 *
 * Refusals never reorder a partition (docs/architecture.md, "Order across refusals (order
 * epochs)"). Messages are pipelined, so when one of order epoch E is refused (a full sidecar, a
 * bad record) later ones are already on their way; the sidecar closes E and answers those,
 * written behind the refusal, ABORTED. On the first refusal of E the coalescer opens a hold
 * (EpochHold): it writes nothing new, moves its epoch to E+1, and collects the answers of what was
 * written behind the refusal and the refusal's own verdict. When every request of E has come
 * back it resumes: it writes again, in send order and under E+1, what is to be retried (a full
 * sidecar: after the wait it asked for, within the retry budget), ahead of what came since.
 * When the verdict says the path is gone (UNAVAILABLE), every send it holds fails with it, so the
 * producer resends them all directly in send order.
 */
import { status } from '@grpc/grpc-js'
import {
  errorDetail,
  isPathFailureCode,
  type Acks,
  type EmitAck,
  type EmitRequest,
  type ErrorDetail,
} from '@kafka-sidecar/proto'
import type { OutgoingMessage } from '../producer/messages.js'
import type { EmitPart, PartOutcome } from './emit-part.js'
import { answerDeadline } from './emit-stream.js'
import { groupEnd, mergeParts, splitResults, type RecordOwners, type RequestIdentity } from './merged-request.js'
import { requestOverhead, settlePieces, splitPart, type PartPiece, type Siblings } from './request-split.js'
import { SidecarRefusal, SidecarUnavailableError } from './sidecar-errors.js'

/** Hooks the delivery tracker uses to follow merged requests. */
export interface CoalescerObserver {
  /** A merged request is about to be written; `outgoing[i]` is its record index i. */
  onRequest(requestId: number, outgoing: readonly OutgoingMessage[], acks: Acks): void
  onAck(requestId: number, ack: EmitAck): void
  /** The request was refused or its path failed: no report will follow from the sidecar. */
  onAbandoned(requestId: number): void
}

/** What the coalescer writes to: EmitStream, or a stand-in in unit tests. */
export interface EmitTransport {
  nextRequestId(): number
  /** Resolves with the request's ack; rejects when the path failed (stream broken, no answer in time). */
  send(request: EmitRequest, deadlineMs: number): Promise<EmitAck>
}

export interface CoalescerLimits {
  readonly maxRecords: number
  readonly maxBytes: number
  /** Added to a request's delivery window (see answerDeadline) to get how long the sidecar may take to answer. */
  readonly deadlineMarginMs: number
  /**
   * How long a send is retried while the sidecar is full (backpressureRetryMs). Not the send's
   * `timeout`: that is the broker's ack timeout, as in KafkaJS, and may well be 0.
   */
  readonly retryBudgetMs: number
}

interface Queued {
  readonly part: EmitPart
  /** Submission order: what is written again goes back to its place. */
  readonly seq: number
  /** A full sidecar is retried until then (the retry budget). */
  readonly giveUpAt: number
  /** Write in a message of its own (its merged message was refused for someone's records). */
  alone: boolean
  /** The pieces of one split send share this: once one piece failed, the rest are not written. */
  readonly siblings: Siblings | null
  resolve(outcome: PartOutcome): void
  reject(error: Error): void
}

/** A message written and not yet answered. */
interface Flight {
  readonly requestId: number
  readonly epoch: number
  readonly group: readonly Queued[]
}

/**
 * Opened by the first refusal of an order epoch, which the sidecar then closes; held until every
 * request written behind the refusal has come back and the verdict's wait is over (see resume).
 */
interface EpochHold {
  /** The closed epoch. */
  readonly epoch: number
  /** The refused message: those written behind it in its epoch come back ABORTED. */
  readonly refusedRequestId: number
  resumeAt: number
  /** The path is gone: the sends held fail with this instead of being written again. */
  pathFailure: SidecarUnavailableError | null
  /** Why it waits (a full sidecar): what a held send gets once its retry budget has passed. */
  backpressure: SidecarRefusal | null
  timer: NodeJS.Timeout | null
}

export class Coalescer {
  /** Waiting to be written, in submission order. */
  private queue: Queued[] = []
  private flushScheduled = false
  private nextSeq = 0
  /** The order epoch of what is written now. */
  private epoch = 1
  /** In write order (a Map keeps insertion order). */
  private readonly flights = new Map<number, Flight>()
  private hold: EpochHold | null = null

  constructor(
    private readonly stream: EmitTransport,
    private readonly identity: RequestIdentity,
    private readonly limits: CoalescerLimits,
    private readonly observer: CoalescerObserver,
  ) {}

  /**
   * Resolves once the sidecar has the part's records delivered (or rejects with why not). A part
   * larger than one request is written as several, in order (see request-split.ts).
   */
  submit(part: EmitPart): Promise<PartOutcome> {
    let pieces: PartPiece[]
    try {
      pieces = splitPart(part, requestOverhead(this.identity))
    } catch (error) {
      return Promise.reject(error as Error)
    }
    if (pieces.length === 1) return this.enqueue(part, null)
    return settlePieces(pieces, (piece, siblings) => this.enqueue(piece, siblings))
  }

  private enqueue(part: EmitPart, siblings: Queued['siblings']): Promise<PartOutcome> {
    return new Promise<PartOutcome>((resolve, reject) => {
      const failed = (error: Error) => {
        if (siblings) siblings.failure ??= error
        reject(error)
      }
      this.queue.push({
        part,
        seq: this.nextSeq++,
        giveUpAt: Date.now() + this.limits.retryBudgetMs,
        // A piece of a split send is as large as a request may be, and its reports wait for its
        // siblings (request-split.ts): it goes alone, so no other send's reports wait with it.
        alone: siblings !== null,
        siblings,
        resolve,
        reject: failed,
      })
      this.scheduleFlush()
    })
  }

  /** Puts sends back to be written again, each in its place in submission order. */
  private requeue(sends: readonly Queued[]): void {
    for (const send of sends) {
      let at = this.queue.length
      while (at > 0 && this.queue[at - 1]!.seq > send.seq) at--
      this.queue.splice(at, 0, send)
    }
    this.scheduleFlush()
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.hold) return
    this.flushScheduled = true
    setImmediate(() => this.flush())
  }

  private flush(): void {
    this.flushScheduled = false
    if (this.hold) return
    const queue = this.withoutFailedSiblings(this.queue)
    this.queue = []
    for (let start = 0, end = 0; start < queue.length; start = end) {
      end = groupEnd(queue, start, this.limits)
      this.write(queue.slice(start, end))
    }
  }

  /** Fails, unwritten, the pieces of a split send whose earlier piece failed. */
  private withoutFailedSiblings(queue: Queued[]): Queued[] {
    return queue.filter((queued) => {
      const failure = queued.siblings?.failure
      if (failure) queued.reject(failure)
      return !failure
    })
  }

  private write(group: Queued[]): void {
    const first = group[0]!.part
    const requestId = this.stream.nextRequestId()
    const merged = mergeParts(
      group.map((queued) => queued.part),
      requestId,
      this.epoch,
      this.identity,
    )
    const flight: Flight = { requestId, epoch: this.epoch, group }
    this.flights.set(requestId, flight)
    this.observer.onRequest(requestId, merged.outgoing, first.acks)
    this.stream.send(merged.request, answerDeadline(first.timeoutMs, this.limits.deadlineMarginMs)).then(
      (ack) => this.answered(flight, ack, merged.ownerOf),
      (error: Error) => this.pathFailedUnder(flight, error),
    )
  }

  private answered(flight: Flight, ack: EmitAck, ownerOf: RecordOwners): void {
    const { requestId, group } = flight
    this.flights.delete(requestId)
    if (ack.received) {
      this.reportAck(requestId, ack, group)
      const perMember = splitResults(ack.results, ownerOf, group.length)
      group.forEach((queued, member) => queued.resolve({ results: perMember[member]! }))
    } else {
      this.observer.onAbandoned(requestId)
      this.refused(flight, ack.error ?? refusalWithoutReason())
    }
    this.resume()
  }

  /** Delivery reports from the ack; for a piece of a split send once every piece succeeded, else none. */
  private reportAck(requestId: number, ack: EmitAck, group: readonly Queued[]): void {
    const siblings = group.length === 1 ? group[0]!.siblings : null
    if (!siblings) return this.observer.onAck(requestId, ack)
    void siblings.settled.then((allSucceeded) =>
      allSucceeded ? this.observer.onAck(requestId, ack) : this.observer.onAbandoned(requestId),
    )
  }

  /**
   * The path failed under this message (stream broken, no answer in time): its outcome is
   * unknown, and the producer resends it directly. Sends held or waiting here were submitted
   * after it, so they must not be written through the sidecar ahead of that resend: they fail
   * too, and the producer resends them directly behind it, in order.
   */
  private pathFailedUnder(flight: Flight, error: Error): void {
    this.flights.delete(flight.requestId)
    this.observer.onAbandoned(flight.requestId)
    for (const queued of flight.group) queued.reject(error)
    // A stream refused for this producer's credentials is a verdict on every send of it, not
    // the path failing: those waiting get the same refusal (no breaker count, no direct send).
    const behind =
      error instanceof SidecarRefusal
        ? error
        : new SidecarUnavailableError(
            `not sent: an earlier request failed on the sidecar path (${error.message})`,
            isPathFailure(error) ? error.grpcCode : status.UNAVAILABLE,
            false,
          )
    this.failWaiting(behind)
    this.resume()
  }

  /** The sidecar refused `flight`: the first refusal of its epoch opens a hold; each verdict has its method. */
  private refused(flight: Flight, detail: ErrorDetail): void {
    if (flight.epoch >= this.epoch) this.openHold(flight)
    if (detail.grpcCode === status.ABORTED) return this.writtenBehindRefusal(flight.group)
    if (isPathFailureCode(detail.grpcCode)) return this.refusedAsPathFailure(flight.group, detail)
    const refusal = new SidecarRefusal(detail)
    if (refusal.isBackpressure) return this.refusedForBackpressure(flight.group, refusal)
    this.refusedForRecords(flight.group, refusal)
  }

  /**
   * The first refusal of an epoch: the sidecar now closes that epoch (refuses the rest of it), so
   * what is written from here on carries the next one, once the hold ends.
   */
  private openHold(flight: Flight): void {
    this.epoch = flight.epoch + 1
    this.hold = {
      epoch: flight.epoch,
      refusedRequestId: flight.requestId,
      resumeAt: 0,
      pathFailure: null,
      backpressure: null,
      timer: null,
    }
  }

  /**
   * ABORTED: written behind a refused message, it shares that message's fate: failed on resume if
   * the path is gone, else written again. Behind a full sidecar it was as good as refused for
   * being full, so past its retry budget it fails as such a refusal would.
   */
  private writtenBehindRefusal(group: readonly Queued[]): void {
    const backpressure = this.hold?.backpressure
    const now = Date.now()
    const again: Queued[] = []
    for (const queued of group) {
      if (backpressure && now >= queued.giveUpAt) queued.reject(backpressure)
      else again.push(queued)
    }
    this.requeue(again)
  }

  /** Not taking requests (shutting down, or not connected to Kafka): nothing was queued. */
  private refusedAsPathFailure(group: readonly Queued[], detail: ErrorDetail): void {
    const unavailable = new SidecarUnavailableError(
      `sidecar refused the request: ${detail.message}`,
      detail.grpcCode,
      false,
    )
    for (const queued of group) queued.reject(unavailable)
    if (this.hold) this.hold.pathFailure ??= unavailable
    this.failHeldSends()
  }

  /** A full sidecar: each send is retried within its retry budget, once the hold's wait is over. */
  private refusedForBackpressure(group: readonly Queued[], refusal: SidecarRefusal): void {
    const hold = this.hold
    const now = Date.now()
    const retry: Queued[] = []
    for (const queued of group) {
      if (now >= queued.giveUpAt) queued.reject(refusal)
      else retry.push(queued)
    }
    // Written again one send per message: a merged message needs room for all of it at once,
    // while single sends fill whatever room opens, in order.
    for (const queued of retry) queued.alone = true
    if (hold) hold.backpressure ??= refusal
    if (retry.length > 0 && hold) {
      // retry_after_ms is the sidecar's estimate (up to 2 s); room may come sooner, so a send
      // whose budget ends first is still tried once more at its end rather than failing with
      // most of its budget unused.
      const earliestGiveUp = Math.min(...retry.map((q) => q.giveUpAt))
      hold.resumeAt = Math.max(hold.resumeAt, Math.min(now + Math.max(1, refusal.retryAfterMs || 100), earliestGiveUp))
    }
    this.requeue(retry)
  }

  /** A verdict on records (invalid topic, too large, not allowed): each send hears its own. */
  private refusedForRecords(group: readonly Queued[], refusal: SidecarRefusal): void {
    if (group.length > 1) {
      // The refusal may belong to one send's records only: let each send hear its own answer.
      for (const queued of group) queued.alone = true
      this.requeue(group)
      return
    }
    group[0]!.reject(refusal)
  }

  /**
   * Fails every send not yet written (held during a hold, or waiting for the next flush) and ends
   * the hold: the producer resends them directly, in order. For the path failing, and for the
   * producer disconnecting.
   */
  failWaiting(error: Error): void {
    const waiting = this.queue
    this.queue = []
    for (const queued of waiting) queued.reject(error)
    if (this.hold?.timer) clearTimeout(this.hold.timer)
    this.hold = null
  }

  /** The path is gone: sends held for writing fail with it too, keeping their order for the producer. */
  private failHeldSends(): void {
    const failure = this.hold?.pathFailure
    if (!failure) return
    const held = this.queue
    this.queue = []
    for (const queued of held) queued.reject(failure)
  }

  /**
   * Ends the hold once every request of the closed epoch written behind the refusal has come
   * back and the verdict's wait is over: the sends to retry are written under the new epoch, in
   * send order, ahead of those that arrived during the hold; after a path failure they have all
   * failed instead. Called after every answer; does nothing while there is no hold to end.
   */
  private resume(): void {
    const hold = this.hold
    if (!hold) return
    for (const flight of this.flights.values()) {
      if (flight.epoch <= hold.epoch && flight.requestId > hold.refusedRequestId) return
    }
    this.failHeldSends()
    const wait = hold.resumeAt - Date.now()
    if (wait > 0) {
      hold.timer ??= setTimeout(() => {
        hold.timer = null
        this.resume()
      }, wait)
      return
    }
    this.hold = null
    this.scheduleFlush()
  }
}

function refusalWithoutReason(): ErrorDetail {
  return errorDetail({
    grpcCode: status.INTERNAL,
    message: 'sidecar refused the request without a reason',
    retriable: true,
  })
}

function isPathFailure(error: Error): error is SidecarUnavailableError {
  return error instanceof SidecarUnavailableError
}
