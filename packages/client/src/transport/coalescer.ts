/**
 * Merges concurrent sends into few EmitStream messages. A record-per-RPC design tops out near
 * 6,000 records/s on two cores; merging what many callers send at the same time lets one
 * message carry hundreds. There is no linger: what arrived during one turn of the event loop
 * leaves at the end of it (setImmediate), so a lone serial send pays no wait.
 *
 * Sends merge only with sends of the same acks, timeout, compression and idempotence (the sidecar
 * writes idempotent requests with another producer). Each send keeps its own topic groups inside
 * the merged message (the sidecar batches each group's records for a partition whole), in send
 * order, so per-partition order is the callers' order.
 * When the sidecar refuses a merged message for a reason that belongs to its records (invalid
 * topic, too large, not allowed), each send is retried alone, so one caller's bad record never
 * fails another caller's send.
 *
 * Refusals never reorder a partition. Messages are pipelined, so when one is refused (a full
 * sidecar, a bad record) later ones are already on their way; the sidecar refuses those as
 * ABORTED (EmitRequest.order_epoch) and the coalescer holds everything new until they have come
 * back. Then it writes again, in send order and under a new epoch, what is to be retried (a full
 * sidecar: after the wait it asked for, within the retry budget), ahead of what came since.
 * When the refusal says the path is gone (UNAVAILABLE), every send it holds fails with it, so the
 * producer resends them all directly in send order.
 */
import { status } from '@grpc/grpc-js'
import type {
  EmitAck,
  EmitRequest,
  PartitionResult,
  SidecarError as ProtoError,
  SidecarRecord,
  TopicRecords,
} from '@kafka-sidecar/proto'
import { DELIVERY_WINDOW_MS } from '@kafka-sidecar/proto'
import type { OutgoingMessage } from '../producer/messages.js'
import { requestOverhead, splitPart, type PartPiece } from './request-split.js'
import { isPathFailureCode, SidecarRefusal, SidecarUnavailableError } from './sidecar-errors.js'

export interface EmitPart {
  readonly acks: number
  readonly timeoutMs: number
  readonly compression: number
  /** The producer's allowAutoTopicCreation; undefined leaves it to the sidecar. */
  readonly allowAutoTopicCreation: boolean | undefined
  /** The producer's `idempotent`: the sidecar must write the records idempotently. */
  readonly idempotent: boolean
  /** Records grouped by topic, in send order. */
  readonly topics: ReadonlyArray<{ topic: string; records: SidecarRecord[] }>
  /** The same records flattened in the same order, with the caller's messages. */
  readonly outgoing: readonly OutgoingMessage[]
  readonly bytes: number
}

/** The broker's answer for some of a part's records in one topic-partition. */
export interface PartResult {
  readonly topic: string
  readonly partition: number
  /** Offset of the first of `localIndexes`. */
  readonly baseOffset: number
  readonly logAppendTimeMs: number
  readonly logStartOffset: number
  /** Positions in the part's `outgoing`, in offset order. */
  readonly localIndexes: number[]
  readonly error: ProtoError | undefined
  /** The partition's leader when written, -1 if unknown. */
  readonly leaderId: number
}

export interface PartOutcome {
  /** Empty when the request did not wait for delivery (acks 0). */
  readonly results: PartResult[]
}

/** Hooks the delivery tracker uses to follow merged requests. */
export interface CoalescerObserver {
  /** A merged request is about to be written; `outgoing[i]` is its record index i. */
  onRequest(requestId: number, outgoing: readonly OutgoingMessage[], acks: number): void
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

export interface RequestIdentity {
  readonly clientId: string
  readonly appName: string
  readonly instanceId: string
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

interface Queued {
  readonly part: EmitPart
  /** Submission order: what is written again goes back to its place. */
  readonly seq: number
  /** A full sidecar is retried until then (the retry budget). */
  readonly giveUpAt: number
  /** Write in a message of its own (its merged message was refused for someone's records). */
  alone: boolean
  /** The pieces of one split send share this: once one piece failed, the rest are not written. */
  readonly siblings: { failure: Error | null } | null
  resolve(outcome: PartOutcome): void
  reject(error: Error): void
}

/** A message written and not yet answered. */
interface Flight {
  readonly requestId: number
  readonly epoch: number
  readonly group: readonly Queued[]
}

/** Set by a refusal until the messages written after it have come back and its wait is over. */
interface Halt {
  readonly epoch: number
  /** The refused message: those written after it in its epoch come back ABORTED. */
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
  private epoch = 1
  /** In write order (a Map keeps insertion order). */
  private readonly flights = new Map<number, Flight>()
  private halt: Halt | null = null

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
    return this.submitPieces(pieces)
  }

  /**
   * The pieces of a split send, settled together: the send fails with the first piece's failure,
   * once every piece has settled (so a resend on another path never overtakes one still here).
   * Pieces written before it stay written; after a path failure the producer resends the whole
   * send directly, so those may be written twice (at-least-once, as for any path failure).
   */
  private async submitPieces(pieces: readonly PartPiece[]): Promise<PartOutcome> {
    const siblings = { failure: null as Error | null }
    const outcomes = await Promise.allSettled(pieces.map(({ part }) => this.enqueue(part, siblings)))
    const failed = outcomes.find((o) => o.status === 'rejected')
    if (failed) throw failed.reason
    const results: PartResult[] = []
    outcomes.forEach((o, i) => {
      const { offset } = pieces[i]!
      for (const r of (o as PromiseFulfilledResult<PartOutcome>).value.results)
        results.push({ ...r, localIndexes: r.localIndexes.map((local) => local + offset) })
    })
    return { results }
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
        alone: false,
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
    if (this.flushScheduled || this.halt) return
    this.flushScheduled = true
    setImmediate(() => this.flush())
  }

  private flush(): void {
    this.flushScheduled = false
    if (this.halt) return
    const queue = this.withoutFailedSiblings(this.queue)
    this.queue = []
    let i = 0
    while (i < queue.length) {
      const group = [queue[i]!]
      let records = queue[i]!.part.outgoing.length
      let bytes = queue[i]!.part.bytes
      i++
      while (!group[0]!.alone && i < queue.length) {
        const next = queue[i]!
        if (next.alone || !compatible(group[0]!.part, next.part)) break
        if (
          records + next.part.outgoing.length > this.limits.maxRecords ||
          bytes + next.part.bytes > this.limits.maxBytes
        )
          break
        group.push(next)
        records += next.part.outgoing.length
        bytes += next.part.bytes
        i++
      }
      this.write(group)
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
    // One TopicRecords per send and topic, in send order: the sidecar writes each one's records
    // for a partition as one record batch, so every send stays all-or-nothing per partition, as
    // in KafkaJS, however many sends share the message. Records of one topic keep send order.
    const topics: TopicRecords[] = []
    // Record index i of the merged request (topic groups flattened in order) -> its owner.
    const ownerOf: Array<{ member: number; local: number }> = []
    const outgoing: OutgoingMessage[] = []
    group.forEach((queued, member) => {
      let local = 0
      for (const { topic, records } of queued.part.topics) {
        topics.push({ topic, records })
        for (let i = 0; i < records.length; i++) {
          ownerOf.push({ member, local })
          outgoing.push(queued.part.outgoing[local++]!)
        }
      }
    })
    const request: EmitRequest = {
      requestId,
      clientId: this.identity.clientId,
      appName: this.identity.appName,
      instanceId: this.identity.instanceId,
      acks: first.acks,
      timeoutMs: first.timeoutMs,
      compression: first.compression,
      awaitDelivery: true,
      allowAutoTopicCreation: first.allowAutoTopicCreation,
      idempotent: first.idempotent,
      orderEpoch: this.epoch,
      topics,
    }
    const flight: Flight = { requestId, epoch: this.epoch, group }
    this.flights.set(requestId, flight)
    this.observer.onRequest(requestId, outgoing, first.acks)
    this.stream.send(request, answerDeadline(first.timeoutMs, this.limits.deadlineMarginMs)).then(
      (ack) => {
        this.flights.delete(requestId)
        if (ack.received) {
          this.observer.onAck(requestId, ack)
          const perMember = splitResults(ack.results, ownerOf, group.length)
          group.forEach((queued, member) => queued.resolve({ results: perMember[member]! }))
        } else {
          this.observer.onAbandoned(requestId)
          this.refused(
            flight,
            ack.error ?? {
              grpcCode: status.INTERNAL,
              message: 'sidecar refused the request without a reason',
              kafkaErrorCode: 0,
              kafkaErrorName: '',
              retriable: true,
              retryAfterMs: 0,
            },
          )
        }
        this.maybeResume()
      },
      (error: Error) => {
        // The path failed under this message (stream broken, no answer in time): its outcome is
        // unknown, and the producer resends it directly. Sends held or waiting here were
        // submitted after it, so they must not be written through the sidecar ahead of that
        // resend: they fail too, and the producer resends them directly behind it, in order.
        this.flights.delete(requestId)
        this.observer.onAbandoned(requestId)
        for (const queued of group) queued.reject(error)
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
        this.maybeResume()
      },
    )
  }

  private refused(flight: Flight, detail: ProtoError): void {
    const { group } = flight
    // The first refusal of an epoch: the sidecar now refuses the rest of the epoch, so what is
    // written from here on carries the next one.
    if (flight.epoch >= this.epoch) {
      this.epoch = flight.epoch + 1
      this.halt = {
        epoch: flight.epoch,
        refusedRequestId: flight.requestId,
        resumeAt: 0,
        pathFailure: null,
        backpressure: null,
        timer: null,
      }
    }
    const halt = this.halt
    if (detail.grpcCode === status.ABORTED) {
      // Written after a refused message; it shares that message's fate: failed on resume if the
      // path is gone, else written again. Behind a full sidecar it was as good as refused for
      // being full, so past its retry budget it fails as such a refusal would.
      const backpressure = halt?.backpressure
      const now = Date.now()
      const again: Queued[] = []
      for (const queued of group) {
        if (backpressure && now >= queued.giveUpAt) queued.reject(backpressure)
        else again.push(queued)
      }
      this.requeue(again)
      return
    }
    if (isPathFailureCode(detail.grpcCode)) {
      // Not taking requests (shutting down, or not connected to Kafka): nothing was queued.
      const unavailable = new SidecarUnavailableError(
        `sidecar refused the request: ${detail.message}`,
        detail.grpcCode,
        false,
      )
      for (const queued of group) queued.reject(unavailable)
      if (halt) halt.pathFailure ??= unavailable
      this.failHeldSends()
      return
    }
    const refusal = new SidecarRefusal(detail)
    if (refusal.isBackpressure) {
      const now = Date.now()
      const retry: Queued[] = []
      for (const queued of group) {
        if (now >= queued.giveUpAt) queued.reject(refusal)
        else retry.push(queued)
      }
      // Written again one send per message: a merged message needs room for all of it at once,
      // while single sends fill whatever room opens, in order.
      for (const queued of retry) queued.alone = true
      if (halt) halt.backpressure ??= refusal
      if (retry.length > 0 && halt) {
        // retry_after_ms is the sidecar's estimate (up to 2 s); room may come sooner, so a send
        // whose budget ends first is still tried once more at its end rather than failing with
        // most of its budget unused.
        const earliestGiveUp = Math.min(...retry.map((q) => q.giveUpAt))
        halt.resumeAt = Math.max(
          halt.resumeAt,
          Math.min(now + Math.max(1, refusal.retryAfterMs || 100), earliestGiveUp),
        )
      }
      this.requeue(retry)
      return
    }
    if (group.length > 1) {
      // The refusal may belong to one send's records only: let each send hear its own answer.
      for (const queued of group) queued.alone = true
      this.requeue(group)
      return
    }
    group[0]!.reject(refusal)
  }

  /**
   * Fails every send not yet written (held by a halt, or waiting for the next flush) and ends
   * the halt: the producer resends them directly, in order. For the path failing, and for the
   * producer disconnecting.
   */
  failWaiting(error: Error): void {
    const waiting = this.queue
    this.queue = []
    for (const queued of waiting) queued.reject(error)
    if (this.halt?.timer) clearTimeout(this.halt.timer)
    this.halt = null
  }

  /** The path is gone: sends held for writing fail with it too, keeping their order for the producer. */
  private failHeldSends(): void {
    const failure = this.halt?.pathFailure
    if (!failure) return
    const held = this.queue
    this.queue = []
    for (const queued of held) queued.reject(failure)
  }

  /** Ends the halt once no message written after the refusal is still unanswered and its wait is over. */
  private maybeResume(): void {
    const halt = this.halt
    if (!halt) return
    for (const flight of this.flights.values()) {
      if (flight.epoch <= halt.epoch && flight.requestId > halt.refusedRequestId) return
    }
    this.failHeldSends()
    const wait = halt.resumeAt - Date.now()
    if (wait > 0) {
      halt.timer ??= setTimeout(() => {
        halt.timer = null
        this.maybeResume()
      }, wait)
      return
    }
    this.halt = null
    this.scheduleFlush()
  }
}

function compatible(a: EmitPart, b: EmitPart): boolean {
  return (
    a.acks === b.acks &&
    a.timeoutMs === b.timeoutMs &&
    a.compression === b.compression &&
    a.allowAutoTopicCreation === b.allowAutoTopicCreation &&
    a.idempotent === b.idempotent
  )
}

/** Splits a merged request's results back to the sends whose records they describe. */
function splitResults(
  results: readonly PartitionResult[],
  ownerOf: ReadonlyArray<{ member: number; local: number }>,
  members: number,
): PartResult[][] {
  const out: PartResult[][] = Array.from({ length: members }, () => [])
  for (const result of results) {
    const byMember = new Map<number, PartResult>()
    result.recordIndexes.forEach((index, position) => {
      const owner = ownerOf[index]
      if (!owner) return
      let piece = byMember.get(owner.member)
      if (!piece) {
        piece = {
          topic: result.topic,
          partition: result.partition,
          baseOffset: result.baseOffset >= 0 ? result.baseOffset + position : -1,
          logAppendTimeMs: result.logAppendTimeMs,
          logStartOffset: result.logStartOffset,
          localIndexes: [],
          error: result.error,
          leaderId: result.leaderId,
        }
        byMember.set(owner.member, piece)
        out[owner.member]!.push(piece)
      }
      piece.localIndexes.push(owner.local)
    })
  }
  return out
}

function isPathFailure(error: Error): error is SidecarUnavailableError {
  return error instanceof SidecarUnavailableError
}
