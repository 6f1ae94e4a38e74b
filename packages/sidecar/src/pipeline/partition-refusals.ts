/**
 * What the sidecar refuses per partition rather than per request. KafkaJS writes a send's records
 * for one partition as one record batch, so a broker takes or refuses them whole while the same
 * send's other partitions are written; a record over the sidecar's record limit therefore fails
 * its send's records for its partition only (a segment of a request is one send's records for
 * one topic), and the rest of the request is queued as usual.
 */
import { KafkaErrors, invalidArgument, type SidecarError } from '../errors.js'

/** A record once its partition is chosen. */
export interface PlacedRecord {
  readonly index: number
  readonly topic: string
  readonly partition: number
  readonly segment: number
  readonly bytes: number
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

/** Splits placed records into those to queue and, per send and partition, those refused whole. */
export function sortOutRefusals<R extends PlacedRecord>(records: readonly R[], maxRecordBytes: number): Sorted<R> {
  const errors = new Map<string, SidecarError>()
  for (const record of records) {
    const key = groupKey(record)
    if (record.bytes > maxRecordBytes && !errors.has(key)) {
      errors.set(key, invalidArgument(`record ${record.index} is ${record.bytes} bytes, larger than max_record_bytes ${maxRecordBytes}`, KafkaErrors.MESSAGE_TOO_LARGE))
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
    if (!refusal) refused.set(key, (refusal = { topic: record.topic, partition: record.partition, recordIndexes: [], error }))
    refusal.recordIndexes.push(record.index)
  }
  return { queued, refused: [...refused.values()] }
}
