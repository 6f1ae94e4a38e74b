/**
 * The dead-letter option, beyond KafkaJS, as an application types it: the consumer it gives is
 * still assignable to KafkaJS's Consumer, and its DEAD_LETTER event is typed. Never run.
 */
import {
  DEAD_LETTER_HEADERS,
  type DeadLetterConsumer,
  type DeadLetterEventPayload,
  type Kafka,
} from '@kafka-sidecar/client'
import type * as KafkaJS from 'kafkajs'

export async function deadLetters(kafka: Kafka): Promise<void> {
  const consumer: DeadLetterConsumer = kafka.consumer({
    groupId: 'orders',
    deadLetter: { topic: 'orders.dlq', attempts: 5, backoff: { initialMs: 100, maxMs: 10_000, multiplier: 2 } },
  })
  const asKafkaJS: KafkaJS.Consumer = consumer
  const remove = consumer.on(consumer.events.DEAD_LETTER, ({ payload }) => {
    const seen: DeadLetterEventPayload = payload
    void [seen.topic, seen.partition, seen.offset, seen.deadLetterTopic, seen.attempts, seen.error]
  })
  consumer.on(consumer.events.CRASH, ({ payload }) => void payload.error)
  remove()
  // Without the option, KafkaJS's Consumer type, as before.
  const plain: KafkaJS.Consumer = kafka.consumer({ groupId: 'plain' })
  void [asKafkaJS, plain, DEAD_LETTER_HEADERS.errorMessage]
}
