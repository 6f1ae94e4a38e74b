/**
 * One consumer instance of a process, as its group member sees it: what it subscribed to, its
 * flow-control limits and what it has in flight, the topics it paused, the ownerships it was
 * given, and how to reach its stream.
 */
import {
  PausedPartitions,
  type ConsumeEvent,
  type GroupSettings,
  type PauseRequest,
  type TopicPartitions,
} from '@kafka-sidecar/proto'
import type { SidecarError } from '../errors.js'
import type { Freed } from './partition-feed.js'
import type { SubscriptionSet } from './subscriptions.js'

export interface FlowLimits {
  readonly maxRecordsInFlight: number
  readonly maxBytesInFlight: number
  /** Batches of one partition in flight at once (pipelining); 0: one, for clients that do not count rewinds. */
  readonly maxBatchesPerPartition: number
}

export interface ProcessIdentity {
  /** Unique per stream (an instance that reconnects is a new process). */
  readonly id: string
  readonly instanceId: string
  readonly clientId: string
  readonly appName: string
}

/** What a process's stream does for its group member. */
export interface ProcessStream {
  send(event: ConsumeEvent): void
  /** Ends the stream with this error (the member failed for good). */
  end(error: SidecarError): void
  /** The process left and its last batch is done: the stream ends. */
  left(): void
}

export class ConsumerProcess {
  inFlightRecords = 0
  inFlightBytes = 0
  /** Said `leave`: no new batches; it goes once its batches are done. */
  leaving = false
  /** Assignment ids of its live ownerships, and the partition each names. */
  private readonly issued = new Map<number, string>()
  /** Ids of its ended ownerships, the latest few: a late report naming one is checked, then ignored. */
  private readonly ended = new Map<number, string>()
  /** The lowest and highest ids ever given to it: ids between, not remembered, ended long ago. */
  private firstIssued = Infinity
  private lastIssued = -Infinity
  private readonly pauses = new PausedPartitions()
  /** The partitions it was last told it owns (null: never told), to tell it again only when they change. */
  lastAssigned: string | null = null

  constructor(
    readonly identity: ProcessIdentity,
    readonly subscriptions: SubscriptionSet,
    /** The KafkaJS consumer options it joined with (the first process's make the group member). */
    readonly settings: GroupSettings | undefined,
    readonly limits: FlowLimits,
    readonly stream: ProcessStream,
  ) {}

  get id(): string {
    return this.identity.id
  }

  accepts(topic: string): boolean {
    return this.subscriptions.accepts(topic)
  }

  /** Room for another batch: null when full; with nothing in flight, any batch fits (one record at least). */
  room(): { records: number; bytes: number } | null {
    const { maxRecordsInFlight, maxBytesInFlight } = this.limits
    if (this.inFlightRecords === 0 && this.inFlightBytes === 0)
      return { records: maxRecordsInFlight, bytes: maxBytesInFlight }
    const records = maxRecordsInFlight - this.inFlightRecords
    const bytes = maxBytesInFlight - this.inFlightBytes
    return records > 0 && bytes > 0 ? { records, bytes } : null
  }

  /**
   * The most one batch takes: with pipelining half the limits, so that a second batch can travel
   * while the process handles the first (one batch taking all the room left the process idle
   * between batches of a backlog: `done`, then the next batch encoded, sent and decoded).
   */
  batchLimits(): { records: number; bytes: number } {
    const { maxRecordsInFlight, maxBytesInFlight, maxBatchesPerPartition } = this.limits
    if (maxBatchesPerPartition === 0) return { records: maxRecordsInFlight, bytes: maxBytesInFlight }
    return {
      records: Math.max(1, Math.ceil(maxRecordsInFlight / 2)),
      bytes: Math.max(1, Math.ceil(maxBytesInFlight / 2)),
    }
  }

  took(records: number, bytes: number): void {
    this.inFlightRecords += records
    this.inFlightBytes += bytes
  }

  gaveBack(freed: Freed): void {
    this.inFlightRecords = Math.max(0, this.inFlightRecords - freed.records)
    this.inFlightBytes = Math.max(0, this.inFlightBytes - freed.bytes)
  }

  issue(assignmentId: number, partitionKey: string): void {
    this.issued.set(assignmentId, partitionKey)
    this.firstIssued = Math.min(this.firstIssued, assignmentId)
    this.lastIssued = Math.max(this.lastIssued, assignmentId)
  }

  /** The ownership ended: its id is kept among the latest ended only, so a long stream does not grow. */
  ownershipEnded(assignmentId: number): void {
    const key = this.issued.get(assignmentId)
    if (key === undefined) return
    this.issued.delete(assignmentId)
    this.ended.set(assignmentId, key)
    if (this.ended.size > MAX_ENDED_REMEMBERED) this.ended.delete(this.ended.keys().next().value!)
  }

  /**
   * The partition an assignment id given to this process names; 'ended-long-ago' for an id in
   * the range it was given that is no longer remembered; undefined when it never was.
   */
  issuedFor(assignmentId: number): string | 'ended-long-ago' | undefined {
    const key = this.issued.get(assignmentId) ?? this.ended.get(assignmentId)
    if (key !== undefined) return key
    return assignmentId >= this.firstIssued && assignmentId <= this.lastIssued ? 'ended-long-ago' : undefined
  }

  /** KafkaJS's pause: an empty partition list is the whole topic (KafkaJS's partitions left out). */
  pause(topics: readonly TopicPartitions[]): void {
    this.pauses.pause(topics.map(pauseChange))
  }

  resume(topics: readonly TopicPartitions[]): void {
    this.pauses.resume(topics.map(pauseChange))
  }

  isPaused(topic: string, partition: number): boolean {
    return this.pauses.isPaused(topic, partition)
  }
}

/** Ended ownerships remembered per process, to check late reports naming them. */
const MAX_ENDED_REMEMBERED = 1_000

function pauseChange({ topic, partitions }: TopicPartitions): PauseRequest {
  return partitions.length === 0 ? { topic } : { topic, partitions }
}
