/**
 * Several sends' parts as one EmitRequest, and the request's results split back to the sends
 * whose records they describe. Only parts with the same request fields merge (`compatible`), up
 * to the coalescer's limits (`groupEnd`).
 */
import { Acks, type EmitRequest, type PartitionResult, type TopicRecords } from '@kafka-sidecar/proto'
import type { OutgoingMessage } from '../producer/messages.js'
import type { EmitPart, PartResult } from './emit-part.js'

export interface RequestIdentity {
  readonly clientId: string
  readonly appName: string
  readonly instanceId: string
}

/** Record index i of a merged request -> the part it came from (`member`) and its position there. */
export type RecordOwners = ReadonlyArray<{ member: number; local: number }>

export interface MergedRequest {
  readonly request: EmitRequest
  /** The request's records, `outgoing[i]` being its record index i. */
  readonly outgoing: readonly OutgoingMessage[]
  readonly ownerOf: RecordOwners
}

/**
 * Where the message that starts at `queue[start]` ends: the parts after it that may share its
 * message (compatible, not to be written alone) while the message stays within the limits.
 */
export function groupEnd(
  queue: ReadonlyArray<{ readonly part: EmitPart; readonly alone: boolean }>,
  start: number,
  limits: { readonly maxRecords: number; readonly maxBytes: number },
): number {
  const first = queue[start]!
  let records = first.part.outgoing.length
  let bytes = first.part.bytes
  let end = start + 1
  while (!first.alone && end < queue.length) {
    const next = queue[end]!
    if (next.alone || !compatible(first.part, next.part)) break
    if (records + next.part.outgoing.length > limits.maxRecords || bytes + next.part.bytes > limits.maxBytes) break
    records += next.part.outgoing.length
    bytes += next.part.bytes
    end++
  }
  return end
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

/** `parts` (compatible with one another, in send order) as request `requestId` of `orderEpoch`. */
export function mergeParts(
  parts: readonly EmitPart[],
  requestId: number,
  orderEpoch: number,
  identity: RequestIdentity,
): MergedRequest {
  const first = parts[0]!
  // One TopicRecords per send and topic, in send order: the sidecar writes each one's records
  // for a partition as one record batch, so every send stays all-or-nothing per partition, as
  // in KafkaJS, however many sends share the message. Records of one topic keep send order.
  const topics: TopicRecords[] = []
  // Record index i of the merged request (topic groups flattened in order) -> its owner.
  const ownerOf: Array<{ member: number; local: number }> = []
  const outgoing: OutgoingMessage[] = []
  parts.forEach((part, member) => {
    let local = 0
    for (const { topic, records } of part.topics) {
      topics.push({ topic, records })
      for (let i = 0; i < records.length; i++) {
        ownerOf.push({ member, local })
        outgoing.push(part.outgoing[local++]!)
      }
    }
  })
  const request: EmitRequest = {
    requestId,
    clientId: identity.clientId,
    appName: identity.appName,
    instanceId: identity.instanceId,
    acks: first.acks,
    timeoutMs: first.timeoutMs,
    compression: first.compression,
    awaitDelivery: true,
    allowAutoTopicCreation: first.allowAutoTopicCreation,
    idempotent: first.idempotent,
    // The ack carries every result except with acks 0 (answered on receipt): reports come from it.
    reportsFromAck: first.acks !== Acks.ACKS_NONE,
    orderEpoch,
    topics,
  }
  return { request, outgoing, ownerOf }
}

/** Splits a merged request's results back to the sends whose records they describe. */
export function splitResults(
  results: readonly PartitionResult[],
  ownerOf: RecordOwners,
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
