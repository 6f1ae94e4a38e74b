/**
 * The application's eachMessage / eachBatch, wrapped so a record whose handler keeps failing is
 * tried again with backoff and then dead-lettered, and the partition moves on. The same code runs
 * in direct mode (around KafkaJS's consumer) and in sidecar mode (around SidecarConsumer): it
 * holds the partition within one call of the consumer's handler, so order is kept, and only
 * returns once the record is either processed or safely in the dead-letter topic; the consumer
 * then resolves and commits as it would for a handler that succeeded. docs/consumers.md,
 * "Dead-letter topic", gives the rules.
 */
import type { EachBatchHandler, EachMessageHandler, KafkaMessage, Logger } from 'kafkajs'
import { BatchSlice } from './batch-slice.js'
import { backoffBefore, type DeadLetterPolicy } from './dead-letter-options.js'
import type { Failure } from './dead-letter-record.js'
import { HandlerCall } from './handler-call.js'

export interface DeadLetterHandlerParts {
  readonly policy: DeadLetterPolicy
  readonly groupId: string
  readonly log: Logger
  /** The consumer's heartbeatInterval: how often a wait between tries heartbeats. */
  readonly heartbeatInterval: number
  /** Writes the record to the dead-letter topic; resolves once the write is acknowledged. */
  deadLetter(failure: Failure): Promise<void>
  /** Aborted when the application stops or disconnects the consumer: the tries end there. */
  stopSignal(): AbortSignal
}

/** The record a batch's handler failed on: its index in the batch, and the calls that failed on it. */
interface Failing {
  readonly index: number
  /** Failed calls with it as the first unresolved record, alone or not: the backoff grows with them. */
  readonly failures: number
  /** Failed calls of it alone: `attempts` of these dead-letter it. */
  readonly aloneFailures: number
}

function firstUnresolved(messages: KafkaMessage[], from: number, to: number, lastResolved: bigint | null): number {
  for (let i = from; i < to; i++) if (lastResolved === null || BigInt(messages[i]!.offset) > lastResolved) return i
  return -1
}

/** Resolves after `ms` (an unref'd timer) or when `signal` aborts, whichever is first. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    timer.unref()
    signal.addEventListener('abort', done)
  })
}

export class DeadLetterHandlers {
  constructor(private readonly parts: DeadLetterHandlerParts) {}

  eachMessage(handler: EachMessageHandler): EachMessageHandler {
    const { attempts } = this.parts.policy
    return async (payload) => {
      const { topic, partition, message } = payload
      for (let attempt = 1; ; attempt++) {
        const call = new HandlerCall()
        try {
          await handler(call.eachMessagePayload(payload))
          return
        } catch (error) {
          if (call.stopsTheConsumer(error) || this.stopped()) throw error
          if (attempt >= attempts) return this.parts.deadLetter(this.failure(topic, partition, message, error, attempt))
          this.logRetry(topic, partition, message.offset, error, attempt)
          // A heartbeat that fails (a rebalance) is thrown from here instead: the consumer rejoins.
          if (!(await this.waitBefore(attempt + 1, payload.heartbeat))) throw error
        }
      }
    }
  }

  /**
   * The batch is handed over whole; when the handler throws, the first record it did not resolve
   * is tried alone (a batch of that one record), after a backoff, up to `attempts` times: once
   * that works, the rest of the batch is handed over; if it never does, the record is
   * dead-lettered and resolved, and then the rest is handed over. Alone, a record is blamed for
   * its own failure only, whether or not the handler resolves record by record.
   */
  eachBatch(handler: EachBatchHandler, eachBatchAutoResolve: boolean): EachBatchHandler {
    return async (payload) => {
      const { batch } = payload
      const messages = batch.messages
      let lastResolved: bigint | null = null
      const resolveOffset = (offset: string) => {
        payload.resolveOffset(offset)
        lastResolved = BigInt(offset)
      }
      let from = 0
      let failing: Failing | null = null
      for (;;) {
        const to = failing ? from + 1 : messages.length
        const alone = to - from === 1
        const slice = from === 0 && to === messages.length ? batch : new BatchSlice(batch, from, to)
        const call = new HandlerCall()
        try {
          await handler(call.eachBatchPayload(payload, slice, resolveOffset))
          if (!alone) return
          // The record went through alone: as KafkaJS would resolve a batch of it, then the rest.
          if (eachBatchAutoResolve) resolveOffset(messages[from]!.offset)
        } catch (error) {
          if (call.stopsTheConsumer(error) || this.stopped() || !payload.isRunning() || payload.isStale()) throw error
          // The first record of the slice this call did not resolve is the one to blame; with none
          // (it resolved them all, then threw) there is no record to try again: as in KafkaJS.
          const index = firstUnresolved(messages, from, to, lastResolved)
          if (index < 0) throw error
          failing = this.nextFailing(failing, index, alone)
          if (failing.aloneFailures < this.parts.policy.attempts) {
            this.logRetry(batch.topic, batch.partition, messages[index]!.offset, error, failing.aloneFailures + 1)
            if (!(await this.waitBefore(failing.failures + 1, payload.heartbeat))) throw error
            from = index
            continue
          }
          const message = messages[index]!
          await this.parts.deadLetter(this.failure(batch.topic, batch.partition, message, error, failing.aloneFailures))
          resolveOffset(message.offset)
          from = index
        }
        from++
        failing = null
        if (from >= messages.length) return
      }
    }
  }

  /** A failure alone counts for the record; a failure of a larger slice only says which record to try alone. */
  private nextFailing(previous: Failing | null, index: number, alone: boolean): Failing {
    const again = previous !== null && previous.index === index
    return {
      index,
      failures: again ? previous.failures + 1 : 1,
      aloneFailures: (again ? previous.aloneFailures : 0) + (alone ? 1 : 0),
    }
  }

  private stopped(): boolean {
    return this.parts.stopSignal().aborted
  }

  /**
   * Waits the backoff before try `next`, heartbeating every heartbeatInterval so the group keeps
   * this member (KafkaJS's heartbeat() only sends when one is due). False when the consumer stopped.
   */
  private async waitBefore(next: number, heartbeat: () => Promise<void>): Promise<boolean> {
    const signal = this.parts.stopSignal()
    const until = Date.now() + backoffBefore(next, this.parts.policy.backoff)
    await heartbeat()
    for (let left = until - Date.now(); left > 0 && !signal.aborted; left = until - Date.now()) {
      await sleep(Math.min(left, this.parts.heartbeatInterval), signal)
      if (!signal.aborted) await heartbeat()
    }
    return !signal.aborted
  }

  private failure(topic: string, partition: number, message: KafkaMessage, error: unknown, attempts: number): Failure {
    return { groupId: this.parts.groupId, topic, partition, message, error, attempts }
  }

  private logRetry(topic: string, partition: number, offset: string, error: unknown, nextTry: number): void {
    this.parts.log.warn('The handler failed on a record; trying it again before dead-lettering it', {
      groupId: this.parts.groupId,
      topic,
      partition,
      offset,
      error: error instanceof Error ? error.message : String(error),
      nextTry,
      attempts: this.parts.policy.attempts,
    })
  }
}
