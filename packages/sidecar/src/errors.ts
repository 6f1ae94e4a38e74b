/**
 * One error type for everything the sidecar refuses or fails to deliver: a gRPC status code as
 * grpc users expect, the Kafka error behind it when there is one, whether a retry may help, and
 * for a full queue how long to wait. The gRPC layer turns it into a status or an ack field.
 */
import { status } from '@grpc/grpc-js'

export interface SidecarErrorFields {
  readonly grpcCode: status
  readonly message: string
  readonly kafkaErrorCode?: number
  readonly kafkaErrorName?: string
  readonly retriable?: boolean
  readonly retryAfterMs?: number
}

export class SidecarError extends Error {
  override name = 'SidecarError'
  readonly grpcCode: status
  readonly kafkaErrorCode: number
  readonly kafkaErrorName: string
  readonly retriable: boolean
  readonly retryAfterMs: number

  constructor(fields: SidecarErrorFields, options?: { cause?: unknown }) {
    super(fields.message, options)
    this.grpcCode = fields.grpcCode
    this.kafkaErrorCode = fields.kafkaErrorCode ?? 0
    this.kafkaErrorName = fields.kafkaErrorName ?? ''
    this.retriable = fields.retriable ?? false
    this.retryAfterMs = fields.retryAfterMs ?? 0
  }
}

export function invalidArgument(message: string, kafka?: { code: number; name: string }): SidecarError {
  return new SidecarError({
    grpcCode: status.INVALID_ARGUMENT,
    message,
    kafkaErrorCode: kafka?.code,
    kafkaErrorName: kafka?.name,
  })
}

/** Kafka error codes the sidecar itself answers with (the broker's own come from KafkaJS). */
export const KafkaErrors = {
  INVALID_TOPIC_EXCEPTION: { code: 17, name: 'INVALID_TOPIC_EXCEPTION' },
  MESSAGE_TOO_LARGE: { code: 10, name: 'MESSAGE_TOO_LARGE' },
  RECORD_LIST_TOO_LARGE: { code: 18, name: 'RECORD_LIST_TOO_LARGE' },
  INVALID_REQUIRED_ACKS: { code: 21, name: 'INVALID_REQUIRED_ACKS' },
  INVALID_RECORD: { code: 87, name: 'INVALID_RECORD' },
  UNSUPPORTED_COMPRESSION_TYPE: { code: 76, name: 'UNSUPPORTED_COMPRESSION_TYPE' },
  TOPIC_AUTHORIZATION_FAILED: { code: 29, name: 'TOPIC_AUTHORIZATION_FAILED' },
  UNKNOWN_TOPIC_OR_PARTITION: { code: 3, name: 'UNKNOWN_TOPIC_OR_PARTITION' },
  REQUEST_TIMED_OUT: { code: 7, name: 'REQUEST_TIMED_OUT' },
} as const

interface KafkaJSErrorLike {
  name?: string
  message?: string
  retriable?: boolean
  type?: string
  code?: number
  cause?: unknown
  originalError?: unknown
}

/**
 * Classifies what KafkaJS threw from sendBatch. KafkaJS wraps the broker's error in
 * KafkaJSNumberOfRetriesExceeded (`cause`/`originalError`); the innermost protocol error names
 * the Kafka code. Timeouts map to DEADLINE_EXCEEDED, connection trouble to UNAVAILABLE, and
 * anything else the broker refused to the Kafka error with its retriable flag.
 */
export function fromKafkaJSError(error: unknown): SidecarError {
  let inner = error as KafkaJSErrorLike
  for (let depth = 0; depth < 5 && inner && typeof inner.code !== 'number'; depth++) {
    const next = (inner.originalError ?? inner.cause) as KafkaJSErrorLike | undefined
    if (!next) break
    inner = next
  }
  const outer = error as KafkaJSErrorLike
  const message = outer?.message ?? String(error)
  if (inner && typeof inner.code === 'number' && inner.type) {
    const grpcCode =
      inner.type === 'REQUEST_TIMED_OUT'
        ? status.DEADLINE_EXCEEDED
        : inner.retriable
          ? status.UNAVAILABLE
          : status.INVALID_ARGUMENT
    return new SidecarError(
      {
        grpcCode,
        message: inner.message ?? message,
        kafkaErrorCode: inner.code,
        kafkaErrorName: inner.type,
        retriable: inner.retriable ?? false,
      },
      { cause: error },
    )
  }
  const name = inner?.name ?? outer?.name ?? ''
  if (name === 'KafkaJSNotImplemented') {
    return new SidecarError(
      {
        grpcCode: status.INVALID_ARGUMENT,
        message,
        kafkaErrorCode: 76,
        kafkaErrorName: 'UNSUPPORTED_COMPRESSION_TYPE',
        retriable: false,
      },
      { cause: error },
    )
  }
  if (name === 'KafkaJSRequestTimeoutError' || /timed? ?out/i.test(message)) {
    return new SidecarError(
      {
        grpcCode: status.DEADLINE_EXCEEDED,
        message,
        kafkaErrorCode: 7,
        kafkaErrorName: 'REQUEST_TIMED_OUT',
        retriable: true,
      },
      { cause: error },
    )
  }
  return new SidecarError({ grpcCode: status.UNAVAILABLE, message, retriable: true }, { cause: error })
}
