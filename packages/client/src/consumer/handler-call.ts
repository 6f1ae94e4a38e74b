/**
 * One call of the application's handler, watched for the signs that an error it throws is meant
 * to stop the consumer rather than report a bad record: a helper of the consumer's failed during
 * the call (heartbeat() throws when the group rebalances), the handler paused its partition (the
 * KafkaJS way to have a record delivered again later is pause() then throw), or the error is one
 * KafkaJS's runner treats as a rebalance. Such an error is never retried nor dead-lettered.
 */
import type { EachBatchPayload, EachMessagePayload } from 'kafkajs'

/** KafkaJS 2.2.4's isRebalancing(), and the UNKNOWN_MEMBER_ID its runner rejoins on. */
const REJOIN_TYPES: ReadonlySet<string> = new Set([
  'REBALANCE_IN_PROGRESS',
  'NOT_COORDINATOR_FOR_GROUP',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
])

function isRejoinError(error: unknown): boolean {
  const type = (error as { type?: unknown } | null)?.type
  return typeof type === 'string' && REJOIN_TYPES.has(type)
}

export class HandlerCall {
  private helperFailed = false
  private paused = false

  /** Whether `error`, thrown by the handler in this call, stops the consumer's work on the partition. */
  stopsTheConsumer(error: unknown): boolean {
    return this.helperFailed || this.paused || isRejoinError(error)
  }

  /** `helper`, noting when it fails. */
  private watched<A extends unknown[], R>(helper: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return async (...args) => {
      try {
        return await helper(...args)
      } catch (error) {
        this.helperFailed = true
        throw error
      }
    }
  }

  private watchedPause(pause: () => () => void): () => () => void {
    return () => {
      this.paused = true
      return pause()
    }
  }

  eachMessagePayload(payload: EachMessagePayload): EachMessagePayload {
    return { ...payload, heartbeat: this.watched(payload.heartbeat), pause: this.watchedPause(payload.pause) }
  }

  /** The payload of eachBatch for `batch` (the whole batch or a slice), `resolveOffset` being the caller's. */
  eachBatchPayload(
    payload: EachBatchPayload,
    batch: EachBatchPayload['batch'],
    resolveOffset: (offset: string) => void,
  ): EachBatchPayload {
    return {
      ...payload,
      batch,
      resolveOffset,
      heartbeat: this.watched(payload.heartbeat),
      commitOffsetsIfNecessary: this.watched(payload.commitOffsetsIfNecessary),
      pause: this.watchedPause(payload.pause),
    }
  }
}
