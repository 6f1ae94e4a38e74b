/**
 * One consumer instance of a process, as its group member sees it: what it subscribed to, its
 * flow-control limits and what it has in flight, the topics it paused, the ownerships it was
 * given, and how to reach its stream.
 */
import type { ConsumeEvent, GroupSettings, TopicPartitions } from '@kafka-sidecar/proto'
import type { SidecarError } from '../errors.js'
import type { Freed } from './partition-feed.js'
import type { SubscriptionSet } from './subscriptions.js'

export interface FlowLimits {
  readonly maxRecordsInFlight: number
  readonly maxBytesInFlight: number
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
  /** Assignment ids given to this process, and the partition each names. */
  private readonly issued = new Map<number, string>()
  /** Paused partitions by topic; an empty set pauses the whole topic. */
  private readonly paused = new Map<string, Set<number>>()
  /** The partitions it was last told it owns, to tell it again only when they change. */
  lastAssigned = ''

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
  }

  /** The partition an assignment id given to this process names, or undefined when it never was. */
  issuedFor(assignmentId: number): string | undefined {
    return this.issued.get(assignmentId)
  }

  pause(topics: readonly TopicPartitions[]): void {
    for (const { topic, partitions } of topics) {
      if (partitions.length === 0) this.paused.set(topic, new Set())
      else {
        const set = this.paused.get(topic)
        if (set?.size === 0) continue
        this.paused.set(topic, new Set([...(set ?? []), ...partitions]))
      }
    }
  }

  resume(topics: readonly TopicPartitions[]): void {
    for (const { topic, partitions } of topics) {
      const set = this.paused.get(topic)
      if (!set) continue
      if (partitions.length === 0 || set.size === 0) this.paused.delete(topic)
      else {
        for (const p of partitions) set.delete(p)
        if (set.size === 0) this.paused.delete(topic)
      }
    }
  }

  isPaused(topic: string, partition: number): boolean {
    const set = this.paused.get(topic)
    return set !== undefined && (set.size === 0 || set.has(partition))
  }
}
