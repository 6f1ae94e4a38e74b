/**
 * Sends larger than one EmitRequest may be (MAX_REQUEST_RECORDS records, MAX_REQUEST_BYTES
 * encoded) are written as several requests, in order. KafkaJS has no such limit; splitting keeps
 * such a send working instead of refusing it, and keeps every request under what a sidecar reads
 * without ending the stream. A single record too large for any request fails its send here, with
 * the error a broker gives for a record over its message.max.bytes.
 */
import { status } from '@grpc/grpc-js'
import {
  errorDetail,
  KafkaErrors,
  MAX_REQUEST_BYTES,
  MAX_REQUEST_RECORDS,
  type SidecarRecord,
} from '@kafka-sidecar/proto'
import { recordBytes } from './sidecar-record.js'
import type { EmitPart, PartOutcome, PartResult } from './emit-part.js'
import { SidecarRefusal } from './sidecar-errors.js'

/** Encoded bytes of a request besides its topics, at most: ids, acks, timeout, flags, epoch. */
const REQUEST_FIXED_BYTES = 64
/** Encoded bytes a TopicRecords adds besides its topic name and records, at most. */
const TOPIC_FIXED_BYTES = 12

/** A piece of a send written as a request of its own; `offset` is its first record's position in the send. */
export interface PartPiece {
  readonly part: EmitPart
  readonly offset: number
}

/**
 * Shared by the pieces of one split send: once one piece failed, the rest are not written; and
 * `settled` says, once every piece has, whether all succeeded. The delivery reports of a piece
 * wait for it: a send that fails as a whole is reported by its failure (or by the direct resend
 * of all its records), so its pieces' own reports would report those records twice.
 */
export interface Siblings {
  failure: Error | null
  readonly settled: Promise<boolean>
}

/** Encoded bytes of a request's fixed fields for this producer (its ids are in every request). */
export function requestOverhead(identity: { clientId: string; appName: string; instanceId: string }): number {
  return (
    REQUEST_FIXED_BYTES +
    Buffer.byteLength(identity.clientId) +
    Buffer.byteLength(identity.appName) +
    Buffer.byteLength(identity.instanceId)
  )
}

/**
 * The send as requests within the limits: itself when it fits, else consecutive pieces in send
 * order. Throws (a SidecarRefusal with MESSAGE_TOO_LARGE) when one record fits in no request.
 */
export function splitPart(part: EmitPart, overhead: number): PartPiece[] {
  if (part.outgoing.length <= MAX_REQUEST_RECORDS && overhead + part.bytes + topicsOverhead(part) <= MAX_REQUEST_BYTES)
    return [{ part, offset: 0 }]
  const pieces: PartPiece[] = []
  let current: Builder = newBuilder(0, overhead)
  let index = 0
  for (const { topic, records } of part.topics) {
    const topicBytes = TOPIC_FIXED_BYTES + Buffer.byteLength(topic)
    for (const record of records) {
      const bytes = recordBytes(record)
      if (overhead + topicBytes + bytes > MAX_REQUEST_BYTES) throw tooLarge(index, bytes)
      const newTopic = current.topics.at(-1)?.topic !== topic
      const grows = bytes + (newTopic ? topicBytes : 0)
      if (current.records === MAX_REQUEST_RECORDS || current.bytes + grows > MAX_REQUEST_BYTES) {
        pieces.push(finish(current, part))
        current = newBuilder(index, overhead)
      }
      add(current, topic, topicBytes, record, bytes)
      index++
    }
  }
  pieces.push(finish(current, part))
  return pieces
}

/**
 * The pieces of a split send, settled together: the send fails with the first piece's failure,
 * once every piece has settled (so a resend on another path never overtakes one still here).
 * Pieces written before it stay written; after a path failure the producer resends the whole
 * send directly, so those may be written twice (at-least-once, as for any path failure).
 */
export async function settlePieces(
  pieces: readonly PartPiece[],
  enqueue: (part: EmitPart, siblings: Siblings) => Promise<PartOutcome>,
): Promise<PartOutcome> {
  let settle: (allSucceeded: boolean) => void = () => {}
  const siblings: Siblings = { failure: null, settled: new Promise((resolve) => (settle = resolve)) }
  const outcomes = await Promise.allSettled(pieces.map(({ part }) => enqueue(part, siblings)))
  const failed = outcomes.find((o) => o.status === 'rejected')
  settle(!failed)
  if (failed) throw failed.reason
  const results: PartResult[] = []
  outcomes.forEach((o, i) => {
    const { offset } = pieces[i]!
    for (const r of (o as PromiseFulfilledResult<PartOutcome>).value.results)
      results.push({ ...r, localIndexes: r.localIndexes.map((local) => local + offset) })
  })
  return { results }
}

interface Builder {
  readonly offset: number
  readonly topics: Array<{ topic: string; records: SidecarRecord[] }>
  records: number
  /** Encoded bytes so far, overhead included. */
  bytes: number
  /** Record bytes only, as EmitPart.bytes counts them. */
  recordBytes: number
}

function newBuilder(offset: number, overhead: number): Builder {
  return { offset, topics: [], records: 0, bytes: overhead, recordBytes: 0 }
}

function add(builder: Builder, topic: string, topicBytes: number, record: SidecarRecord, bytes: number): void {
  let last = builder.topics.at(-1)
  if (last?.topic !== topic) {
    builder.topics.push((last = { topic, records: [] }))
    builder.bytes += topicBytes
  }
  last.records.push(record)
  builder.records++
  builder.bytes += bytes
  builder.recordBytes += bytes
}

function finish(builder: Builder, whole: EmitPart): PartPiece {
  const outgoing = whole.outgoing.slice(builder.offset, builder.offset + builder.records)
  return { offset: builder.offset, part: { ...whole, topics: builder.topics, outgoing, bytes: builder.recordBytes } }
}

function topicsOverhead(part: EmitPart): number {
  let bytes = 0
  for (const { topic } of part.topics) bytes += TOPIC_FIXED_BYTES + Buffer.byteLength(topic)
  return bytes
}

function tooLarge(index: number, bytes: number): SidecarRefusal {
  return new SidecarRefusal(
    errorDetail({
      grpcCode: status.INVALID_ARGUMENT,
      message: `record ${index} of this send is ${bytes} bytes encoded: no sidecar request can carry it (at most ${MAX_REQUEST_BYTES} bytes)`,
      kafka: KafkaErrors.MESSAGE_TOO_LARGE,
    }),
  )
}
