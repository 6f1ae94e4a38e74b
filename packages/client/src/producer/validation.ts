/**
 * KafkaJS 2.2.4's producer checks, in its order, with its error classes and messages, so a
 * program sees the same failure whichever mode it runs in (KafkaJS src/producer/index.js and
 * messageProducer.js are the reference).
 */
import kafkajs from 'kafkajs'
import type { ProducerBatch, ProducerConfig, TopicMessages } from 'kafkajs'

const { KafkaJSError, KafkaJSNonRetriableError } = kafkajs

export type ConnectionStatus = 'connected' | 'disconnecting' | 'disconnected'

/** Checks a producer config when the producer is created, as KafkaJS's createProducer does. */
export function validateProducerConfig(config: ProducerConfig): void {
  const idempotent = config.idempotent ?? false
  const retries = config.retry?.retries ?? (idempotent ? Number.MAX_SAFE_INTEGER : 5)
  if (idempotent && retries < 1) {
    throw new KafkaJSNonRetriableError('Idempotent producer must allow retries to protect against transient errors')
  }
}

/**
 * Checks a sendBatch request and merges repeated topics the way KafkaJS does (their messages are
 * concatenated into the first occurrence), so record positions match KafkaJS's.
 */
export function validateBatch(batch: ProducerBatch, idempotent: boolean, status: ConnectionStatus): TopicMessages[] {
  const { acks = -1, topicMessages = [] } = batch
  if (topicMessages.some(({ topic }) => !topic)) throw new KafkaJSNonRetriableError('Invalid topic')
  if (idempotent && acks !== -1) {
    throw new KafkaJSNonRetriableError(
      "Not requiring ack for all messages invalidates the idempotent producer's EoS guarantees",
    )
  }
  for (const { topic, messages } of topicMessages) {
    if (!messages) throw new KafkaJSNonRetriableError(`Invalid messages array [${messages}] for topic "${topic}"`)
    const withoutValue = messages.find((message) => message.value === undefined)
    if (withoutValue) {
      throw new KafkaJSNonRetriableError(
        `Invalid message without value for topic "${topic}": ${JSON.stringify(withoutValue)}`,
      )
    }
  }
  if (status === 'disconnecting')
    throw new KafkaJSNonRetriableError(
      `The producer is disconnecting; therefore, it can't safely accept messages anymore`,
    )
  if (status === 'disconnected') throw new KafkaJSError('The producer is disconnected')

  const merged: TopicMessages[] = []
  for (const { topic, messages } of topicMessages) {
    const existing = merged.find((m) => m.topic === topic)
    if (existing) existing.messages = [...existing.messages, ...messages]
    else merged.push({ topic, messages })
  }
  return merged
}
