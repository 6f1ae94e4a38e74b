/**
 * The ProducerSidecar gRPC service: Emit, EmitStream, DeliveryReports, TopicMetadata and
 * ClusterInfo, each a thin adapter from protobuf onto the RecordPipeline, DeliveryReports, the
 * topic metadata and the cluster identity.
 */
import { status, type Metadata, type ServerDuplexStream, type ServerWritableStream } from '@grpc/grpc-js'
import {
  LIVENESS_HEADER,
  type DeliveryReportEvent,
  type DeliveryReportsRequest,
  type EmitAck,
  type EmitRequest,
  type ProducerSidecarServer,
} from '@kafka-sidecar/proto'
import { invalidArgument, KafkaErrors, SidecarError } from '../errors.js'
import type { ProduceRequest } from '../model.js'
import type { TopicMetadataCache } from '../partitioning/topic-metadata.js'
import type { RecordPipeline } from '../pipeline/record-pipeline.js'
import type { RequestTracker } from '../pipeline/request-tracker.js'
import { isTopicAllowed, topicNameProblem } from '../pipeline/validation.js'
import type { ClusterIdentity } from '../kafka/cluster-identity.js'
import type { DeliveryReports } from '../reports/delivery-reports.js'
import type { RingRead } from '../reports/report-ring.js'
import type { TokenAuth } from './auth.js'
import { asSidecarError, toPartitionResult, toProduceRequest, toProtoError, toServiceError } from './convert.js'
import { decodeProblem, undecodable } from './decode-guard.js'
import { OrderBarrier } from './order-barrier.js'

/** Refuses a request the decode guard marked as undecodable (or too large). */
function checkDecoded(message: unknown): void {
  const problem = decodeProblem(message)
  if (problem)
    throw invalidArgument(problem, undecodable(message)!.oversized ? KafkaErrors.MESSAGE_TOO_LARGE : undefined)
}

const DECIDED: Promise<void> = Promise.resolve()

/** The request id to answer: read from the bytes when the request did not decode, else 0. */
function requestIdOf(message: EmitRequest): number {
  const bad = undecodable(message)
  return bad === null ? message.requestId : (bad.requestId ?? 0)
}

/** Report events written per pump before yielding to the event loop. */
const REPORT_BATCH = 256

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
  readonly stalled?: (clientLivenessMs?: number) => string | null
}

/** Tracks open streams per client instance (the connected-clients gauge) and ends them at shutdown. */
export class OpenStreams {
  /** By instance id; a stream without one counts as an instance of its own (keyed by an object). */
  private readonly byInstance = new Map<string | object, number>()
  private readonly streams = new Set<{ end(): void }>()

  add(stream: { end(): void }): () => void {
    this.streams.add(stream)
    return () => this.streams.delete(stream)
  }

  noteInstance(instanceId: string | object): () => void {
    this.byInstance.set(instanceId, (this.byInstance.get(instanceId) ?? 0) + 1)
    return () => {
      const n = this.byInstance.get(instanceId)! - 1
      if (n === 0) this.byInstance.delete(instanceId)
      else this.byInstance.set(instanceId, n)
    }
  }

  get connectedInstances(): number {
    return this.byInstance.size
  }

  endAll(): void {
    for (const s of this.streams) s.end()
    this.streams.clear()
  }
}

function receivedAck(request: ProduceRequest): EmitAck {
  return { requestId: request.requestId, received: true, results: [] }
}

type LeaderOf = (topic: string, partition: number) => number

function deliveredAck(
  tracker: RequestTracker,
  outcomes: Awaited<RequestTracker['settled']>,
  leaderOf: LeaderOf,
): EmitAck {
  return {
    requestId: tracker.request.requestId,
    received: true,
    results: outcomes.map((o) => toPartitionResult(o, leaderOf(o.topic, o.partition))),
  }
}

function reportEvent(entry: RingRead, leaderOf: LeaderOf): DeliveryReportEvent {
  if (entry.kind === 'gap') {
    return {
      event: {
        $case: 'gap',
        value: {
          firstSequence: entry.firstSequence,
          lastSequence: entry.lastSequence,
          reason: 'reports were overwritten before this client read them (ring buffer full)',
        },
      },
    }
  }
  const { report } = entry
  return {
    event: {
      $case: 'report',
      value: {
        sequence: report.sequence,
        requestId: report.requestId,
        result: toPartitionResult(report.outcome, leaderOf(report.outcome.topic, report.outcome.partition)),
      },
    },
  }
}

/** The liveness timeout the client said it has (see StallGuard), if it said a sane one. */
function clientLivenessMs(metadata: Metadata): number | undefined {
  const [value] = metadata.get(LIVENESS_HEADER)
  const ms = typeof value === 'string' ? Number(value) : NaN
  return Number.isInteger(ms) && ms > 0 && ms <= 3_600_000 ? ms : undefined
}

export function producerService(deps: ProducerServiceDeps, streams: OpenStreams): ProducerSidecarServer {
  const { pipeline, reports, auth } = deps
  const leaderOf: LeaderOf = (topic, partition) => deps.metadata.leaderOf(topic, partition)

  /** Refuses, unqueued, a request read right after an event-loop stall its client may have given up in (see StallGuard). */
  function checkNotStalled(metadata: Metadata): void {
    const stall = deps.stalled?.(clientLivenessMs(metadata))
    if (stall) throw new SidecarError({ grpcCode: status.UNAVAILABLE, message: stall, retriable: true })
  }

  /** Submits and resolves with the ack the caller should get (received, or delivered). */
  async function handle(request: ProduceRequest, metadata: Metadata): Promise<EmitAck> {
    checkNotStalled(metadata)
    const tracker = await pipeline.submit(request)
    if (request.acks === 0 || !request.awaitDelivery) return receivedAck(request)
    return deliveredAck(tracker, await tracker.settled, leaderOf)
  }

  return {
    emit(call, callback) {
      let request: ProduceRequest
      try {
        auth.check(call.metadata)
        checkDecoded(call.request)
        request = toProduceRequest(call.request)
      } catch (error) {
        deps.onRequest('Emit', asSidecarError(error).grpcCode)
        return callback(toServiceError(error))
      }
      handle(request, call.metadata).then(
        (ack) => {
          deps.onRequest('Emit', status.OK)
          callback(null, ack)
        },
        (error: unknown) => {
          deps.onRequest('Emit', asSidecarError(error).grpcCode)
          callback(toServiceError(error))
        },
      )
    },

    emitStream(call: ServerDuplexStream<EmitRequest, EmitAck>) {
      try {
        auth.check(call.metadata)
      } catch (error) {
        deps.onRequest('EmitStream', asSidecarError(error).grpcCode)
        call.emit('error', toServiceError(error))
        return
      }
      let outstanding = 0
      let clientDone = false
      let closed = false
      const releaseInstances: Array<() => void> = []
      const seenInstances = new Set<string>()
      const anonymous = {}
      const forget = streams.add({ end: () => finish() })
      // grpc-js emits 'cancelled' when the HTTP/2 stream closes, even after a normal end, so
      // releasing must happen exactly once whichever comes first.
      const release = () => {
        if (closed) return
        closed = true
        forget()
        for (const releaseInstance of releaseInstances) releaseInstance()
      }
      const finish = () => {
        if (closed) return
        release()
        call.end()
      }
      const reply = (ack: EmitAck) => {
        outstanding--
        if (!closed && !call.cancelled) call.write(ack)
        if (clientDone && outstanding === 0) finish()
      }
      const accepted = (ack: EmitAck) => {
        deps.onRequest('EmitStream', status.OK)
        reply(ack)
      }
      const refuse = (requestId: number, error: unknown) => {
        const refusal = asSidecarError(error)
        deps.onRequest('EmitStream', refusal.grpcCode)
        reply({ requestId, received: false, error: toProtoError(refusal), results: [] })
      }
      // Decisions (queue or refuse) are made one request at a time in arrival order, even when
      // one waits for topic metadata, and a refusal is answered as soon as it is made: a producer
      // that hears of a refusal then knows every earlier request was decided before it, and the
      // barrier refuses what it pipelined after it.
      const barrier = new OrderBarrier()
      const decide = (message: EmitRequest): Promise<void> => {
        // The client gave up on this stream (and resends what it had in flight elsewhere):
        // queueing what it sent would write it a second time, out of order.
        if (closed || call.cancelled) {
          refuse(
            requestIdOf(message),
            new SidecarError({
              grpcCode: status.CANCELLED,
              message: 'not queued: the stream was cancelled before this request was decided',
            }),
          )
          return DECIDED
        }
        let request: ProduceRequest
        try {
          checkDecoded(message)
          request = toProduceRequest(message)
        } catch (error) {
          const bad = undecodable(message)
          barrier.refused(bad === null ? (message.orderEpoch ?? 0) : bad.orderEpoch)
          refuse(requestIdOf(message), error)
          return DECIDED
        }
        const aborted = barrier.check(request.orderEpoch)
        if (aborted) {
          refuse(request.requestId, aborted)
          return DECIDED
        }
        try {
          checkNotStalled(call.metadata)
        } catch (error) {
          barrier.refused(request.orderEpoch)
          refuse(request.requestId, error)
          return DECIDED
        }
        if (!seenInstances.has(request.instanceId)) {
          seenInstances.add(request.instanceId)
          releaseInstances.push(streams.noteInstance(request.instanceId === '' ? anonymous : request.instanceId))
        }
        // The refusal is written, and the barrier raised, in the step that makes the decision:
        // the producer hears of refusals in request order, and the next request meets the barrier.
        return pipeline.submit(request).then(
          (tracker) => {
            if (request.acks === 0 || !request.awaitDelivery) return accepted(receivedAck(request))
            void tracker.settled.then((outcomes) => accepted(deliveredAck(tracker, outcomes, leaderOf)))
          },
          (error: unknown) => {
            barrier.refused(request.orderEpoch)
            refuse(request.requestId, error)
          },
        )
      }
      let undecided = 0
      let lastDecision = DECIDED
      /** decide(), and should it ever throw, an INTERNAL refusal rather than a stalled stream. */
      const decideSafely = (message: EmitRequest): Promise<void> => {
        try {
          return decide(message).catch((error: unknown) => refuse(requestIdOf(message), error))
        } catch (error) {
          refuse(requestIdOf(message), error)
          return DECIDED
        }
      }
      call.on('data', (message: EmitRequest) => {
        outstanding++
        const decision = undecided === 0 ? decideSafely(message) : lastDecision.then(() => decideSafely(message))
        undecided++
        lastDecision = decision
        void decision.then(() => undecided--)
      })
      call.on('end', () => {
        clientDone = true
        if (outstanding === 0) finish()
      })
      call.on('cancelled', release)
      call.on('error', () => {})
    },

    deliveryReports(call: ServerWritableStream<DeliveryReportsRequest, DeliveryReportEvent>) {
      try {
        auth.check(call.metadata)
        checkDecoded(call.request)
        if (call.request.instanceId === '') throw invalidArgument('instance_id is required')
      } catch (error) {
        call.emit('error', toServiceError(error))
        return
      }
      const { instanceId } = call.request
      let cursor = call.request.afterSequence
      let paused = false
      let ended = false
      /** Set at shutdown: end the stream once every retained report has been written. */
      let endWhenCaughtUp = false
      const pump = () => {
        while (!paused && !ended) {
          const entries = reports.read(instanceId, cursor, REPORT_BATCH)
          if (entries.length === 0) {
            if (endWhenCaughtUp) {
              stop()
              call.end()
            }
            return
          }
          for (const entry of entries) {
            cursor = entry.kind === 'gap' ? entry.lastSequence : entry.report.sequence
            // A slow reader pauses the pump instead of buffering in grpc-js: the ring is the buffer,
            // and what it overwrites meanwhile comes back to the reader as a gap.
            if (!call.write(reportEvent(entry, leaderOf))) {
              paused = true
              call.once('drain', () => {
                paused = false
                pump()
              })
              return
            }
          }
        }
      }
      // A cursor beyond anything this ring issued means the numbering began again (the sidecar
      // restarted, or forgot an idle instance). Say so with a gap, then start from the oldest
      // report, so the client neither waits for sequences that will never come nor skips new ones.
      const next = reports.nextSequence(instanceId)
      if (cursor >= next) {
        call.write({
          event: {
            $case: 'gap',
            value: {
              firstSequence: next,
              lastSequence: cursor,
              reason:
                'sequence numbers restarted: this sidecar never issued these reports (it restarted or forgot an idle instance)',
            },
          },
        })
        cursor = 0
      }
      const unsubscribe = reports.subscribe(instanceId, pump)
      const releaseInstance = streams.noteInstance(instanceId)
      const stop = () => {
        if (ended) return
        ended = true
        unsubscribe()
        releaseInstance()
      }
      const forget = streams.add({
        end: () => {
          endWhenCaughtUp = true
          pump()
        },
      })
      call.on('cancelled', () => {
        stop()
        forget()
      })
      call.on('error', () => {})
      pump()
    },

    topicMetadata(call, callback) {
      const { topic } = call.request
      try {
        auth.check(call.metadata)
        checkDecoded(call.request)
        // As for Emit: at once while shutting down or away from Kafka, not after the admin's retries.
        pipeline.checkOpen()
        const problem = topicNameProblem(topic)
        if (problem) throw invalidArgument(`invalid topic: ${problem}`, KafkaErrors.INVALID_TOPIC_EXCEPTION)
        if (!isTopicAllowed(topic, deps.allowedTopics)) {
          throw new SidecarError({
            grpcCode: status.PERMISSION_DENIED,
            message: `topic "${topic}" is not in this sidecar's allow-list`,
            kafkaErrorCode: KafkaErrors.TOPIC_AUTHORIZATION_FAILED.code,
            kafkaErrorName: KafkaErrors.TOPIC_AUTHORIZATION_FAILED.name,
          })
        }
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
    },

    clusterInfo(call, callback) {
      try {
        auth.check(call.metadata)
        checkDecoded(call.request)
      } catch (error) {
        return callback(toServiceError(error))
      }
      deps.cluster.describe().then(
        ({ clusterId, bootstrapServers, brokers }) =>
          callback(null, { clusterId, bootstrapServers: [...bootstrapServers], brokers: [...brokers] }),
        (error: unknown) => callback(toServiceError(error)),
      )
    },
  }
}
