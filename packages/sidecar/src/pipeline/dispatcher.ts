/**
 * Turns queued records into KafkaJS sendBatch calls. Batching comes from concurrency, not from
 * waiting: a partition with nothing in flight is sent at once (lingerMs 0); while its batch is in
 * flight, whatever arrives accumulates and leaves as the next batch. Ready partitions that share
 * a leader broker, a compression codec, acks and a timeout go out in one sendBatch, so one slow
 * broker never holds back another's partitions. A failure is scoped to the partitions the broker
 * refused: when a sendBatch fails, each partition is settled by its own answer (produce-answers.ts).
 *
 * Records of requests that asked for idempotence leave through the idempotent producer, in
 * batches of their own, with acks -1, one partition per sendBatch and one sendBatch per broker in
 * flight. KafkaJS 2.2.4 numbers a batch when it sends it and takes the numbers back when the
 * request fails, so a second batch of the partition queued behind a failed one would reuse its
 * numbers, and the broker would take it for that batch's duplicate (acked, never written). It
 * also sends one produce request per broker at a time (its broker lock): more sendBatch calls
 * would only wait there, while here their records join the next batch. A partition keeps one
 * queue whatever the producer, so its records still leave in arrival order.
 */
import type { RecordMetadata, TopicMessages } from 'kafkajs'
import { status } from '@grpc/grpc-js'
import { fromKafkaJSError, KafkaErrors, SidecarError } from '../errors.js'
import { kafkaError, kafkaProtocolError } from '../kafka/kafka-error-table.js'
import { ProduceAnswers, type PartitionAnswer } from '../kafka/produce-answers.js'
import type { Acks, CompressionCode } from '../model.js'
import type { MemoryBudget } from './memory-budget.js'
import { PartitionQueue, type QueuedRecord } from './partition-queue.js'

export interface DispatcherSettings {
  /**
   * Most records of one partition in one batch, when several sends share it; one send's records
   * for a partition always leave together, however many.
   */
  readonly maxBatchRecords: number
  /** Most bytes of one partition in one batch, as for maxBatchRecords (keep under the brokers' message.max.bytes). */
  readonly maxBatchBytes: number
  /** Extra wait before sending an idle partition's first records; 0 sends at once. */
  readonly lingerMs: number
  /** sendBatch calls in flight per leader broker. */
  readonly maxInFlightPerBroker: number
  /**
   * Batches in flight per partition. 1 keeps strict order even when KafkaJS retries a batch;
   * more raises throughput but a retried batch may land after the one behind it.
   */
  readonly maxInFlightPerPartition: number
}

export interface BatchSender {
  /**
   * Writes the batch; notes each broker's answer, partition by partition, in `answers` when
   * given (the dispatcher settles what a failed sendBatch wrote from them). A sender whose
   * batches carry one partition may leave them empty: its failure is that partition's.
   */
  sendBatch(
    batch: {
      topicMessages: TopicMessages[]
      acks: number
      timeout: number
      compression: CompressionCode
    },
    answers?: ProduceAnswers,
  ): Promise<RecordMetadata[]>
}

export interface BatchSenders {
  /** Writes the records of requests that did not ask for idempotence. */
  readonly plain: BatchSender
  /** The idempotent producer; asked for only once a request needing it was admitted, so it exists. */
  idempotent(): BatchSender
}

/** sendBatch calls of the idempotent producer in flight per broker: KafkaJS sends them one at a time. */
const IDEMPOTENT_IN_FLIGHT_PER_BROKER = 1

export interface DispatchObserver {
  onBatch?(records: number, bytes: number, partitions: number): void
  onBatchSettled?(records: number, error: SidecarError | null, durationMs: number): void
}

/** Ready partitions that leave in one sendBatch: one leader broker, codec, acks, producer and timeout. */
interface SendGroup {
  readonly broker: number
  readonly compression: CompressionCode
  readonly acks: Acks
  readonly idempotent: boolean
  /** The broker ack timeout the requests asked for, as KafkaJS passes a send's `timeout`. */
  readonly timeoutMs: number
  readonly queues: PartitionQueue[]
}

/** The in-flight count a group's sendBatch belongs to: its producer's, toward its broker. */
function brokerSlot(group: SendGroup): string {
  return `${group.idempotent ? 'idempotent' : 'plain'}:${group.broker}`
}

interface Chunk {
  readonly queue: PartitionQueue
  readonly records: QueuedRecord[]
  readonly bytes: number
  /** Set once its records have an outcome; a late answer from KafkaJS is then ignored. */
  settled?: boolean
}

export class Dispatcher {
  private readonly queues = new Map<string, PartitionQueue>()
  /** Queues with records and room for another batch in flight. */
  private readonly ready = new Set<PartitionQueue>()
  /** sendBatch calls in flight per producer and broker ("plain:1", "idempotent:1"). */
  private readonly inFlightByBroker = new Map<string, number>()
  private readonly inFlightChunks = new Set<Chunk>()
  private inFlightBatches = 0
  private scheduled = false
  private lingerTimer: NodeJS.Timeout | null = null
  private idleWaiters: Array<() => void> = []

  constructor(
    private readonly settings: DispatcherSettings,
    private readonly senders: BatchSenders,
    private readonly budget: MemoryBudget,
    /** Current leader of a partition, or -1 when unknown (grouping only; KafkaJS routes). */
    private readonly leaderOf: (topic: string, partition: number) => number,
    private readonly observer: DispatchObserver = {},
  ) {}

  queueFor(topic: string, partition: number): PartitionQueue {
    const key = `${topic}\u0000${partition}`
    let queue = this.queues.get(key)
    if (!queue) this.queues.set(key, (queue = new PartitionQueue(topic, partition)))
    return queue
  }

  /** Existing queue, without creating one (for admission checks). */
  peekQueue(topic: string, partition: number): PartitionQueue | undefined {
    return this.queues.get(`${topic}\u0000${partition}`)
  }

  enqueue(queue: PartitionQueue, record: QueuedRecord): void {
    queue.push(record)
    if (this.canSend(queue)) this.ready.add(queue)
    this.schedule()
  }

  /**
   * Takes back records enqueued moments ago, in the same turn of the event loop (so none has
   * left yet), newest first: a request whose admission failed midway leaves nothing queued.
   */
  withdraw(queues: readonly PartitionQueue[], records: readonly QueuedRecord[]): void {
    for (let i = records.length - 1; i >= 0; i--) {
      const queue = queues[i]!
      if (!queue.removeNewest(records[i]!))
        throw new Error(
          `cannot withdraw record ${records[i]!.index} from ${queue.topic}-${queue.partition}: it is no longer the newest queued`,
        )
      if (queue.isEmpty) this.ready.delete(queue)
    }
  }

  get queuedRecords(): number {
    let n = 0
    for (const q of this.queues.values()) n += q.queuedCount
    return n
  }

  get batchesInFlight(): number {
    return this.inFlightBatches
  }

  /** Resolves when nothing is queued or in flight. */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  /**
   * Whether the queue's next batch may leave now: up to maxInFlightPerPartition batches in
   * flight, but an idempotent batch only when nothing of the partition is (see the file comment).
   */
  private canSend(queue: PartitionQueue): boolean {
    const head = queue.peek()
    if (!head) return false
    return queue.inFlight < (head.idempotent ? 1 : this.settings.maxInFlightPerPartition)
  }

  private isIdle(): boolean {
    return this.inFlightBatches === 0 && this.ready.size === 0
  }

  /**
   * Fails the records of every batch still awaiting the brokers (shutdown past its grace
   * period): their fate is unknown, so they are reported failed and retriable; a caller that
   * sends them again may create duplicates (at-least-once).
   */
  failInFlight(error: SidecarError): number {
    let failed = 0
    for (const chunk of this.inFlightChunks) {
      failed += chunk.records.length
      this.settleFailed(chunk, error)
    }
    this.inFlightChunks.clear()
    return failed
  }

  /** Fails every queued record that has not left yet (shutdown past its deadline). */
  /**
   * Fails the queued records whose request timeout ran out before they could be sent (brokers
   * down or slow): the caller learns they were not written, within its own deadline, instead of
   * giving up on an unknown outcome and re-sending while the sidecar may still write them later.
   * Records already at the brokers are left to KafkaJS. Returns how many were failed.
   */
  expireQueued(now: number = Date.now()): number {
    let expired = 0
    for (const queue of this.queues.values()) {
      const records = queue.takeExpired(now)
      if (records.length === 0) continue
      const waitedMs = now - records[0]!.enqueuedAt
      this.settleFailed(
        { queue, records, bytes: records.reduce((s, r) => s + r.bytes, 0) },
        new SidecarError({
          grpcCode: status.DEADLINE_EXCEEDED,
          message: `not sent: waited ${waitedMs} ms in the sidecar queue for ${queue.topic}-${queue.partition}, past its request timeout`,
          kafka: KafkaErrors.REQUEST_TIMED_OUT,
          retriable: true,
        }),
      )
      if (queue.isEmpty) this.ready.delete(queue)
      expired += records.length
    }
    if (expired > 0) this.notifyIdle()
    return expired
  }

  failQueued(error: SidecarError): number {
    let failed = 0
    for (const queue of this.queues.values()) {
      const records = queue.drainQueued()
      if (records.length === 0) continue
      this.settleFailed({ queue, records, bytes: records.reduce((s, r) => s + r.bytes, 0) }, error)
      failed += records.length
    }
    this.ready.clear()
    this.notifyIdle()
    return failed
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    // setImmediate, not a timer: requests that arrived in the same I/O turn share a batch, and an
    // idle partition still leaves within the same event-loop iteration.
    setImmediate(() => {
      this.scheduled = false
      this.dispatch()
    })
  }

  private dispatch(): void {
    const now = Date.now()
    const groups = new Map<string, SendGroup>()
    let lingerUntil = Infinity
    for (const queue of this.ready) {
      const head = queue.peek()
      if (!head || !this.canSend(queue)) {
        // Empty, or its head waits for the partition's batches in flight: added back when one settles.
        this.ready.delete(queue)
        continue
      }
      if (
        this.settings.lingerMs > 0 &&
        queue.pendingBytes < this.settings.maxBatchBytes &&
        now - head.enqueuedAt < this.settings.lingerMs
      ) {
        lingerUntil = Math.min(lingerUntil, head.enqueuedAt + this.settings.lingerMs)
        continue
      }
      const broker = this.leaderOf(queue.topic, queue.partition)
      // An idempotent producer must write with acks -1 (KafkaJS refuses anything else).
      const acks: Acks = head.idempotent ? -1 : head.acks
      // A send too large for a shared batch goes in a sendBatch of its own: should the broker
      // refuse it (message.max.bytes), that fails its own records only, as it would in KafkaJS.
      // Idempotent batches too: KafkaJS takes back the sequence numbers of every partition of a
      // failed request, written ones included, and the broker would then ack the next batch of a
      // written partition as a duplicate of it, unwritten.
      const solo = head.idempotent || queue.headRunExceeds(this.settings.maxBatchRecords, this.settings.maxBatchBytes)
      const key = solo
        ? `solo:${queue.topic}\u0000${queue.partition}`
        : `${broker}:${head.compression}:${acks}:${head.idempotent}:${head.timeoutMs}`
      let group = groups.get(key)
      if (!group) {
        group = {
          broker,
          compression: head.compression,
          acks,
          idempotent: head.idempotent,
          timeoutMs: head.timeoutMs,
          queues: [],
        }
        groups.set(key, group)
      }
      group.queues.push(queue)
    }
    for (const group of groups.values()) {
      const limit = group.idempotent ? IDEMPOTENT_IN_FLIGHT_PER_BROKER : this.settings.maxInFlightPerBroker
      if ((this.inFlightByBroker.get(brokerSlot(group)) ?? 0) >= limit) continue
      this.send(group)
    }
    if (lingerUntil !== Infinity && !this.lingerTimer) {
      this.lingerTimer = setTimeout(
        () => {
          this.lingerTimer = null
          this.dispatch()
        },
        Math.max(0, lingerUntil - now),
      ).unref()
    }
  }

  private send(group: SendGroup): void {
    const { compression, acks, timeoutMs, queues } = group
    const slot = brokerSlot(group)
    const chunks: Chunk[] = []
    const byTopic = new Map<string, TopicMessages>()
    let records = 0
    let bytes = 0
    for (const queue of queues) {
      const taken = queue.take(this.settings.maxBatchRecords, this.settings.maxBatchBytes)
      if (taken.length === 0) continue
      queue.inFlight++
      if (!this.canSend(queue)) this.ready.delete(queue)
      const chunkBytes = taken.reduce((s, r) => s + r.bytes, 0)
      const chunk: Chunk = { queue, records: taken, bytes: chunkBytes }
      chunks.push(chunk)
      this.inFlightChunks.add(chunk)
      let topicMessages = byTopic.get(queue.topic)
      if (!topicMessages) byTopic.set(queue.topic, (topicMessages = { topic: queue.topic, messages: [] }))
      for (const r of taken) topicMessages.messages.push(r.message)
      records += taken.length
      bytes += chunkBytes
    }
    if (chunks.length === 0) return
    this.inFlightByBroker.set(slot, (this.inFlightByBroker.get(slot) ?? 0) + 1)
    this.inFlightBatches++
    this.observer.onBatch?.(records, bytes, chunks.length)
    const started = Date.now()
    const sender = group.idempotent ? this.senders.idempotent() : this.senders.plain
    // Idempotent batches carry one partition: a failure is that partition's, no answers needed.
    const answers = group.idempotent ? undefined : new ProduceAnswers()
    sender
      .sendBatch({ topicMessages: [...byTopic.values()], acks, timeout: timeoutMs, compression }, answers)
      .then(
        (metadata) => {
          for (const chunk of chunks) {
            // acks 0: the brokers answer nothing; the records left, with no offsets to report.
            if (acks === 0) this.settleUnacknowledged(chunk)
            else this.settleDelivered(chunk, metadata)
          }
          this.observer.onBatchSettled?.(records, null, Date.now() - started)
        },
        (error: unknown) => {
          const failure = fromKafkaJSError(error)
          for (const chunk of chunks)
            this.settleFromAnswer(chunk, answers?.of(chunk.queue.topic, chunk.queue.partition), failure)
          this.observer.onBatchSettled?.(records, failure, Date.now() - started)
        },
      )
      .finally(() => {
        this.inFlightByBroker.set(slot, this.inFlightByBroker.get(slot)! - 1)
        this.inFlightBatches--
        for (const chunk of chunks) {
          this.inFlightChunks.delete(chunk)
          chunk.queue.inFlight--
          if (this.canSend(chunk.queue)) this.ready.add(chunk.queue)
        }
        if (this.ready.size > 0) this.schedule()
        this.notifyIdle()
      })
  }

  private settleDelivered(chunk: Chunk, metadata: RecordMetadata[]): void {
    if (chunk.settled) return
    const { queue } = chunk
    const result = metadata.find((m) => m.topicName === queue.topic && m.partition === queue.partition)
    if (!result || result.errorCode !== 0 || result.baseOffset === undefined) {
      const error = new SidecarError({
        grpcCode: status.INTERNAL,
        message: `the broker's answer for ${queue.topic}-${queue.partition} is missing or failed (error code ${result?.errorCode ?? 'none'})`,
        kafka: result ? kafkaError(result.errorCode) : undefined,
        retriable: true,
      })
      this.settleFailed(chunk, error)
      return
    }
    const base = Number(result.baseOffset)
    const appendTime = Number(result.logAppendTime ?? -1)
    const logStart = Number(result.logStartOffset ?? -1)
    this.forEachRequestRun(chunk.records, (tracker, indexes, position) =>
      tracker.record(
        queue.topic,
        queue.partition,
        indexes,
        { baseOffset: base + position, logAppendTimeMs: appendTime, logStartOffset: logStart },
        null,
      ),
    )
    this.release(chunk)
  }

  /**
   * A chunk of a sendBatch that failed: settled by its own partition's answer when the broker
   * gave one (written, or refused with its own code), else with the sendBatch's failure.
   */
  private settleFromAnswer(chunk: Chunk, answer: PartitionAnswer | undefined, failure: SidecarError): void {
    if (!answer) return this.settleFailed(chunk, failure)
    if (answer.errorCode !== 0) return this.settleFailed(chunk, fromKafkaJSError(kafkaProtocolError(answer.errorCode)))
    const { topic, partition } = chunk.queue
    this.settleDelivered(chunk, [
      {
        topicName: topic,
        partition,
        errorCode: 0,
        baseOffset: answer.baseOffset,
        logAppendTime: answer.logAppendTime,
        logStartOffset: answer.logStartOffset,
      },
    ])
  }

  private settleUnacknowledged(chunk: Chunk): void {
    if (chunk.settled) return
    this.forEachRequestRun(chunk.records, (tracker, indexes) =>
      tracker.record(
        chunk.queue.topic,
        chunk.queue.partition,
        indexes,
        { baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 },
        null,
      ),
    )
    this.release(chunk)
  }

  private settleFailed(chunk: Chunk, error: SidecarError): void {
    if (chunk.settled) return
    this.forEachRequestRun(chunk.records, (tracker, indexes) =>
      tracker.record(chunk.queue.topic, chunk.queue.partition, indexes, null, error),
    )
    this.release(chunk)
  }

  /** Calls `fn` once per run of consecutive records from the same request, with the run's position. */
  private forEachRequestRun(
    records: readonly QueuedRecord[],
    fn: (tracker: QueuedRecord['tracker'], indexes: number[], position: number) => void,
  ): void {
    let start = 0
    while (start < records.length) {
      const tracker = records[start]!.tracker
      let end = start
      const indexes: number[] = []
      while (end < records.length && records[end]!.tracker === tracker) indexes.push(records[end++]!.index)
      fn(tracker, indexes, start)
      start = end
    }
  }

  private release(chunk: Chunk): void {
    chunk.settled = true
    chunk.queue.release(chunk.records)
    this.budget.release(chunk.bytes, chunk.records.length)
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const resolve of waiters) resolve()
  }
}
