/**
 * Which batch runs when, and what a handler's failure does, as in KafkaJS 2.2.4:
 * - one batch at a time per topic-partition, at most `partitionsConsumedConcurrently` at once,
 *   batches in the order they came; a new ownership of a partition (given back after a revoke or a
 *   lost stream) waits until the old ownership's batch has left its handler;
 * - a handler that throws ends the attempt: no new batch starts, those running finish, then KafkaJS's
 *   retrier (the consumer's `retry` options) waits its backoff and starts the next attempt, in which
 *   the failed partition's records from the first unresolved one come again (its `done` is sent only
 *   then). A Kafka rebalance starts the retries afresh, as KafkaJS's rejoin does.
 * - an error of the kinds KafkaJS's runner rejoins on (isRebalancing, UNKNOWN_MEMBER_ID; here from a
 *   commit of partitions the sidecar took) ends the attempt without a retry counted: the batch is
 *   said done at once and the next attempt starts, never a crash.
 * - out of retries (or an error the retrier does not retry), the run crashes: `onCrash`.
 */
import type { RetryOptions } from 'kafkajs'
import createRetry from 'kafkajs/src/retry/index.js'
import { keyOf, type DeliveredBatch, type Ownership } from './ownerships.js'
import type { PartitionRunner } from './partition-runner.js'

export interface RunLoopParts {
  readonly runner: PartitionRunner
  readonly concurrency: number
  readonly retry: RetryOptions
  /** A batch is over, processed or not: tell the sidecar, and anything waiting for the partition. */
  batchOver(owned: Ownership, delivered: DeliveredBatch): void
  /** Whether a batch waiting for its turn is still wanted (a rewind since may have made it stale). */
  isCurrent(owned: Ownership, delivered: DeliveredBatch): boolean
  onCrash(error: Error): void
}

interface Attempt {
  resolve(): void
  reject(error: Error): void
}

export class RunLoop {
  private running = false
  /** An attempt is on: batches may start (not between a failure and the retry). */
  private accepting = false
  private active = 0
  private failure: Error | null = null
  private attempt: Attempt | null = null
  /** Ownerships with batches waiting, in the order their batches came. */
  private waiting: Ownership[] = []
  /** The failed batches, whose `done` waits for the next attempt. */
  private failedBatches: Array<() => void> = []
  private whenIdle: Array<() => void> = []
  /** Topic-partitions with a batch in a handler, whichever ownership it belongs to. */
  private readonly inHandler = new Set<string>()
  private pumpScheduled = false

  constructor(private readonly parts: RunLoopParts) {}

  get isRunning(): boolean {
    return this.running
  }

  start(): void {
    this.running = true
    void this.loop()
  }

  deliver(owned: Ownership, delivered: DeliveredBatch): void {
    owned.pending.push(delivered)
    if (!this.waiting.includes(owned)) this.waiting.push(owned)
    this.pump()
  }

  /** Batches in hand end at their next message (their handlers see isRunning() false); then idle. */
  async stop(): Promise<void> {
    this.running = false
    this.accepting = false
    this.attempt?.resolve()
    await this.idle()
    this.sayFailedBatchesDone()
  }

  /**
   * A failure outside any batch (an auto-commit made in the background), taken as a batch's failure
   * would be: a rejoin error ends the attempt without a retry counted; another fails the attempt
   * once the batches in hand are over, and KafkaJS's retrier decides.
   */
  fail(error: Error): void {
    if (!this.running) return
    if (isRejoin(error)) return this.restartRetries()
    if (!this.accepting) return
    this.failure ??= error
    this.accepting = false
    if (this.active === 0) this.rejectAttempt()
  }

  /** A Kafka rebalance: the current attempt ends well, and the retries start from nothing. */
  restartRetries(): void {
    if (this.accepting) this.attempt?.resolve()
  }

  private idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve()
    return new Promise((resolve) => this.whenIdle.push(resolve))
  }

  private async loop(): Promise<void> {
    while (this.running) {
      try {
        await createRetry(this.parts.retry)(async () => {
          if (this.running) await this.nextAttempt()
        })
      } catch (error) {
        if (!this.running) return
        this.running = false
        this.accepting = false
        await this.idle()
        this.parts.onCrash(error as Error)
        return
      }
    }
  }

  private nextAttempt(): Promise<void> {
    this.sayFailedBatchesDone()
    return new Promise<void>((resolve, reject) => {
      this.attempt = { resolve, reject }
      this.failure = null
      this.accepting = true
      this.pump()
    })
  }

  private sayFailedBatchesDone(): void {
    for (const done of this.failedBatches.splice(0)) done()
  }

  private pump(): void {
    while (this.accepting && this.active < this.parts.concurrency) {
      this.waiting = this.waiting.filter((owned) => owned.pending.length > 0)
      const owned = this.waiting.find((o) => !o.busy && !this.inHandler.has(keyOf(o.topic, o.partition)))
      if (!owned) return
      const delivered = owned.pending.shift()!
      // Taken back by the sidecar: dropped unprocessed, without `done`.
      if (this.parts.isCurrent(owned, delivered)) this.run(owned, delivered)
    }
  }

  private run(owned: Ownership, delivered: DeliveredBatch): void {
    owned.busy = true
    this.inHandler.add(keyOf(owned.topic, owned.partition))
    this.active++
    this.parts.runner.handle(owned, delivered).then(
      () => this.over(owned, delivered, null),
      (error: unknown) => this.over(owned, delivered, error instanceof Error ? error : new Error(String(error))),
    )
  }

  private over(owned: Ownership, delivered: DeliveredBatch, error: Error | null): void {
    owned.busy = false
    this.inHandler.delete(keyOf(owned.topic, owned.partition))
    this.active--
    if (error && this.running && isRejoin(error)) {
      this.parts.batchOver(owned, delivered)
      this.restartRetries()
    } else if (error && this.running) {
      this.failure ??= error
      this.accepting = false
      this.failedBatches.push(() => this.parts.batchOver(owned, delivered))
    } else {
      this.parts.batchOver(owned, delivered)
    }
    if (this.active === 0) {
      for (const resolve of this.whenIdle.splice(0)) resolve()
      this.rejectAttempt()
    }
    this.pumpSoon()
  }

  /**
   * The next batch starts after a turn of the event loop, not in the promise chain of the one
   * that ended: with batches waiting here (pipelining) the chain would otherwise never yield, so
   * the `done` just written, the batches arriving and the channel's keepalive pings would wait
   * (a backlog starved the event loop until the keepalive timeout dropped the connection).
   */
  private pumpSoon(): void {
    if (this.pumpScheduled) return
    this.pumpScheduled = true
    setImmediate(() => {
      this.pumpScheduled = false
      this.pump()
    })
  }

  private rejectAttempt(): void {
    if (!this.failure) return
    const failure = this.failure
    this.failure = null
    this.attempt?.reject(failure)
  }
}

/** KafkaJS's isRebalancing, and UNKNOWN_MEMBER_ID, which its runner also rejoins on; in the error or what caused it. */
const REJOIN_TYPES = new Set([
  'REBALANCE_IN_PROGRESS',
  'NOT_COORDINATOR_FOR_GROUP',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
])

export function isRejoin(error: unknown): boolean {
  for (let e = error as { type?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 10; depth++) {
    if (typeof e.type === 'string' && REJOIN_TYPES.has(e.type)) return true
    e = e.cause as typeof e
  }
  return false
}
