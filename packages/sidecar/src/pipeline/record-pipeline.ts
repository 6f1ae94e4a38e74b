/**
 * The sidecar's core, free of gRPC: validate a request, choose partitions, admit it within the
 * memory bounds, queue its records, and tell whoever asks what became of them. Requests of one
 * producer instance are admitted in arrival order even when one of them waits for topic
 * metadata or for the idempotent producer, so per-partition order holds from the first send.
 */
import type { IHeaders, Message } from 'kafkajs'
import { status } from '@grpc/grpc-js'
import { SidecarError } from '../errors.js'
import type { Idempotence } from '../kafka/idempotent-writes.js'
import type { IncomingRecord, ProduceRequest, RecordHeader } from '../model.js'
import type { DefaultPartitioning } from '../partitioning/partitioner.js'
import type { TopicMetadataCache } from '../partitioning/topic-metadata.js'
import type { Dispatcher } from './dispatcher.js'
import type { MemoryBudget } from './memory-budget.js'
import type { PartitionQueue, QueuedRecord } from './partition-queue.js'
import {
  partitionAbsent,
  recordTooLarge,
  sortOutRefusals,
  type PartitionRefusal,
  type RefusalRule,
} from './partition-refusals.js'
import { RequestTracker } from './request-tracker.js'
import { recordSize, validateRequest, type RequestLimits } from './validation.js'

export interface PipelineObserver {
  onAccepted?(request: ProduceRequest, bytes: number): void
  onRejected?(request: ProduceRequest, error: SidecarError): void
  onSettled?(tracker: RequestTracker): void
}

interface PartitionDemand {
  readonly name: string
  readonly queue: PartitionQueue
  readonly pending: { bytes: number; records: number }
  readonly demand: { bytes: number; records: number }
}

/** What admitting a request takes, worked out before anything is reserved or queued. */
interface AdmissionPlan {
  readonly tracker: RequestTracker
  readonly total: { bytes: number; records: number }
  readonly demands: readonly PartitionDemand[]
  /** In record order: each record, and the queue it goes to. */
  readonly records: readonly QueuedRecord[]
  readonly queues: readonly PartitionQueue[]
  /** Records of a send for a partition refused before queueing (see partition-refusals.ts). */
  readonly refused: readonly PartitionRefusal[]
}

export class RecordPipeline {
  private readonly admissionChains = new Map<string, Promise<unknown>>()
  private closedReason: string | null = null
  /** What refuses a send's records for a partition (partition-refusals.ts); the partition check first. */
  private readonly refusalRules: readonly RefusalRule[]

  constructor(
    private readonly limits: RequestLimits,
    private readonly metadata: TopicMetadataCache,
    private readonly partitioning: DefaultPartitioning,
    private readonly budget: MemoryBudget,
    private readonly dispatcher: Dispatcher,
    private readonly idempotence: Idempotence,
    private readonly observer: PipelineObserver = {},
    /** Whether the Kafka producer is connected; requests are refused (UNAVAILABLE) while not. */
    private readonly kafkaConnected: () => boolean = () => true,
  ) {
    const partitions = (topic: string) => this.metadata.cached(topic) ?? []
    this.refusalRules = [
      partitionAbsent(
        (topic) => partitions(topic).length,
        (topic, partition) => partitions(topic).some((p) => p.partitionId === partition),
      ),
      recordTooLarge(limits.maxRecordBytes),
    ]
  }

  /** Stops admitting requests; later submits fail with UNAVAILABLE naming `reason`. */
  close(reason: string): void {
    this.closedReason = reason
  }

  /**
   * Resolves with the request's tracker once it is queued (its `settled` promise then gives the
   * outcomes), or rejects with a SidecarError when it was refused as a whole.
   */
  submit(request: ProduceRequest): Promise<RequestTracker> {
    try {
      this.checkOpen()
      validateRequest(request, this.limits)
    } catch (error) {
      return this.reject(request, error)
    }
    const topics = [...new Set(request.records.map((r) => r.topic))]
    const missing = topics.filter((t) => this.metadata.cached(t) === undefined)
    // A caller without an instance id has no order among its calls to keep (a stream still
    // decides its own requests one at a time).
    const chained = request.instanceId !== ''
    const previous = chained ? this.admissionChains.get(request.instanceId) : undefined
    const awaitsIdempotence = request.idempotent && !this.idempotence.ready
    if (missing.length === 0 && previous === undefined && !awaitsIdempotence) {
      try {
        return Promise.resolve(this.admit(request))
      } catch (error) {
        return this.reject(request, error)
      }
    }
    const admitted = (previous ?? Promise.resolve())
      .catch(() => {})
      // Before metadata: a request refused for want of idempotence creates no topic.
      .then(() => (awaitsIdempotence ? this.idempotence.prepare() : undefined))
      .then(() => Promise.all(missing.map((t) => this.metadata.load(t, request.allowAutoTopicCreation))))
      .then(() => {
        this.checkOpen()
        return this.admit(request)
      })
      .catch((error: unknown) => this.reject(request, error))
    if (chained) this.chain(request.instanceId, admitted)
    return admitted
  }

  /** Later requests of the instance are admitted after `admitted` is decided. */
  private chain(instanceId: string, admitted: Promise<unknown>): void {
    this.admissionChains.set(instanceId, admitted)
    void admitted
      .catch(() => {})
      .finally(() => {
        if (this.admissionChains.get(instanceId) === admitted) this.admissionChains.delete(instanceId)
      })
  }

  /** Throws the UNAVAILABLE refusal every request gets while shutting down or not connected to Kafka. */
  checkOpen(): void {
    if (this.closedReason !== null) {
      throw new SidecarError({
        grpcCode: status.UNAVAILABLE,
        message: `sidecar is not accepting requests: ${this.closedReason}`,
        retriable: true,
      })
    }
    // Refusing at once lets a client fall back to direct Kafka instead of waiting for a timeout
    // after which the sidecar might still write the record (a duplicate once the client resent it).
    if (!this.kafkaConnected()) {
      throw new SidecarError({
        grpcCode: status.UNAVAILABLE,
        message: 'sidecar is not connected to Kafka (not yet, or the brokers stopped answering)',
        retriable: true,
      })
    }
  }

  private reject(request: ProduceRequest, error: unknown): Promise<never> {
    const refusal =
      error instanceof SidecarError
        ? error
        : new SidecarError({ grpcCode: status.INTERNAL, message: String(error) }, { cause: error })
    this.observer.onRejected?.(request, refusal)
    return Promise.reject(refusal)
  }

  /**
   * All or nothing: everything that can fail is worked out before the memory is reserved, and
   * should queueing fail after it all the same, what was queued is taken back and the
   * reservation released. A request half queued would be written partly by the sidecar and
   * whole again by the client's fallback; a reservation never released would shrink the budget
   * for every client until all of them are refused as full.
   */
  private admit(request: ProduceRequest): RequestTracker {
    const plan = this.plan(request)
    const refusal = this.budget.tryReserve(plan.total, plan.demands)
    if (refusal) throw refusal
    const { tracker, queues, records } = plan
    let queued = 0
    try {
      for (; queued < records.length; queued++) this.dispatcher.enqueue(queues[queued]!, records[queued]!)
    } catch (error) {
      this.dispatcher.withdraw(queues.slice(0, queued), records.slice(0, queued))
      this.budget.cancel(plan.total)
      throw new SidecarError(
        { grpcCode: status.INTERNAL, message: `request not queued (nothing of it was kept): ${String(error)}` },
        { cause: error },
      )
    }
    // Accepted: from here on nothing may turn the request into a refusal.
    for (const { topic, partition, recordIndexes, error } of plan.refused)
      tracker.record(topic, partition, recordIndexes, null, error)
    this.notify(() => this.observer.onAccepted?.(request, plan.total.bytes))
    void tracker.settled.then(() => this.notify(() => this.observer.onSettled?.(tracker)))
    return tracker
  }

  /**
   * Per record its partition, size and KafkaJS message; per partition what the request adds to
   * it. Records refused per partition are neither counted nor reserved: they are never queued.
   */
  private plan(request: ProduceRequest): AdmissionPlan {
    const now = Date.now()
    // KafkaJS's `timeout` is the broker's ack timeout only; KafkaJS keeps retrying for its own
    // budget. So a short timeout (0 included) does not shorten how long the records may wait here.
    const deadline = now + Math.max(request.timeoutMs, this.limits.requestTimeoutMs)
    const idempotent = request.idempotent || this.idempotence.always
    // Created before the reservation; a refused request's tracker is simply dropped.
    const tracker = new RequestTracker(request, now)
    // Looked up by topic, then number: no string keys per record.
    const byTopic = new Map<string, Map<number, PartitionDemand>>()
    const demands: PartitionDemand[] = []
    const queues: PartitionQueue[] = []
    const records: QueuedRecord[] = []
    let totalBytes = 0
    const placed = request.records.map((record, index) => ({
      record,
      index,
      topic: record.topic,
      segment: record.segment,
      explicit: record.partition !== null,
      partition: this.partitioning.partitionFor(record, this.metadata.cached(record.topic)!),
      bytes: recordSize(record),
    }))
    const { queued, refused } = sortOutRefusals(placed, this.refusalRules)
    for (const { record, index, partition, bytes } of queued) {
      let partitions = byTopic.get(record.topic)
      if (!partitions) byTopic.set(record.topic, (partitions = new Map()))
      totalBytes += bytes
      let demand = partitions.get(partition)
      if (!demand) {
        demand = this.demandOf(record.topic, partition)
        partitions.set(partition, demand)
        demands.push(demand)
      }
      demand.demand.bytes += bytes
      demand.demand.records++
      const message = toKafkaJSMessage(record, partition)
      queues.push(demand.queue)
      records.push({
        tracker,
        index,
        segment: record.segment,
        message,
        bytes,
        compression: request.compression,
        acks: request.acks,
        timeoutMs: request.timeoutMs,
        idempotent,
        deadline,
        enqueuedAt: now,
      })
    }
    return { tracker, total: { bytes: totalBytes, records: queued.length }, demands, queues, records, refused }
  }

  private demandOf(topic: string, partition: number): PartitionDemand {
    const queue = this.dispatcher.queueFor(topic, partition)
    return {
      name: `${topic}-${partition}`,
      queue,
      pending: { bytes: queue.pendingBytes, records: queue.pendingRecords },
      demand: { bytes: 0, records: 0 },
    }
  }

  /** Runs an observer hook; a failing one (metrics, reports) must not undo what was decided. */
  private notify(hook: () => void): void {
    try {
      hook()
    } catch {
      // An observer's failure is its own; the request's fate is already settled.
    }
  }
}

function toKafkaJSMessage(record: IncomingRecord, partition: number): Message {
  const message: Message = {
    key: record.key,
    value: record.value,
    headers: toKafkaJSHeaders(record.headers),
    partition,
  }
  // Without a client timestamp KafkaJS stamps Date.now() when it encodes the batch, as it does in
  // direct mode. (Setting one on every record also makes KafkaJS sort them per batch: costly.)
  if (record.timestampMs !== null) message.timestamp = String(record.timestampMs)
  return message
}

/**
 * Headers as a KafkaJS producer takes them: one property per name, a single value scalar and
 * repeats an array, which is how KafkaJS users write them. Names are whatever a client sent,
 * `__proto__` and `constructor` included, so the object has no prototype: every name is an own
 * property, and KafkaJS, which encodes Object.keys, writes each one as direct KafkaJS does.
 */
function toKafkaJSHeaders(headers: readonly RecordHeader[]): IHeaders | undefined {
  if (headers.length === 0) return undefined
  const byName = new Map<string, Buffer[]>()
  for (const { key, value } of headers) {
    const values = byName.get(key)
    if (values) values.push(value!)
    else byName.set(key, [value!])
  }
  const out = Object.create(null) as IHeaders
  for (const [name, values] of byName) out[name] = values.length === 1 ? values[0] : values
  return out
}
