/**
 * KafkaJS 2.2.4's argument checks for the consumer's methods, with its errors and messages, in its
 * order: the arguments first, then whether the consumer runs.
 */
import kafkajs from 'kafkajs'
import type { ConsumerSubscribeTopic, ConsumerSubscribeTopics, TopicPartitionOffsetAndMetadata } from 'kafkajs'
import Long from 'kafkajs/src/utils/long.js'
import type { PauseRequest } from '@kafka-sidecar/proto'

const { KafkaJSNonRetriableError } = kafkajs

/** KafkaJS's LATEST_OFFSET and EARLIEST_OFFSET: the negative offsets seek() takes. */
const SPECIAL_OFFSETS = new Set([-1n, -2n])

export const NOT_RUNNING_MESSAGE = 'Consumer group was not initialized, consumer#run must be called first'

export interface Subscribed {
  readonly subscriptions: Array<string | RegExp>
  readonly fromBeginning: boolean
}

export function checkSubscription(subscription: ConsumerSubscribeTopics | ConsumerSubscribeTopic): Subscribed {
  const {
    topic,
    topics,
    fromBeginning = false,
  } = subscription as { topic?: unknown; topics?: unknown; fromBeginning?: boolean }
  if (!topic && !topics) throw new KafkaJSNonRetriableError('Missing required argument "topics"')
  if (topics != null && !Array.isArray(topics)) throw new KafkaJSNonRetriableError('Argument "topics" must be an array')
  const subscriptions = (topics ?? [topic]) as unknown[]
  for (const s of subscriptions) {
    if (typeof s !== 'string' && !(s instanceof RegExp))
      throw new KafkaJSNonRetriableError(
        `Invalid topic ${String(s)} (${typeof s}), the topic name has to be a String or a RegExp`,
      )
  }
  return { subscriptions: subscriptions as Array<string | RegExp>, fromBeginning }
}

function checkTopicPartition(topic: unknown, partition: unknown): void {
  if (!topic) throw new KafkaJSNonRetriableError(`Invalid topic ${String(topic)}`)
  if (isNaN(partition as number))
    throw new KafkaJSNonRetriableError(`Invalid partition, expected a number received ${String(partition)}`)
}

function parseOffset(offset: unknown): bigint {
  try {
    return Long.fromValue(offset).value
  } catch {
    throw new KafkaJSNonRetriableError(`Invalid offset, expected a long received ${String(offset)}`)
  }
}

export interface CommitRequest {
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
  readonly metadata: string | null
}

export function checkCommitOffsets(offsets: TopicPartitionOffsetAndMetadata[] = []): CommitRequest[] {
  return offsets.map(({ topic, partition, offset, metadata = null }) => {
    checkTopicPartition(topic, partition)
    const value = parseOffset(offset)
    if (value < 0n) throw new KafkaJSNonRetriableError('Offset must not be a negative number')
    if (metadata !== null && typeof metadata !== 'string')
      throw new KafkaJSNonRetriableError(
        `Invalid offset metadata, expected string or null, received ${String(metadata)}`,
      )
    return { topic, partition, offset: value, metadata }
  })
}

export function checkSeek({ topic, partition, offset }: { topic: string; partition: number; offset: unknown }): bigint {
  checkTopicPartition(topic, partition)
  const value = parseOffset(offset)
  if (value < 0n && !SPECIAL_OFFSETS.has(value))
    throw new KafkaJSNonRetriableError('Offset must not be a negative number')
  return value
}

export function checkPauseRequests(requests: PauseRequest[] = [], verb: 'pause' | 'resume'): PauseRequest[] {
  for (const request of requests) {
    if (!request || !request.topic) {
      throw new KafkaJSNonRetriableError(`Invalid topic ${String((request && request.topic) || request)}`)
    }
    const { partitions } = request
    if (partitions !== undefined && (!Array.isArray(partitions) || partitions.some((p) => isNaN(p)))) {
      throw new KafkaJSNonRetriableError(
        `Array of valid partitions required to ${verb} specific partitions instead of ${String(partitions)}`,
      )
    }
  }
  return requests
}
