// The contract's error vocabulary: the one factory for the `Error` message both sides put on the
// wire, the Kafka errors a sidecar answers with by itself, and which gRPC codes say that the
// path failed rather than that the records were judged. A client and a sidecar read these from
// here, so the two ends cannot drift apart.
import { status } from '@grpc/grpc-js'
import { Error as ErrorDetail } from './generated/kafka_sidecar/v1/sidecar.js'

/** A Kafka protocol error, by the numeric code and the name the protocol guide gives it. */
export interface KafkaErrorRef {
  readonly code: number
  readonly name: string
}

/**
 * The Kafka errors a sidecar answers with itself, before or instead of a broker (the brokers'
 * own errors pass through with their code and name). Codes and names are Kafka's; a test checks
 * them against embedded-kafka's table and KafkaJS's.
 */
export const KafkaErrors = {
  UNKNOWN_TOPIC_OR_PARTITION: { code: 3, name: 'UNKNOWN_TOPIC_OR_PARTITION' },
  REQUEST_TIMED_OUT: { code: 7, name: 'REQUEST_TIMED_OUT' },
  MESSAGE_TOO_LARGE: { code: 10, name: 'MESSAGE_TOO_LARGE' },
  INVALID_TOPIC_EXCEPTION: { code: 17, name: 'INVALID_TOPIC_EXCEPTION' },
  RECORD_LIST_TOO_LARGE: { code: 18, name: 'RECORD_LIST_TOO_LARGE' },
  INVALID_REQUIRED_ACKS: { code: 21, name: 'INVALID_REQUIRED_ACKS' },
  INVALID_TIMESTAMP: { code: 32, name: 'INVALID_TIMESTAMP' },
  TOPIC_AUTHORIZATION_FAILED: { code: 29, name: 'TOPIC_AUTHORIZATION_FAILED' },
  UNSUPPORTED_COMPRESSION_TYPE: { code: 76, name: 'UNSUPPORTED_COMPRESSION_TYPE' },
  INVALID_RECORD: { code: 87, name: 'INVALID_RECORD' },
} as const satisfies Record<string, KafkaErrorRef>

/**
 * gRPC codes that say the path to the sidecar failed, not that the records were judged: the
 * records were never taken, or their fate is unknown. A client counts these against the sidecar
 * and sends the records another way; every other code is a verdict on the records, which a
 * client hands to its caller as the error a broker would have given. ABORTED is here because it
 * only ever means "written behind a refusal" (see EmitRequest.order_epoch): the records were not
 * looked at.
 */
export const PATH_FAILURE_CODES: ReadonlySet<number> = new Set<number>([
  status.UNAVAILABLE,
  status.DEADLINE_EXCEEDED,
  status.CANCELLED,
  status.ABORTED,
  status.INTERNAL,
  status.UNKNOWN,
])

export function isPathFailureCode(grpcCode: number): boolean {
  return PATH_FAILURE_CODES.has(grpcCode)
}

export interface ErrorDetailFields {
  readonly grpcCode: status
  readonly message: string
  readonly kafka?: KafkaErrorRef
  readonly retriable?: boolean
  readonly retryAfterMs?: number
}

/** The wire `Error` message, every field set (absent ones to the contract's zero values). */
export function errorDetail(fields: ErrorDetailFields): ErrorDetail {
  return {
    grpcCode: fields.grpcCode,
    message: fields.message,
    kafkaErrorCode: fields.kafka?.code ?? 0,
    kafkaErrorName: fields.kafka?.name ?? '',
    retriable: fields.retriable ?? false,
    retryAfterMs: fields.retryAfterMs ?? 0,
  }
}

export { ErrorDetail }
