/**
 * What the sidecar refuses per partition rather than per request. KafkaJS writes a send's records
 * for one partition as one record batch, so a broker takes or refuses them whole while the same
 * send's other partitions are written; a record over the sidecar's record limit therefore fails
 * its send's records for its partition only (a segment of a request is one send's records for
 * one topic), and the rest of the request is queued as usual. Records for a partition the topic
 * does not have are left out the same way: KafkaJS drops them (it finds no leader for them) and
 * writes the rest.
 */
import { status } from '@grpc/grpc-js'
import { KafkaErrors, invalidArgument, SidecarError } from '../errors.js'

/** A record once its partition is chosen. */
export interface PlacedRecord {
  readonly index: number
  readonly topic: string
  readonly partition: number
  readonly segment: number
  readonly bytes: number
  /** The partition was the client's, not the partitioner's (which only picks existing ones). */
  readonly explicit: boolean
}

/** Records of one send for one partition that are not queued, and why. */
export interface PartitionRefusal {
  readonly topic: string
  readonly partition: number
  readonly recordIndexes: number[]
  readonly error: SidecarError
}

/** The refusals of a request's records, and the records that are queued. */
export interface Sorted<R extends PlacedRecord> {
  readonly queued: readonly R[]
  readonly refused: readonly PartitionRefusal[]
}

function groupKey(record: PlacedRecord): string {
  return `${record.segment}\u0000${record.topic}\u0000${record.partition}`
}

/** Why a record refuses its send's records for its partition, or null. */
export type RefusalRule = (record: PlacedRecord) => SidecarError | null

export function recordTooLarge(maxRecordBytes: number): RefusalRule {
  return (record) =>
    record.bytes > maxRecordBytes
      ? invalidArgument(
          `record ${record.index} is ${record.bytes} bytes, larger than max_record_bytes ${maxRecordBytes}`,
          KafkaErrors.MESSAGE_TOO_LARGE,
        )
      : null
}

/**
 * NOT_FOUND in a result, which the contract reserves for this: the partition does not exist, and
 * its records were not written (a client that mirrors KafkaJS resolves the send without them).
 */
export function partitionAbsent(
  partitionCount: (topic: string) => number,
  hasPartition: (topic: string, partition: number) => boolean,
): RefusalRule {
  return (record) =>
    !record.explicit || hasPartition(record.topic, record.partition)
      ? null
      : new SidecarError({
          grpcCode: status.NOT_FOUND,
          message: `topic "${record.topic}" has no partition ${record.partition} (it has ${partitionCount(record.topic)}): not written`,
          kafka: KafkaErrors.UNKNOWN_TOPIC_OR_PARTITION,
        })
}

/**
 * Splits placed records into those to queue and, per send and partition, those refused whole:
 * the first rule that refuses a record of a group decides the group's error.
 */
export function sortOutRefusals<R extends PlacedRecord>(
  records: readonly R[],
  rules: readonly RefusalRule[],
): Sorted<R> {
  const errors = new Map<string, SidecarError>()
  for (const record of records) {
    const key = groupKey(record)
    if (errors.has(key)) continue
    for (const rule of rules) {
      const error = rule(record)
      if (error) {
        errors.set(key, error)
        break
      }
    }
  }
  if (errors.size === 0) return { queued: records, refused: [] }
  const queued: R[] = []
  const refused = new Map<string, PartitionRefusal>()
  for (const record of records) {
    const key = groupKey(record)
    const error = errors.get(key)
    if (!error) {
      queued.push(record)
      continue
    }
    let refusal = refused.get(key)
    if (!refusal)
      refused.set(key, (refusal = { topic: record.topic, partition: record.partition, recordIndexes: [], error }))
    refusal.recordIndexes.push(record.index)
  }
  return { queued, refused: [...refused.values()] }
}
