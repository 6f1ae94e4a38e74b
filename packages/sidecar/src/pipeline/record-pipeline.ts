/**
 * The sidecar's core, free of gRPC: validate a request, choose partitions, admit it within the
 * memory bounds, queue its records, and tell whoever asks what became of them. Requests of one
 * producer instance are admitted in arrival order even when one of them waits for topic
 * metadata, so per-partition order holds from the first send.
 */
import type { Message, PartitionMetadata } from 'kafkajs'
import { status } from '@grpc/grpc-js'
import { invalidArgument, KafkaErrors, SidecarError } from '../errors.js'
import type { IncomingRecord, ProduceRequest } from '../model.js'
import type { DefaultPartitioning } from '../partitioning/partitioner.js'
import type { TopicMetadataCache } from '../partitioning/topic-metadata.js'
import type { Dispatcher } from './dispatcher.js'
import type { MemoryBudget } from './memory-budget.js'
import type { PartitionQueue } from './partition-queue.js'
import { RequestTracker } from './request-tracker.js'
import { recordSize, validateRequest, type RequestLimits } from './validation.js'

export interface PipelineObserver {
  onAccepted?(request: ProduceRequest, bytes: number): void
  onRejected?(request: ProduceRequest, error: SidecarError): void
  onSettled?(tracker: RequestTracker): void
}

interface PartitionDemand {
  readonly name: string
  readonly topic: string
  readonly partition: number
  readonly pending: { bytes: number; records: number }
  readonly demand: { bytes: number; records: number }
}

export class RecordPipeline {
  private readonly admissionChains = new Map<string, Promise<unknown>>()
  private closedReason: string | null = null

  constructor(
    private readonly limits: RequestLimits,
    private readonly metadata: TopicMetadataCache,
    private readonly partitioning: DefaultPartitioning,
    private readonly budget: MemoryBudget,
    private readonly dispatcher: Dispatcher,
    private readonly observer: PipelineObserver = {},
    /** Whether the Kafka producer is connected; requests are refused (UNAVAILABLE) while not. */
    private readonly kafkaConnected: () => boolean = () => true,
  ) {}

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
    const previous = this.admissionChains.get(request.instanceId)
    if (missing.length === 0 && previous === undefined) {
      try {
        return Promise.resolve(this.admit(request))
      } catch (error) {
        return this.reject(request, error)
      }
    }
    const admitted = (previous ?? Promise.resolve())
      .catch(() => {})
      .then(() => Promise.all(missing.map((t) => this.metadata.load(t, request.allowAutoTopicCreation))))
      .then(() => {
        this.checkOpen()
        return this.admit(request)
      })
      .catch((error: unknown) => this.reject(request, error))
    this.admissionChains.set(request.instanceId, admitted)
    void admitted.catch(() => {}).finally(() => {
      if (this.admissionChains.get(request.instanceId) === admitted) this.admissionChains.delete(request.instanceId)
    })
    return admitted
  }

  /** Throws the UNAVAILABLE refusal every request gets while shutting down or not connected to Kafka. */
  checkOpen(): void {
    if (this.closedReason !== null) {
      throw new SidecarError({ grpcCode: status.UNAVAILABLE, message: `sidecar is not accepting requests: ${this.closedReason}`, retriable: true })
    }
    // Refusing at once lets a client fall back to direct Kafka instead of waiting for a timeout
    // after which the sidecar might still write the record (a duplicate once the client resent it).
    if (!this.kafkaConnected()) {
      throw new SidecarError({ grpcCode: status.UNAVAILABLE, message: 'sidecar is not connected to Kafka (not yet, or the brokers stopped answering)', retriable: true })
    }
  }

  private reject(request: ProduceRequest, error: unknown): Promise<never> {
    const refusal = error instanceof SidecarError ? error : new SidecarError({ grpcCode: status.INTERNAL, message: String(error) }, { cause: error })
    this.observer.onRejected?.(request, refusal)
    return Promise.reject(refusal)
  }

  private admit(request: ProduceRequest): RequestTracker {
    const now = Date.now()
    // Per record its partition and size; per partition (looked up by topic, then number: no
    // string keys per record) what the request adds to it.
    const { records } = request
    const partitionOfRecord = new Array<number>(records.length)
    const sizeOfRecord = new Array<number>(records.length)
    const byTopic = new Map<string, Map<number, PartitionDemand>>()
    const demands: PartitionDemand[] = []
    let totalBytes = 0
    for (let index = 0; index < records.length; index++) {
      const record = records[index]!
      let partitions = byTopic.get(record.topic)
      if (!partitions) byTopic.set(record.topic, (partitions = new Map()))
      const partition = this.partitionOf(record, this.metadata.cached(record.topic)!, index)
      const bytes = recordSize(record)
      partitionOfRecord[index] = partition
      sizeOfRecord[index] = bytes
      totalBytes += bytes
      let entry = partitions.get(partition)
      if (!entry) {
        const existing = this.dispatcher.peekQueue(record.topic, partition)
        entry = {
          name: `${record.topic}-${partition}`,
          topic: record.topic,
          partition,
          pending: { bytes: existing?.pendingBytes ?? 0, records: existing?.pendingRecords ?? 0 },
          demand: { bytes: 0, records: 0 },
        }
        partitions.set(partition, entry)
        demands.push(entry)
      }
      entry.demand.bytes += bytes
      entry.demand.records++
    }
    const refusal = this.budget.tryReserve({ bytes: totalBytes, records: records.length }, demands)
    if (refusal) throw refusal

    const tracker = new RequestTracker(request, now)
    // KafkaJS's `timeout` is the broker's ack timeout only; KafkaJS keeps retrying for its own
    // budget. So a short timeout (0 included) does not shorten how long the records may wait here.
    const deadline = now + Math.max(request.timeoutMs, this.limits.requestTimeoutMs)
    const queues = new Map<PartitionDemand, PartitionQueue>()
    for (let index = 0; index < records.length; index++) {
      const record = records[index]!
      const partition = partitionOfRecord[index]!
      const entry = byTopic.get(record.topic)!.get(partition)!
      let queue = queues.get(entry)
      if (!queue) queues.set(entry, (queue = this.dispatcher.queueFor(record.topic, partition)))
      this.dispatcher.enqueue(queue, {
        tracker,
        index,
        segment: record.segment,
        message: toKafkaJSMessage(record, partition),
        bytes: sizeOfRecord[index]!,
        compression: request.compression,
        acks: request.acks,
        timeoutMs: request.timeoutMs,
        deadline,
        enqueuedAt: now,
      })
    }
    this.observer.onAccepted?.(request, totalBytes)
    void tracker.settled.then(() => this.observer.onSettled?.(tracker))
    return tracker
  }

  private partitionOf(record: IncomingRecord, partitions: PartitionMetadata[], index: number): number {
    if (record.partition !== null) {
      if (!partitions.some((p) => p.partitionId === record.partition)) {
        throw invalidArgument(
          `record ${index}: topic "${record.topic}" has no partition ${record.partition} (it has ${partitions.length})`,
          KafkaErrors.UNKNOWN_TOPIC_OR_PARTITION,
        )
      }
      return record.partition
    }
    return this.partitioning.partitionFor(record, partitions)
  }
}

function toKafkaJSMessage(record: IncomingRecord, partition: number): Message {
  let headers: Message['headers']
  if (record.headers.length > 0) {
    const grouped: Record<string, Array<Buffer | null>> = {}
    for (const h of record.headers) (grouped[h.key] ??= []).push(h.value)
    // A single value stays scalar and repeats become arrays, which is how KafkaJS users write them.
    headers = Object.fromEntries(Object.entries(grouped).map(([k, v]) => [k, v.length === 1 ? v[0] : v])) as Message['headers']
  }
  const message: Message = { key: record.key, value: record.value, headers, partition }
  // Without a client timestamp KafkaJS stamps Date.now() when it encodes the batch, as it does in
  // direct mode. (Setting one on every record also makes KafkaJS sort them per batch: costly.)
  if (record.timestampMs !== null) message.timestamp = String(record.timestampMs)
  return message
}
