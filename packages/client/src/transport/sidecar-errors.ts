/**
 * What a failure on the sidecar path means for the caller. Two kinds matter:
 * - the path failed (transport down, UNAVAILABLE, no answer in time): the records' fate is
 *   unknown or they were never taken, so the breaker counts it and the records go direct;
 * - the sidecar answered with a verdict on the records (invalid topic, too large, not allowed,
 *   full): the caller gets that verdict as a KafkaJS error, exactly as direct mode would give it.
 */
import { status } from '@grpc/grpc-js'
import { KafkaErrors, type ErrorDetail } from '@kafka-sidecar/proto'
import kafkajs from 'kafkajs'
import kafkaProtocolError from 'kafkajs/src/protocol/error.js'

const { KafkaJSError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded } = kafkajs
const INVALID_TOPIC_EXCEPTION = KafkaErrors.INVALID_TOPIC_EXCEPTION.code
/** KafkaJS's constructor takes `{ cause }` (its retrier passes it); its type declarations omit it. */
const NonRetriableWithCause = KafkaJSNonRetriableError as unknown as new (e: Error, options: { cause: Error }) => Error

/** The sidecar path could not answer for a request. Counted by the breaker; the records go direct. */
export class SidecarUnavailableError extends Error {
  override readonly name = 'SidecarUnavailableError'
  constructor(
    message: string,
    readonly grpcCode: number,
    /** True when the sidecar may have queued the records before the path failed. */
    readonly outcomeUnknown: boolean,
  ) {
    super(message)
  }
}

/** The sidecar refused a request as a whole and said why. */
export class SidecarRefusal extends Error {
  override readonly name = 'SidecarRefusal'
  constructor(readonly detail: ErrorDetail) {
    super(detail.message)
  }

  get retryAfterMs(): number {
    return this.detail.retryAfterMs
  }

  get isBackpressure(): boolean {
    return this.detail.grpcCode === status.RESOURCE_EXHAUSTED
  }
}

/** Whether the breaker should count this error (opossum's errorFilter is the negation). */
export function countsAgainstSidecar(error: unknown): boolean {
  return error instanceof SidecarUnavailableError
}

/**
 * A sidecar error detail as the KafkaJS error a direct producer would have thrown for the same
 * Kafka error: KafkaJS's own protocol error (its message, type, code and retriable), wrapped in
 * KafkaJSNumberOfRetriesExceeded when retriable (KafkaJS retried it and gave up; so did the
 * sidecar). The sidecar's own explanation (which record, which limit) is the error's `cause`.
 */
export function toKafkaJSError(detail: ErrorDetail): Error {
  if (detail.kafkaErrorCode === INVALID_TOPIC_EXCEPTION) return invalidTopicError(detail)
  const explanation = new Error(detail.message)
  if (detail.kafkaErrorCode !== 0) {
    const protocol = kafkaProtocolError.createErrorFromCode(detail.kafkaErrorCode)
    protocol.cause = explanation
    if (!protocol.retriable) return protocol
    return new KafkaJSNumberOfRetriesExceeded(protocol, { retryCount: 0, retryTime: 0 })
  }
  return detail.retriable
    ? new KafkaJSError(detail.message, { retriable: true })
    : new KafkaJSNonRetriableError(detail.message)
}

/**
 * KafkaJS meets an invalid topic name in the Metadata request it makes before producing, and
 * gives up at once: KafkaJSNonRetriableError caused by the broker's protocol error, and nothing
 * below it. The same shape here; the sidecar's explanation (which rule the name breaks) goes in
 * the stack, which logs print, rather than in a `cause` KafkaJS never sets.
 */
function invalidTopicError(detail: ErrorDetail): Error {
  const protocol = kafkaProtocolError.createErrorFromCode(INVALID_TOPIC_EXCEPTION)
  const error = new NonRetriableWithCause(protocol, { cause: protocol })
  error.stack = `${error.stack ?? error.message}\n  Explained by the sidecar: ${detail.message}`
  return error
}
