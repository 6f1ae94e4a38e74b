/**
 * Merges concurrent sends into few EmitStream messages. A record-per-RPC design tops out near
 * 6,000 records/s on two cores; merging what many callers send at the same time lets one
 * message carry hundreds. There is no linger: what arrived during one turn of the event loop
 * leaves at the end of it (setImmediate), so a lone serial send pays no wait.
 *
 * Sends merge only with sends of the same acks, timeout and compression. Records of one topic
 * stay in send order inside the merged message, so per-partition order is the callers' order.
 * When the sidecar refuses a merged message for a reason that belongs to its records (invalid
 * topic, too large, not allowed), each send is retried alone, so one caller's bad record never
 * fails another caller's send.
 */
import { status } from '@grpc/grpc-js'
import type { EmitAck, EmitRequest, PartitionResult, SidecarError as ProtoError, SidecarRecord, TopicRecords } from '@kafka-sidecar/proto'
import type { OutgoingMessage } from '../producer/messages.js'
import type { EmitStream } from './emit-stream.js'
import { isPathFailureCode, SidecarRefusal, SidecarUnavailableError } from './sidecar-errors.js'

export interface EmitPart {
  readonly acks: number
  readonly timeoutMs: number
  readonly compression: number
  /** The producer's allowAutoTopicCreation; undefined leaves it to the sidecar. */
  readonly allowAutoTopicCreation: boolean | undefined
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

export interface RequestIdentity {
  readonly clientId: string
  readonly appName: string
  readonly instanceId: string
}

export interface CoalescerLimits {
  readonly maxRecords: number
  readonly maxBytes: number
  /** Added to a request's own timeout to get how long the sidecar may take to answer. */
  readonly deadlineMarginMs: number
}

interface Queued {
  readonly part: EmitPart
  readonly alone: boolean
  resolve(outcome: PartOutcome): void
  reject(error: Error): void
}

export class Coalescer {
  private queue: Queued[] = []
  private flushScheduled = false

  constructor(
    private readonly stream: EmitStream,
    private readonly identity: RequestIdentity,
    private readonly limits: CoalescerLimits,
    private readonly observer: CoalescerObserver,
  ) {}

  submit(part: EmitPart): Promise<PartOutcome> {
    return this.enqueue(part, false)
  }

  private enqueue(part: EmitPart, alone: boolean): Promise<PartOutcome> {
    return new Promise<PartOutcome>((resolve, reject) => {
      this.queue.push({ part, alone, resolve, reject })
      if (!this.flushScheduled) {
        this.flushScheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  private flush(): void {
    this.flushScheduled = false
    const queue = this.queue
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
        if (records + next.part.outgoing.length > this.limits.maxRecords || bytes + next.part.bytes > this.limits.maxBytes) break
        group.push(next)
        records += next.part.outgoing.length
        bytes += next.part.bytes
        i++
      }
      this.write(group)
    }
  }

  private write(group: Queued[]): void {
    const first = group[0]!.part
    const requestId = this.stream.nextRequestId()
    // Merge topic groups: records of one topic keep the order of the sends they came from.
    const topics = new Map<string, TopicRecords>()
    const owners = new Map<string, Array<{ member: number; local: number }>>()
    group.forEach((queued, member) => {
      let local = 0
      for (const { topic, records } of queued.part.topics) {
        let entry = topics.get(topic)
        if (!entry) {
          entry = { topic, records: [] }
          topics.set(topic, entry)
          owners.set(topic, [])
        }
        const topicOwners = owners.get(topic)!
        for (const record of records) {
          entry.records.push(record)
          topicOwners.push({ member, local: local++ })
        }
      }
    })
    // Record index i of the merged request (topic groups flattened in order) -> its owner.
    const ownerOf: Array<{ member: number; local: number }> = []
    const outgoing: OutgoingMessage[] = []
    for (const topic of topics.keys()) {
      for (const owner of owners.get(topic)!) {
        ownerOf.push(owner)
        outgoing.push(group[owner.member]!.part.outgoing[owner.local]!)
      }
    }
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
      topics: [...topics.values()],
    }
    this.observer.onRequest(requestId, outgoing, first.acks)
    this.stream.send(request, first.timeoutMs + this.limits.deadlineMarginMs).then(
      (ack) => {
        if (!ack.received) {
          this.observer.onAbandoned(requestId)
          const detail = ack.error ?? { grpcCode: status.INTERNAL, message: 'sidecar refused the request without a reason', kafkaErrorCode: 0, kafkaErrorName: '', retriable: true, retryAfterMs: 0 }
          if (isPathFailureCode(detail.grpcCode)) {
            // Not taking requests (shutting down, or not connected to Kafka): nothing was queued.
            const unavailable = new SidecarUnavailableError(`sidecar refused the request: ${detail.message}`, detail.grpcCode, false)
            for (const queued of group) queued.reject(unavailable)
            return
          }
          const refusal = new SidecarRefusal(detail)
          if (group.length > 1 && !refusal.isBackpressure) {
            // The refusal may belong to one send's records only: let each send hear its own answer.
            for (const queued of group) this.enqueue(queued.part, true).then(queued.resolve, queued.reject)
            return
          }
          for (const queued of group) queued.reject(refusal)
          return
        }
        this.observer.onAck(requestId, ack)
        const perMember = splitResults(ack.results, ownerOf, group.length)
        group.forEach((queued, member) => queued.resolve({ results: perMember[member]! }))
      },
      (error: Error) => {
        this.observer.onAbandoned(requestId)
        for (const queued of group) queued.reject(error)
      },
    )
  }
}

function compatible(a: EmitPart, b: EmitPart): boolean {
  return a.acks === b.acks && a.timeoutMs === b.timeoutMs && a.compression === b.compression && a.allowAutoTopicCreation === b.allowAutoTopicCreation
}

/** Splits a merged request's results back to the sends whose records they describe. */
function splitResults(results: readonly PartitionResult[], ownerOf: ReadonlyArray<{ member: number; local: number }>, members: number): PartResult[][] {
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
