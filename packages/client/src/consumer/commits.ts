/**
 * Commits through the sidecar: a CommitOffsets request per commit, answered by a CommitResult with
 * the same request id. A commit that succeeded is KafkaJS's COMMIT_OFFSETS event, with the offsets
 * as KafkaJS's payload lists them; one that failed rejects with the KafkaJS error the sidecar's
 * error stands for. The stream lost fails every commit still waiting, retriably.
 *
 * A commit naming ownerships the sidecar no longer gives this process (taken after a revoke timeout,
 * or dropped by a Kafka rebalance before the revoke got here) is committed for the others; the
 * refused ones are lost (`onRefused`), and the commit rejects with KafkaJS's ILLEGAL_GENERATION, the
 * error a KafkaJS member meets committing after its partitions moved: a rejoin, not a crash.
 */
import type { CommitResult, ProcessedOffset } from '@kafka-sidecar/proto'
import { status } from '@grpc/grpc-js'
import kafkajs from 'kafkajs'
import type { TopicOffsets } from 'kafkajs'
import { toKafkaJSError } from '../transport/sidecar-errors.js'
import type { ConsumeTransport } from './consume-transport.js'
import type { ConsumerEvents } from './consumer-events.js'
import type { ConsumerMetrics } from './consumer-metrics.js'

/** What the COMMIT_OFFSETS event says besides the offsets. */
export interface GroupIdentity {
  readonly groupId: string
  readonly memberId: string
  readonly groupGenerationId: number
}

/** Whether the sidecar committed this partition's offset (every one, unless it refused some). */
export type WasCommitted = (topic: string, partition: number) => boolean

interface Waiting {
  /** How COMMIT_OFFSETS lists the offsets; null: a commit KafkaJS makes without the event (a seek's). */
  readonly topics: TopicOffsets[] | null
  readonly onCommitted: (committed: WasCommitted) => void
  /** When it was sent (performance.now()), for its round trip. */
  readonly sentAt: number
  resolve(): void
  reject(error: Error): void
}

const MAX_REQUEST_ID = Number.MAX_SAFE_INTEGER
/** Kafka's ILLEGAL_GENERATION: what the sidecar answers for offsets of an ownership it took. */
const ILLEGAL_GENERATION = 22

export class Commits {
  private lastRequestId = 0
  private readonly waiting = new Map<number, Waiting>()

  constructor(
    private readonly transport: ConsumeTransport,
    private readonly events: ConsumerEvents,
    private readonly identity: () => GroupIdentity,
    private readonly onRefused: (refused: readonly ProcessedOffset[]) => void,
    private readonly metrics: ConsumerMetrics,
  ) {}

  /**
   * Asks the sidecar to commit `offsets`; `topics` is how the COMMIT_OFFSETS event lists them, and
   * `onCommitted` runs once the sidecar committed them, before the event.
   */
  send(
    offsets: ProcessedOffset[],
    topics: TopicOffsets[] | null,
    onCommitted: (committed: WasCommitted) => void,
  ): Promise<void> {
    this.lastRequestId = this.lastRequestId >= MAX_REQUEST_ID ? 1 : this.lastRequestId + 1
    const requestId = this.lastRequestId
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(requestId, { topics, onCommitted, sentAt: performance.now(), resolve, reject })
      this.transport.commit({ requestId, offsets })
    })
  }

  onResult(result: CommitResult): void {
    const waiting = this.waiting.get(result.requestId)
    if (!waiting) return
    this.waiting.delete(result.requestId)
    const seconds = (performance.now() - waiting.sentAt) / 1000
    if (result.error) {
      this.metrics.committed('failed', seconds)
      waiting.reject(toKafkaJSError(result.error))
      return
    }
    // Offsets not committed because their ownership is not this process's any more (an older
    // sidecar sends none: protobuf decodes the missing field as []).
    const refused = result.refused
    this.metrics.committed(refused.length > 0 ? 'refused' : 'ok', seconds)
    if (refused.length > 0) {
      const names = new Set(refused.map((o) => `${o.topic}|${o.partition}`))
      waiting.onCommitted((topic, partition) => !names.has(`${topic}|${partition}`))
      this.onRefused(refused)
      waiting.reject(notOwnedAnyMore(refused))
      return
    }
    waiting.onCommitted(() => true)
    if (waiting.topics)
      this.events.emitFromSidecar('consumer.commit_offsets', { ...this.identity(), topics: waiting.topics })
    waiting.resolve()
  }

  /** The stream is gone: the sidecar will not answer these. Retriable, as a lost connection is in KafkaJS. */
  failAll(reason: string): void {
    for (const waiting of this.waiting.values()) {
      this.metrics.committed('failed', (performance.now() - waiting.sentAt) / 1000)
      waiting.reject(new kafkajs.KafkaJSError(`Commit not answered: ${reason}`, { retriable: true }))
    }
    this.waiting.clear()
  }
}

/** KafkaJS's error for a commit by a member whose partitions moved, naming the partitions. */
function notOwnedAnyMore(refused: readonly ProcessedOffset[]): Error {
  const names = refused.map((o) => `${o.topic}[${o.partition}]`).join(', ')
  return toKafkaJSError({
    grpcCode: status.FAILED_PRECONDITION,
    message: `not committed, this process does not own them any more: ${names}`,
    kafkaErrorCode: ILLEGAL_GENERATION,
    kafkaErrorName: 'ILLEGAL_GENERATION',
    retriable: false,
    retryAfterMs: 0,
  })
}
