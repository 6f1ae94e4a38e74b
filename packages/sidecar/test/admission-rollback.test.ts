/**
 * Admission is all or nothing: a request is either queued whole with its memory reserved, or
 * refused with nothing queued and nothing reserved. A failure midway used to leave the first
 * records queued (the client, told INTERNAL, resent them directly: written twice) and the
 * reservation held for good (issue 12). The fault is injected into the pipeline's own
 * dispatcher, the one place left that runs after the reservation.
 */
import { status } from '@grpc/grpc-js'
import type { PartitionMetadata } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { SidecarError } from '../src/errors.js'
import type { ProduceRequest } from '../src/model.js'
import { DefaultPartitioning } from '../src/partitioning/partitioner.js'
import type { TopicMetadataCache } from '../src/partitioning/topic-metadata.js'
import type { Idempotence } from '../src/kafka/idempotent-writes.js'
import { Dispatcher, type BatchSender, type BatchSenders, type DispatcherSettings } from '../src/pipeline/dispatcher.js'
import { MemoryBudget } from '../src/pipeline/memory-budget.js'
import type { PartitionQueue, QueuedRecord } from '../src/pipeline/partition-queue.js'
import { RecordPipeline } from '../src/pipeline/record-pipeline.js'

const PARTITIONS: PartitionMetadata[] = [0, 1].map((partitionId) => ({
  partitionId,
  leader: 1,
  replicas: [1],
  isr: [1],
  partitionErrorCode: 0,
}))
const SETTINGS: DispatcherSettings = {
  maxBatchRecords: 100,
  maxBatchBytes: 100_000,
  lingerMs: 0,
  maxInFlightPerBroker: 1,
  maxInFlightPerPartition: 1,
}
const LIMITS = {
  maxQueuedBytes: 1_000_000,
  maxQueuedRecords: 1_000,
  maxQueuedBytesPerPartition: 1_000_000,
  maxQueuedRecordsPerPartition: 1_000,
}

/** Senders that never answer (batches stay in flight), and no idempotent requests. */
const NEVER: BatchSender = { sendBatch: () => new Promise(() => {}) }
const NO_IDEMPOTENCE: BatchSenders & Idempotence = {
  plain: NEVER,
  idempotent: () => NEVER,
  always: false,
  ready: false,
  prepare: () => Promise.reject(new Error('not used')),
}

/** A dispatcher that fails on its `failAt`-th enqueue, and never sends (its batches stay in flight). */
class FailingDispatcher extends Dispatcher {
  enqueued = 0

  constructor(
    budget: MemoryBudget,
    private readonly failAt: number,
  ) {
    super(SETTINGS, NO_IDEMPOTENCE, budget, () => 1)
  }

  override enqueue(queue: PartitionQueue, record: QueuedRecord): void {
    if (++this.enqueued === this.failAt) throw new TypeError('injected failure while queueing')
    super.enqueue(queue, record)
  }
}

function request(records: number): ProduceRequest {
  return {
    requestId: 7,
    clientId: 'app',
    appName: 'app',
    instanceId: 'instance',
    acks: -1,
    timeoutMs: 30_000,
    compression: 0,
    awaitDelivery: true,
    reportsFromAck: false,
    allowAutoTopicCreation: null,
    idempotent: false,
    orderEpoch: 0,
    records: Array.from({ length: records }, (_, i) => ({
      topic: 'orders',
      key: null,
      value: Buffer.from(`value-${i}`),
      headers: [],
      partition: i % 2,
      timestampMs: null,
      segment: 0,
    })),
  }
}

function pipelineWith(failAt: number) {
  const budget = new MemoryBudget(LIMITS)
  const dispatcher = new FailingDispatcher(budget, failAt)
  const metadata = { cached: () => PARTITIONS, leaderOf: () => 1 } as unknown as TopicMetadataCache
  const pipeline = new RecordPipeline(
    {
      maxRecordBytes: 10_000,
      maxRecordsPerRequest: 100,
      maxHeadersPerRecord: 10,
      allowedTopics: [],
      requestTimeoutMs: 1_000,
    },
    metadata,
    new DefaultPartitioning(),
    budget,
    dispatcher,
    NO_IDEMPOTENCE,
  )
  return { budget, dispatcher, pipeline }
}

describe('admission after the memory reservation', () => {
  it('a failure midway queues nothing, releases the reservation and says so', async () => {
    const { budget, dispatcher, pipeline } = pipelineWith(3)
    const refusal = await pipeline.submit(request(4)).catch((error: unknown) => error)
    expect({ bytes: budget.bytes, records: budget.records }).toEqual({ bytes: 0, records: 0 })
    expect(dispatcher.queuedRecords).toBe(0)
    expect([0, 1].map((p) => dispatcher.peekQueue('orders', p)?.pendingBytes ?? 0)).toEqual([0, 0])
    expect(refusal).toBeInstanceOf(SidecarError)
    expect(refusal).toMatchObject({
      grpcCode: status.INTERNAL,
      message: expect.stringMatching(
        /^request not queued \(nothing of it was kept\): .*injected failure while queueing/,
      ),
    })
    // Nothing of it reaches the brokers later either.
    await new Promise((resolve) => setImmediate(resolve))
    expect(dispatcher.batchesInFlight).toBe(0)
  })

  it('the next request is admitted whole', async () => {
    const { budget, dispatcher, pipeline } = pipelineWith(1)
    await expect(pipeline.submit(request(2))).rejects.toThrow(/not queued/)
    const tracker = await pipeline.submit(request(2))
    expect(tracker.request.records).toHaveLength(2)
    expect(budget.records).toBe(2)
    expect(dispatcher.queuedRecords).toBe(2)
  })
})
