/** The errors the consumer side answers with, one factory per kind. */
import { status } from '@grpc/grpc-js'
import { SidecarError } from '../errors.js'

/** Kafka's answer to a commit from a member whose ownership ended: the same meaning here. */
const ILLEGAL_GENERATION = { code: 22, name: 'ILLEGAL_GENERATION' } as const

/** A commit naming partitions this instance does not own (any more), each named. */
export function notOwned(partitions: readonly string[]): SidecarError {
  return new SidecarError({
    grpcCode: status.FAILED_PRECONDITION,
    message: `not committed: this instance does not own ${partitions.join(', ')} (never given to it, or given to another process since)`,
    kafka: ILLEGAL_GENERATION,
  })
}

/** Between a crash and the restart of the group member, or after it stopped. */
export function notInGroup(groupId: string): SidecarError {
  return new SidecarError({
    grpcCode: status.UNAVAILABLE,
    message: `the sidecar's member of group "${groupId}" is not in the group now (starting, rejoining or stopped)`,
    retriable: true,
  })
}

export function memberFailed(groupId: string, error: Error): SidecarError {
  return new SidecarError(
    {
      grpcCode: status.UNAVAILABLE,
      message: `the sidecar's member of group "${groupId}" failed: ${error.message}`,
      retriable: true,
    },
    { cause: error },
  )
}

export function sidecarStopping(): SidecarError {
  return new SidecarError({ grpcCode: status.UNAVAILABLE, message: 'sidecar shutting down', retriable: true })
}

export function processTimedOut(timeoutMs: number): SidecarError {
  return new SidecarError({
    grpcCode: status.DEADLINE_EXCEEDED,
    message: `nothing heard from this instance for ${timeoutMs} ms (process_timeout_ms): its partitions were given to other processes`,
    retriable: true,
  })
}

export function joinTimedOut(timeoutMs: number): SidecarError {
  return new SidecarError({
    grpcCode: status.DEADLINE_EXCEEDED,
    message: `no join within ${timeoutMs} ms of the Consume stream's start: the first message must be join`,
    retriable: true,
  })
}
