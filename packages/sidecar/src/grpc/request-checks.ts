/** What a ProducerSidecar request is checked for before it reaches the pipeline, shared by its handlers. */
import { status, type Metadata } from '@grpc/grpc-js'
import { LIVENESS_HEADER, type EmitRequest } from '@kafka-sidecar/proto'
import { invalidArgument, KafkaErrors, SidecarError } from '../errors.js'
import { decodeProblem, undecodable } from './decode-guard.js'

/** Why requests read now are refused after an event-loop stall (StallGuard), or null. */
export type StallCheck = (clientLivenessMs?: number) => string | null

/** Refuses a request the decode guard marked as undecodable (or too large). */
export function checkDecoded(message: unknown): void {
  const problem = decodeProblem(message)
  if (problem)
    throw invalidArgument(problem, undecodable(message)!.oversized ? KafkaErrors.MESSAGE_TOO_LARGE : undefined)
}

/** The request id to answer: read from the bytes when the request did not decode, else 0. */
export function requestIdOf(message: EmitRequest): number {
  const bad = undecodable(message)
  return bad === null ? message.requestId : (bad.requestId ?? 0)
}

/** The order epoch of a request that was refused: read from the bytes when it did not decode (undefined if unreadable). */
export function orderEpochOf(message: EmitRequest): number | undefined {
  const bad = undecodable(message)
  return bad === null ? (message.orderEpoch ?? 0) : bad.orderEpoch
}

/**
 * The refusal, unqueued, for a request read right after an event-loop stall its client may have
 * given up in (see StallGuard), or null.
 */
export function stallRefusal(stalled: StallCheck | undefined, metadata: Metadata): SidecarError | null {
  const stall = stalled?.(clientLivenessMs(metadata))
  return stall ? new SidecarError({ grpcCode: status.UNAVAILABLE, message: stall, retriable: true }) : null
}

/** The liveness timeout the client said it has (see StallGuard), if it said a sane one. */
function clientLivenessMs(metadata: Metadata): number | undefined {
  const [value] = metadata.get(LIVENESS_HEADER)
  const ms = typeof value === 'string' ? Number(value) : NaN
  return Number.isInteger(ms) && ms > 0 && ms <= 3_600_000 ? ms : undefined
}
