/**
 * The names a record keeps on its way down through the client (docs/architecture.md, "A record's
 * route through the client"): the caller's `messages` (KafkaJS's TopicMessages); once checked,
 * an OutgoingSend, whose `outgoing` lists every record as an OutgoingMessage, the position every
 * path and every result refers to; and, settled, KafkaJS's RecordMetadata and a DeliveryReport
 * per record.
 */
import type { Message, ProducerBatch, TopicMessages } from 'kafkajs'

/** One message of a send, with the topic it goes to: what a delivery callback describes. */
export interface OutgoingMessage {
  readonly topic: string
  readonly message: Message
}

/** A send past KafkaJS's checks, as every path takes it. */
export interface OutgoingSend {
  readonly acks: number | undefined
  readonly timeout: number | undefined
  readonly compression: ProducerBatch['compression']
  /** The caller's messages by topic, repeated topics merged as KafkaJS merges them (validation.ts). */
  readonly topicMessages: TopicMessages[]
  /** Every record of the send in order, which is the record order every path reports against. */
  readonly outgoing: OutgoingMessage[]
}

/** The send of `batch`, whose checked messages are `topicMessages` (validateBatch). */
export function toOutgoingSend(batch: ProducerBatch, topicMessages: TopicMessages[]): OutgoingSend {
  const outgoing: OutgoingMessage[] = []
  for (const { topic, messages } of topicMessages) for (const message of messages) outgoing.push({ topic, message })
  return { acks: batch.acks, timeout: batch.timeout, compression: batch.compression, topicMessages, outgoing }
}
