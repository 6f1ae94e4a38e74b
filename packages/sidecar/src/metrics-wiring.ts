/**
 * What the sidecar's parts add to its metrics as they work (admission, delivery, batches), and
 * the gauges read at each scrape from the parts, watched once those parts exist.
 */
import { status } from '@grpc/grpc-js'
import type { ConsumerMeter } from './consumer/group-member.js'
import type { SidecarError } from './errors.js'
import type { IdempotentWrites } from './kafka/idempotent-writes.js'
import type { KafkaConnection } from './kafka/kafka-connection.js'
import { boundedLabel, type SidecarMetrics } from './metrics.js'
import type { PartitionOutcome, ProduceRequest } from './model.js'
import type { OpenStreams } from './grpc/open-streams.js'
import type { Dispatcher } from './pipeline/dispatcher.js'
import type { MemoryBudget } from './pipeline/memory-budget.js'
import type { RequestTracker } from './pipeline/request-tracker.js'
import { recordSize } from './pipeline/validation.js'
import type { DeliveryReports } from './reports/delivery-reports.js'

/** The parts the gauges read. */
export interface MeasuredParts {
  readonly dispatcher: Dispatcher
  readonly budget: MemoryBudget
  readonly streams: OpenStreams
  readonly reports: DeliveryReports
  readonly connection: KafkaConnection
  readonly idempotence: IdempotentWrites
}

export function watchGauges(metrics: SidecarMetrics, parts: MeasuredParts): void {
  const { dispatcher, budget, streams, reports, connection, idempotence } = parts
  metrics.watch({
    queuedRecords: () => dispatcher.queuedRecords,
    queuedBytes: () => budget.bytes,
    batchesInFlight: () => dispatcher.batchesInFlight,
    connectedClients: () => streams.connectedInstances,
    reportSubscribers: () => reports.subscriberCount,
    kafkaConnected: () => connection.connected,
    idempotentProducerReady: () => idempotence.ready,
  })
}

/** The gRPC status name a label shows (the number, should a code have none). */
export function codeLabel(code: status): string {
  return status[code] ?? String(code)
}

export function countAccepted(metrics: SidecarMetrics, request: ProduceRequest, bytes: number): void {
  const app = metrics.apps.admit(request.appName)
  for (const [topic, count] of countByTopic(request)) {
    metrics.records.inc({ app, topic, stage: 'attempted' }, count)
    metrics.records.inc({ app, topic, stage: 'accepted' }, count)
  }
  if (isSingleTopic(request)) metrics.bytes.inc({ app, topic: request.records[0]!.topic }, bytes)
  else for (const [topic, topicBytes] of bytesByTopic(request)) metrics.bytes.inc({ app, topic }, topicBytes)
}

export function countRejected(metrics: SidecarMetrics, request: ProduceRequest, error: SidecarError): void {
  countError(metrics, error)
  // A refused request's topic may be anything a client sent (an invalid name of any length).
  const app = metrics.apps.admit(request.appName)
  for (const [topic, count] of countByTopic(request)) {
    const label = metrics.refusedTopics.admit(boundedLabel(topic))
    metrics.records.inc({ app, topic: label, stage: 'attempted' }, count)
    metrics.records.inc({ app, topic: label, stage: 'rejected' }, count)
  }
}

export function countSettled(
  metrics: SidecarMetrics,
  tracker: RequestTracker,
  outcomes: readonly PartitionOutcome[],
): void {
  const app = metrics.apps.admit(tracker.request.appName)
  metrics.deliveryLatency.observe({ app }, (Date.now() - tracker.acceptedAt) / 1000)
  for (const outcome of outcomes) {
    const stage = outcome.error ? 'failed' : 'acked'
    metrics.records.inc({ app, topic: outcome.topic, stage }, outcome.recordIndexes.length)
    if (outcome.error) countError(metrics, outcome.error)
  }
}

export function countBatch(metrics: SidecarMetrics, records: number, bytes: number): void {
  metrics.batchRecords.observe(records)
  metrics.batchBytes.observe(bytes)
}

function countError(metrics: SidecarMetrics, error: SidecarError): void {
  metrics.errors.inc({ code: codeLabel(error.grpcCode), kafka_error: error.kafkaErrorName })
}

function isSingleTopic(request: ProduceRequest): boolean {
  const first = request.records[0]?.topic
  return request.records.every((r) => r.topic === first)
}

/** Accepted bytes per topic of a multi-topic request (the queue's own per-record size). */
function bytesByTopic(request: ProduceRequest): Map<string, number> {
  const bytes = new Map<string, number>()
  for (const r of request.records) bytes.set(r.topic, (bytes.get(r.topic) ?? 0) + recordSize(r))
  return bytes
}

function countByTopic(request: ProduceRequest): Map<string, number> {
  const counts = new Map<string, number>()
  for (const r of request.records) counts.set(r.topic, (counts.get(r.topic) ?? 0) + 1)
  return counts
}

/** What the group members count, into the sidecar's consumer metrics (group ids bounded as labels). */
export function consumerMeter(metrics: SidecarMetrics): ConsumerMeter {
  const group = (groupId: string) => metrics.groupLabel(groupId)
  return {
    delivered: (groupId, topic, records, redelivered) => {
      metrics.consumerDelivered.inc({ group: group(groupId), topic }, records)
      if (redelivered > 0) metrics.consumerRedelivered.inc({ group: group(groupId), topic }, redelivered)
    },
    committed: (groupId, result) => metrics.consumerCommits.inc({ group: group(groupId), result }),
    commitSeconds: (groupId, seconds) => metrics.consumerCommitDuration.observe({ group: group(groupId) }, seconds),
    localMove: (groupId) => metrics.consumerLocalMoves.inc({ group: group(groupId) }),
    kafkaRebalance: (groupId) => metrics.consumerRebalances.inc({ group: group(groupId) }),
  }
}
