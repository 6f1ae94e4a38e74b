/**
 * The ProducerSidecar gRPC service: Emit, EmitStream, DeliveryReports, TopicMetadata and
 * ClusterInfo, each a thin adapter from protobuf onto the RecordPipeline, DeliveryReports, the
 * topic metadata and the cluster identity. Each stream is an object of its own
 * (EmitStreamSession, DeliveryReportsSession).
 */
import {
  status,
  type Metadata,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServerWritableStream,
} from '@grpc/grpc-js'
import type {
  ClusterInfoRequest,
  ClusterInfoResponse,
  DeliveryReportEvent,
  DeliveryReportsRequest,
  EmitAck,
  EmitRequest,
  ProducerSidecarServer,
  TopicMetadataRequest,
  TopicMetadataResponse,
} from '@kafka-sidecar/proto'
import { invalidArgument, KafkaErrors, SidecarError } from '../errors.js'
import type { ProduceRequest } from '../model.js'
import type { TopicMetadataCache } from '../partitioning/topic-metadata.js'
import type { RecordPipeline } from '../pipeline/record-pipeline.js'
import { isTopicAllowed, topicNameProblem } from '../pipeline/validation.js'
import type { ClusterIdentity } from '../kafka/cluster-identity.js'
import type { DeliveryReports } from '../reports/delivery-reports.js'
import type { TokenAuth } from './auth.js'
import { asSidecarError, toProduceRequest, toServiceError } from './convert.js'
import { DeliveryReportsSession } from './delivery-reports-session.js'
import { answeredOnReceipt, deliveredAck, receivedAck, type LeaderOf } from './emit-acks.js'
import { EmitStreamSession } from './emit-stream-session.js'
import type { OpenStreams } from './open-streams.js'
import { checkDecoded, stallRefusal, type StallCheck } from './request-checks.js'

export interface ProducerServiceDeps {
  readonly pipeline: RecordPipeline
  readonly reports: DeliveryReports
  readonly metadata: TopicMetadataCache
  /** Which cluster this sidecar writes to (ClusterInfo). */
  readonly cluster: Pick<ClusterIdentity, 'describe'>
  readonly auth: TokenAuth
  readonly allowedTopics: readonly string[]
  readonly onRequest: (method: string, code: status) => void
  /** Why requests read now are refused after an event-loop stall (StallGuard), or null. */
  readonly stalled?: StallCheck
}

export function producerService(deps: ProducerServiceDeps, streams: OpenStreams): ProducerSidecarServer {
  const leaderOf: LeaderOf = (topic, partition) => deps.metadata.leaderOf(topic, partition)
  return {
    emit: (call, callback) => emit(deps, leaderOf, call, callback),
    emitStream: (call) => openEmitStream(deps, leaderOf, streams, call),
    deliveryReports: (call) => openDeliveryReports(deps, leaderOf, streams, call),
    topicMetadata: (call, callback) => topicMetadata(deps, call, callback),
    clusterInfo: (call, callback) => clusterInfo(deps, call, callback),
  }
}

function openEmitStream(
  deps: ProducerServiceDeps,
  leaderOf: LeaderOf,
  streams: OpenStreams,
  call: ServerDuplexStream<EmitRequest, EmitAck>,
): void {
  const onAnswer = (code: status) => deps.onRequest('EmitStream', code)
  try {
    deps.auth.check(call.metadata)
  } catch (error) {
    onAnswer(asSidecarError(error).grpcCode)
    call.emit('error', toServiceError(error))
    return
  }
  new EmitStreamSession(call, { pipeline: deps.pipeline, leaderOf, onAnswer, stalled: deps.stalled }, streams)
}

function openDeliveryReports(
  deps: ProducerServiceDeps,
  leaderOf: LeaderOf,
  streams: OpenStreams,
  call: ServerWritableStream<DeliveryReportsRequest, DeliveryReportEvent>,
): void {
  try {
    deps.auth.check(call.metadata)
    checkDecoded(call.request)
    if (call.request.instanceId === '') throw invalidArgument('instance_id is required')
  } catch (error) {
    call.emit('error', toServiceError(error))
    return
  }
  new DeliveryReportsSession(call, deps.reports, leaderOf, streams)
}

function emit(
  deps: ProducerServiceDeps,
  leaderOf: LeaderOf,
  call: ServerUnaryCall<EmitRequest, EmitAck>,
  callback: sendUnaryData<EmitAck>,
): void {
  let request: ProduceRequest
  try {
    deps.auth.check(call.metadata)
    checkDecoded(call.request)
    request = toProduceRequest(call.request)
  } catch (error) {
    deps.onRequest('Emit', asSidecarError(error).grpcCode)
    return callback(toServiceError(error))
  }
  submitUnary(deps, leaderOf, request, call.metadata).then(
    (ack) => {
      deps.onRequest('Emit', status.OK)
      callback(null, ack)
    },
    (error: unknown) => {
      deps.onRequest('Emit', asSidecarError(error).grpcCode)
      callback(toServiceError(error))
    },
  )
}

/** Submits and resolves with the ack the caller should get (received, or delivered). */
async function submitUnary(
  deps: ProducerServiceDeps,
  leaderOf: LeaderOf,
  request: ProduceRequest,
  metadata: Metadata,
): Promise<EmitAck> {
  const stall = stallRefusal(deps.stalled, metadata)
  if (stall) throw stall
  const tracker = await deps.pipeline.submit(request)
  if (answeredOnReceipt(request)) return receivedAck(request)
  return deliveredAck(tracker, await tracker.settled, leaderOf)
}

function topicMetadata(
  deps: ProducerServiceDeps,
  call: ServerUnaryCall<TopicMetadataRequest, TopicMetadataResponse>,
  callback: sendUnaryData<TopicMetadataResponse>,
): void {
  const { topic } = call.request
  try {
    deps.auth.check(call.metadata)
    checkDecoded(call.request)
    // As for Emit: at once while shutting down or away from Kafka, not after the admin's retries.
    deps.pipeline.checkOpen()
    checkTopic(topic, deps.allowedTopics)
  } catch (error) {
    return callback(toServiceError(error))
  }
  deps.metadata.load(topic).then(
    (partitions) =>
      callback(null, {
        topic,
        partitions: partitions.map((p) => ({
          partitionId: p.partitionId,
          leader: p.leader,
          replicas: p.replicas,
          isr: p.isr,
          partitionErrorCode: p.partitionErrorCode,
        })),
      }),
    (error: unknown) => callback(toServiceError(error)),
  )
}

function checkTopic(topic: string, allowedTopics: readonly string[]): void {
  const problem = topicNameProblem(topic)
  if (problem) throw invalidArgument(`invalid topic: ${problem}`, KafkaErrors.INVALID_TOPIC_EXCEPTION)
  if (!isTopicAllowed(topic, allowedTopics)) {
    throw new SidecarError({
      grpcCode: status.PERMISSION_DENIED,
      message: `topic "${topic}" is not in this sidecar's allow-list`,
      kafka: KafkaErrors.TOPIC_AUTHORIZATION_FAILED,
    })
  }
}

function clusterInfo(
  deps: ProducerServiceDeps,
  call: ServerUnaryCall<ClusterInfoRequest, ClusterInfoResponse>,
  callback: sendUnaryData<ClusterInfoResponse>,
): void {
  try {
    deps.auth.check(call.metadata)
    checkDecoded(call.request)
  } catch (error) {
    return callback(toServiceError(error))
  }
  deps.cluster.describe().then(
    ({ clusterId, bootstrapServers, brokers }) =>
      callback(null, { clusterId, bootstrapServers: [...bootstrapServers], brokers: [...brokers] }),
    (error: unknown) => callback(toServiceError(error)),
  )
}
