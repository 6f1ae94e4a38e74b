/**
 * What one sendBatch's Produce requests achieved, partition by partition, across its retries.
 *
 * KafkaJS 2.2.4 parses a Produce response as a whole: it throws the first refused partition's
 * error, and its sendMessages sends that broker's whole request again, so the partitions the
 * broker wrote are written twice. In the sidecar one request carries many applications'
 * partitions, so one application's stale partition would duplicate another's records. Here each
 * partition of a decoded response stands alone: written (its answer kept: what KafkaJS's parser
 * returns for it, had it been alone), refused with a retriable error (sent again next attempt),
 * or refused for good (never sent again; the sendBatch fails with that error once nothing is
 * left to retry, and produce-answers.ts settles every partition by its own answer).
 */
import { createRequire } from 'node:module'
import type { RecordMetadata } from 'kafkajs'
import type { DecodedProduceResponse } from './produce-answers.js'

const require = createRequire(import.meta.url)
const { failure, createErrorFromCode } = require('kafkajs/src/protocol/error.js') as {
  failure: (code: number) => boolean
  createErrorFromCode: (code: number) => Error & { readonly retriable: boolean }
}

/** A topic's partitions in a request: what `isSettled` is asked about. */
interface SentTopic {
  readonly topic: string
  readonly partitions: ReadonlyArray<{ readonly partition: number }>
}

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`

/** `B` is the broker: answers are returned grouped by broker, in the order brokers were first asked (as KafkaJS's). */
export class ProduceOutcomes<B> {
  private readonly writtenBy = new Map<B, RecordMetadata[]>()
  private readonly settled = new Set<string>()
  private retriable: Error | undefined
  private final: Error | undefined

  /** A new attempt: the previous one's retriable refusals are being sent again. */
  startAttempt(): void {
    this.retriable = undefined
  }

  /** Records `broker` as asked, so its answers keep the place KafkaJS's would have. */
  asking(broker: B): void {
    if (!this.writtenBy.has(broker)) this.writtenBy.set(broker, [])
  }

  /** Written, or refused for good: not to be sent again. */
  isSettled(topic: string, partition: number): boolean {
    return this.settled.has(key(topic, partition))
  }

  /** acks 0: the broker answers nothing, so what left is as good as written (KafkaJS asks no further). */
  sentUnacknowledged(topicData: readonly SentTopic[]): void {
    for (const { topic, partitions } of topicData) for (const { partition } of partitions) this.settle(topic, partition)
  }

  /** Judges each partition of `broker`'s decoded answer on its own. */
  note(broker: B, response: DecodedProduceResponse): void {
    this.asking(broker)
    for (const { topicName, partitions } of response.topics) {
      for (const answer of partitions) {
        if (!failure(answer.errorCode)) {
          this.writtenBy.get(broker)!.push({ topicName, ...answer } as RecordMetadata)
          this.settle(topicName, answer.partition)
          continue
        }
        const error = createErrorFromCode(answer.errorCode)
        if (error.retriable) {
          this.retriable ??= error
        } else {
          this.final ??= error
          this.settle(topicName, answer.partition)
        }
      }
    }
  }

  /**
   * After an attempt whose requests were all answered: the error to retry with (the first
   * retriable refusal, so KafkaJS's retry and metadata decisions apply), else the one to fail
   * with (the first refusal for good), else none: every partition is written.
   */
  refusal(): Error | undefined {
    return this.retriable ?? this.final
  }

  /** The written partitions' answers, as KafkaJS's responseSerializer lists them. */
  metadata(): RecordMetadata[] {
    return [...this.writtenBy.values()].flat()
  }

  private settle(topic: string, partition: number): void {
    this.settled.add(key(topic, partition))
  }
}
