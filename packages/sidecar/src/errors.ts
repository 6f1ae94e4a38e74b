/**
 * One error type for everything the sidecar refuses or fails to deliver: a gRPC status code as
 * grpc users expect, the Kafka error behind it when there is one, whether a retry may help, and
 * for a full queue how long to wait. The gRPC layer turns it into a status or an ack field.
 */
import { status } from '@grpc/grpc-js'
import {
  errorDetail,
  KafkaErrors,
  type ErrorDetail,
  type ErrorDetailFields,
  type KafkaErrorRef,
} from '@kafka-sidecar/proto'

export { KafkaErrors }

/**
 * What a SidecarError says: the fields of the contract's wire Error (see @kafka-sidecar/proto).
 * `kafkaErrorCode`/`kafkaErrorName` are the spelling before `kafka` existed, still accepted from
 * code written against it.
 */
export type SidecarErrorFields = ErrorDetailFields & {
  /** @deprecated use `kafka: { code, name }` */
  readonly kafkaErrorCode?: number
  /** @deprecated use `kafka: { code, name }` */
  readonly kafkaErrorName?: string
}

export class SidecarError extends Error {
  override name = 'SidecarError'
  readonly grpcCode: status
  readonly kafkaErrorCode: number
  readonly kafkaErrorName: string
  readonly retriable: boolean
  readonly retryAfterMs: number

  private readonly detail: ErrorDetail

  constructor(fields: SidecarErrorFields, options?: { cause?: unknown }) {
    super(fields.message, options)
    this.detail = errorDetail({ ...fields, kafka: fields.kafka ?? legacyKafkaError(fields) })
    this.grpcCode = fields.grpcCode
    this.kafkaErrorCode = this.detail.kafkaErrorCode
    this.kafkaErrorName = this.detail.kafkaErrorName
    this.retriable = this.detail.retriable
    this.retryAfterMs = this.detail.retryAfterMs
  }

  /** The wire Error a client reads in an ack or a partition result. */
  toDetail(): ErrorDetail {
    return { ...this.detail }
  }
}

function legacyKafkaError(fields: SidecarErrorFields): KafkaErrorRef | undefined {
  if (!fields.kafkaErrorCode && !fields.kafkaErrorName) return undefined
  return { code: fields.kafkaErrorCode ?? 0, name: fields.kafkaErrorName ?? '' }
}

export function invalidArgument(message: string, kafka?: KafkaErrorRef): SidecarError {
  return new SidecarError({ grpcCode: status.INVALID_ARGUMENT, message, kafka })
}

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
      inner.type === KafkaErrors.REQUEST_TIMED_OUT.name
        ? status.DEADLINE_EXCEEDED
        : inner.retriable
          ? status.UNAVAILABLE
          : status.INVALID_ARGUMENT
    return new SidecarError(
      {
        grpcCode,
        message: inner.message ?? message,
        kafka: { code: inner.code, name: inner.type },
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
        kafka: KafkaErrors.UNSUPPORTED_COMPRESSION_TYPE,
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
        kafka: KafkaErrors.REQUEST_TIMED_OUT,
        retriable: true,
      },
      { cause: error },
    )
  }
  return new SidecarError({ grpcCode: status.UNAVAILABLE, message, retriable: true }, { cause: error })
}
