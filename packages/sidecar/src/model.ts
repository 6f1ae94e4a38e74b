/**
 * The sidecar's own view of a request, independent of protobuf: what the gRPC layer hands to the
 * core once a request is validated, and what the core hands back.
 */
import type { SidecarError } from './errors.js'

export type Acks = -1 | 0 | 1
/** KafkaJS CompressionTypes numbering. */
export type CompressionCode = 0 | 1 | 2 | 3 | 4

export interface RecordHeader {
  readonly key: string
  readonly value: Buffer | null
}

export interface IncomingRecord {
  readonly topic: string
  readonly key: Buffer | null
  readonly value: Buffer | null
  readonly headers: readonly RecordHeader[]
  /** Explicit partition, or null to partition as KafkaJS's default partitioner. */
  readonly partition: number | null
  /** Milliseconds since the epoch, or null for "now". */
  readonly timestampMs: number | null
  /**
   * Which TopicRecords of its request it came in (one per send and topic): the records of one
   * segment for a partition go to the broker in one record batch.
   */
  readonly segment: number
}

export interface ProduceRequest {
  readonly requestId: number
  readonly clientId: string
  readonly appName: string
  /** The client producer instance, for delivery reports; '' when the caller gave none (no reports kept). */
  readonly instanceId: string
  readonly acks: Acks
  /** The broker ack timeout for its records (KafkaJS's `timeout`), 0 included. */
  readonly timeoutMs: number
  readonly compression: CompressionCode
  readonly awaitDelivery: boolean
  /** EmitRequest.reports_from_ack, where the ack carries the results: the client reports from the ack, so no report is published. */
  readonly reportsFromAck: boolean
  /** The client's allowAutoTopicCreation; null leaves it to the sidecar's setting. */
  readonly allowAutoTopicCreation: boolean | null
  /** EmitRequest.order_epoch: the stream's order barrier applies from 1; 0 opts out. */
  readonly orderEpoch: number
  /** EmitRequest.idempotent: the records must be written by an idempotent producer. */
  readonly idempotent: boolean
  /** Flattened in request order; the position is the record index used in results. */
  readonly records: readonly IncomingRecord[]
}

/** The broker's answer for one request's records in one topic-partition. */
export interface PartitionOutcome {
  readonly topic: string
  readonly partition: number
  readonly baseOffset: number
  readonly logAppendTimeMs: number
  readonly logStartOffset: number
  readonly recordIndexes: readonly number[]
  readonly error: SidecarError | null
}
