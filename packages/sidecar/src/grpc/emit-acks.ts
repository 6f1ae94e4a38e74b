/** The EmitAcks a request is answered with: received, delivered, or refused. */
import type { EmitAck } from '@kafka-sidecar/proto'
import type { ProduceRequest } from '../model.js'
import type { RequestTracker } from '../pipeline/request-tracker.js'
import type { SidecarError } from '../errors.js'
import { toPartitionResult } from './convert.js'

/** The broker leading a partition, as the results name it (-1 when unknown). */
export type LeaderOf = (topic: string, partition: number) => number

/** Whether the caller is answered once the request is queued, not once the brokers answered. */
export function answeredOnReceipt(request: ProduceRequest): boolean {
  return request.acks === 0 || !request.awaitDelivery
}

export function receivedAck(request: ProduceRequest): EmitAck {
  return { requestId: request.requestId, received: true, results: [] }
}

export function deliveredAck(
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

export function refusedAck(requestId: number, refusal: SidecarError): EmitAck {
  return { requestId, received: false, error: refusal.toDetail(), results: [] }
}
