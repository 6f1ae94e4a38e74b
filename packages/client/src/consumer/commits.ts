/**
 * Commits through the sidecar: a CommitOffsets request per commit, answered by a CommitResult with
 * the same request id. A commit that succeeded is KafkaJS's COMMIT_OFFSETS event, with the offsets
 * as KafkaJS's payload lists them; one that failed rejects with the KafkaJS error the sidecar's
 * error stands for. The stream lost fails every commit still waiting, retriably.
 */
import type { CommitResult, ProcessedOffset } from '@kafka-sidecar/proto'
import kafkajs from 'kafkajs'
import type { TopicOffsets } from 'kafkajs'
import { toKafkaJSError } from '../transport/sidecar-errors.js'
import type { ConsumeTransport } from './consume-transport.js'
import type { ConsumerEvents } from './consumer-events.js'

/** What the COMMIT_OFFSETS event says besides the offsets. */
export interface GroupIdentity {
  readonly groupId: string
  readonly memberId: string
  readonly groupGenerationId: number
}

interface Waiting {
  /** How COMMIT_OFFSETS lists the offsets; null: a commit KafkaJS makes without the event (a seek's). */
  readonly topics: TopicOffsets[] | null
  readonly onCommitted: () => void
  resolve(): void
  reject(error: Error): void
}

const MAX_REQUEST_ID = Number.MAX_SAFE_INTEGER

export class Commits {
  private lastRequestId = 0
  private readonly waiting = new Map<number, Waiting>()

  constructor(
    private readonly transport: ConsumeTransport,
    private readonly events: ConsumerEvents,
    private readonly identity: () => GroupIdentity,
  ) {}

  /**
   * Asks the sidecar to commit `offsets`; `topics` is how the COMMIT_OFFSETS event lists them, and
   * `onCommitted` runs once the sidecar committed them, before the event.
   */
  send(offsets: ProcessedOffset[], topics: TopicOffsets[] | null, onCommitted: () => void): Promise<void> {
    this.lastRequestId = this.lastRequestId >= MAX_REQUEST_ID ? 1 : this.lastRequestId + 1
    const requestId = this.lastRequestId
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(requestId, { topics, onCommitted, resolve, reject })
      this.transport.commit({ requestId, offsets })
    })
  }

  onResult(result: CommitResult): void {
    const waiting = this.waiting.get(result.requestId)
    if (!waiting) return
    this.waiting.delete(result.requestId)
    if (result.error) {
      waiting.reject(toKafkaJSError(result.error))
      return
    }
    waiting.onCommitted()
    if (waiting.topics)
      this.events.emitFromSidecar('consumer.commit_offsets', { ...this.identity(), topics: waiting.topics })
    waiting.resolve()
  }

  /** The stream is gone: the sidecar will not answer these. Retriable, as a lost connection is in KafkaJS. */
  failAll(reason: string): void {
    for (const waiting of this.waiting.values())
      waiting.reject(new kafkajs.KafkaJSError(`Commit not answered: ${reason}`, { retriable: true }))
    this.waiting.clear()
  }
}
