/**
 * A send as the sidecar path writes it (an EmitPart): the OutgoingSend's records in the
 * contract's form, grouped by topic, with the request fields that decide what it may be merged
 * with (coalescer.ts); and what the sidecar answers for it (PartResult).
 */
import { Acks, type ErrorDetail, type SidecarRecord } from '@kafka-sidecar/proto'
import type { OutgoingMessage, OutgoingSend } from '../producer/messages.js'
import { recordBytes, toSidecarRecord } from './sidecar-record.js'

export interface EmitPart {
  readonly acks: Acks
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
  readonly error: ErrorDetail | undefined
  /** The partition's leader when written, -1 if unknown. */
  readonly leaderId: number
}

export interface PartOutcome {
  /** Empty when the request did not wait for delivery (acks 0). */
  readonly results: PartResult[]
}

/** The producer's settings every part of it carries. */
export interface ProducerFlags {
  readonly allowAutoTopicCreation: boolean | undefined
  readonly idempotent: boolean
}

const DEFAULT_SEND_TIMEOUT_MS = 30_000

export function toEmitPart(send: OutgoingSend, producer: ProducerFlags): EmitPart {
  let bytes = 0
  // The CreateTime of messages without one: this process's clock at send(), as in KafkaJS.
  const now = Date.now()
  // KafkaJS skips a topic whose messages array is empty and writes the others; the contract
  // has no empty TopicRecords (a send that means nothing), so such groups stay here.
  const topics = send.topicMessages
    .filter(({ messages }) => messages.length > 0)
    .map(({ topic, messages }) => ({
      topic,
      records: messages.map((message) => {
        const record = toSidecarRecord(message, now)
        bytes += recordBytes(record)
        return record
      }),
    }))
  return {
    acks: toProtoAcks(send.acks ?? -1),
    timeoutMs: send.timeout ?? DEFAULT_SEND_TIMEOUT_MS,
    compression: send.compression ?? 0,
    allowAutoTopicCreation: producer.allowAutoTopicCreation,
    // The sidecar writes such requests with its idempotent producer, or refuses them.
    idempotent: producer.idempotent,
    topics,
    outgoing: send.outgoing,
    bytes,
  }
}

/** KafkaJS acks (-1, 0, 1) as the contract's enum. */
function toProtoAcks(acks: number): Acks {
  if (acks === 0) return Acks.ACKS_NONE
  if (acks === 1) return Acks.ACKS_LEADER
  return Acks.ACKS_ALL
}
