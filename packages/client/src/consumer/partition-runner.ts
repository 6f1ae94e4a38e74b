/**
 * One batch of one partition, processed as KafkaJS 2.2.4's runner processes a batch (handleBatch,
 * processEachMessage, processEachBatch): the same events, helpers, offset resolution, auto-commits
 * and heartbeats, in the same order. A handler's error is logged (unless a KafkaJS error), what was
 * resolved is committed (with autoCommit), and the error is thrown on to the retry (run-loop.ts).
 */
import kafkajs from 'kafkajs'
import type { EachBatchHandler, EachMessageHandler, KafkaMessage, Logger } from 'kafkajs'
import Long from 'kafkajs/src/utils/long.js'
import type { ConsumerEvents } from './consumer-events.js'
import type { ConsumerMetrics, HandlerKind } from './consumer-metrics.js'
import type { GroupSession } from './group-session.js'
import type { DeliveredBatch, Ownership } from './ownerships.js'
import type { SidecarBatch } from './sidecar-batch.js'

export interface RunHandlers {
  readonly eachMessage: EachMessageHandler | null
  readonly eachBatch: EachBatchHandler | null
  readonly eachBatchAutoResolve: boolean
}

/** START_BATCH_PROCESS's payload (END_BATCH_PROCESS adds the duration). */
function batchPayload(batch: SidecarBatch) {
  return {
    topic: batch.topic,
    partition: batch.partition,
    highWatermark: batch.highWatermark,
    offsetLag: batch.offsetLag(),
    offsetLagLow: batch.offsetLagLow(),
    batchSize: batch.messages.length,
    firstOffset: batch.firstOffset(),
    lastOffset: batch.lastOffset(),
  }
}

function isSameOffset(a: string | number, b: string): boolean {
  return Long.fromValue(a).value === Long.fromValue(b).value
}

export class PartitionRunner {
  constructor(
    private readonly handlers: RunHandlers,
    private readonly session: GroupSession,
    private readonly events: ConsumerEvents,
    private readonly log: Logger,
    private readonly isRunning: () => boolean,
    private readonly metrics: ConsumerMetrics,
  ) {}

  async handle(owned: Ownership, { batch, staleOnArrival }: DeliveredBatch): Promise<void> {
    // A batch of a partition paused before it started is handed back unprocessed (`done` at its
    // first offset; the sidecar delivers it again after resume), as KafkaJS fetches nothing of a
    // paused partition. It happens when the sidecar delivered before it heard the pause: a pause
    // re-sent on a new stream, or one made while the batch waited for its turn. So is a batch sent
    // before the sidecar heard a seek, and one of an ownership that ended while it waited.
    if (!this.isRunning() || staleOnArrival || owned.ended) return
    if (this.session.paused.isPaused(owned.topic, owned.partition)) return
    const started = Date.now()
    const payload = batchPayload(batch)
    this.events.emit('consumer.start_batch_process', payload)
    // The sidecar sends a batch without messages only when all it fetched was filtered out
    // (control records, aborted transactions): KafkaJS's isEmptyDueToFiltering(), which moves on.
    if (batch.isEmpty()) {
      this.session.resolveOffset(owned, batch.lastOffset())
      this.session.autoCommitIfNecessaryInBackground()
      this.events.emit('consumer.end_batch_process', { ...payload, duration: Date.now() - started })
      await this.session.heartbeat()
      return
    }
    if (this.handlers.eachMessage) await this.processEachMessage(owned, batch, this.handlers.eachMessage)
    else if (this.handlers.eachBatch) await this.processEachBatch(owned, batch, this.handlers.eachBatch)
    this.events.emit('consumer.end_batch_process', { ...payload, duration: Date.now() - started })
    this.session.autoCommitInBackground()
    await this.session.heartbeat()
  }

  /** eachPayload's pause(): pauses this partition, returns its resume. */
  private pauser(owned: Ownership): () => () => void {
    const { topic, partition } = owned
    return () => {
      this.session.pause([{ topic, partitions: [partition] }])
      return () => this.session.resume([{ topic, partitions: [partition] }])
    }
  }

  private async processEachMessage(owned: Ownership, batch: SidecarBatch, eachMessage: EachMessageHandler) {
    const { topic, partition } = owned
    const pause = this.pauser(owned)
    // Counted once per batch: a metric update per record would cost a busy consumer dearly.
    let processed = 0
    try {
      for (const message of batch.messages) {
        // KafkaJS stops at a seek; here also when the partition stopped being this process's.
        if (!this.isRunning() || owned.stale) break
        try {
          await this.inHandler('eachMessage', () =>
            eachMessage({ topic, partition, message, heartbeat: () => this.session.heartbeat(), pause }),
          )
        } catch (error) {
          this.logHandlerError('eachMessage', topic, partition, message.offset, error)
          await this.session.autoCommit()
          throw error
        }
        processed++
        this.session.resolveOffset(owned, message.offset)
        await this.session.heartbeat()
        this.session.autoCommitIfNecessaryInBackground()
        if (this.session.paused.isPaused(topic, partition)) break
      }
    } finally {
      if (processed > 0) this.metrics.processed(topic, processed)
    }
  }

  private async processEachBatch(owned: Ownership, batch: SidecarBatch, eachBatch: EachBatchHandler) {
    const { topic, partition } = owned
    const lastMessage: KafkaMessage | undefined = batch.messages[batch.messages.length - 1]
    try {
      await this.inHandler('eachBatch', () =>
        eachBatch({
          batch,
          // Resolving the last message resolves up to the batch's last offset, past filtered control
          // records, or a consumer with eachBatchAutoResolve off would never get past them (KafkaJS's rule).
          resolveOffset: (offset) =>
            this.session.resolveOffset(
              owned,
              lastMessage && isSameOffset(offset, lastMessage.offset) ? batch.lastOffset() : offset,
            ),
          heartbeat: () => this.session.heartbeat(),
          pause: this.pauser(owned),
          commitOffsetsIfNecessary: async (offsets) =>
            offsets ? this.session.commitOffsetsGiven(offsets) : this.session.commitIfNecessary(),
          uncommittedOffsets: () => this.session.uncommittedOffsets(),
          isRunning: () => this.isRunning(),
          isStale: () => owned.stale,
        }),
      )
    } catch (error) {
      this.logHandlerError('eachBatch', topic, partition, batch.firstOffset(), error)
      await this.session.autoCommit()
      throw error
    }
    if (this.handlers.eachBatchAutoResolve) this.session.resolveOffset(owned, batch.lastOffset())
    this.countResolved(owned, batch)
  }

  /** eachBatch returned: its records below the resolved offset were processed. */
  private countResolved(owned: Ownership, batch: SidecarBatch): void {
    if (!this.metrics.enabled || owned.resolved === null) return
    const resolved = owned.resolved
    const processed = batch.messages.filter((m) => BigInt(m.offset) < resolved).length
    if (processed > 0) this.metrics.processed(owned.topic, processed)
  }

  /**
   * The application's handler runs: the `alive` timer counts this time as stuck unless the handler
   * progresses (heartbeat(), resolveOffset). Waits of the client's own (a commit's answer) do not count.
   */
  private async inHandler(kind: HandlerKind, call: () => Promise<void>): Promise<void> {
    const { progress } = this.session
    const started = this.metrics.enabled ? performance.now() : 0
    progress.started()
    try {
      await call()
    } finally {
      progress.finished()
      if (this.metrics.enabled) this.metrics.handlerSeconds(kind, (performance.now() - started) / 1000)
    }
  }

  /** KafkaJS logs what the application threw, not its own errors (those it logs where they happen). */
  private logHandlerError(
    handler: string,
    topic: string,
    partition: number,
    offset: string | null,
    error: unknown,
  ): void {
    if (error instanceof kafkajs.KafkaJSError) return
    this.log.error(`Error when calling ${handler}`, {
      topic,
      partition,
      offset,
      stack: error instanceof Error ? error.stack : undefined,
      error,
    })
  }
}
