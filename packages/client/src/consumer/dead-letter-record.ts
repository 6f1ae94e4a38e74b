/**
 * The record a dead-lettered message becomes: its key, value and headers as consumed, plus
 * headers saying where it came from and why it failed. Names are `kafka-sidecar-dlq-*`, values
 * UTF-8 text; they replace headers of the same names the record already had (a record that failed
 * again after being replayed from a dead-letter topic carries its latest failure only).
 */
import type { IHeaders, KafkaMessage, Message } from 'kafkajs'

export const DEAD_LETTER_HEADERS = {
  /** The topic the record was consumed from. */
  topic: 'kafka-sidecar-dlq-topic',
  /** Its partition, in decimal. */
  partition: 'kafka-sidecar-dlq-partition',
  /** Its offset, in decimal. */
  offset: 'kafka-sidecar-dlq-offset',
  /** Its own timestamp (ms since the epoch, as KafkaJS gives it); the dead-letter record's is when it was written. */
  timestamp: 'kafka-sidecar-dlq-timestamp',
  /** The consumer group that gave up on it. */
  groupId: 'kafka-sidecar-dlq-group-id',
  /** The last error's `name` (`Error` for a thrown non-error), at most 256 bytes. */
  errorName: 'kafka-sidecar-dlq-error-name',
  /** The last error's `message` (`String(thrown)` for a non-error), at most 2048 bytes. */
  errorMessage: 'kafka-sidecar-dlq-error-message',
  /** How many times the handler failed on it. */
  attempts: 'kafka-sidecar-dlq-attempts',
} as const

/** Enough for any message worth reading; a stack-sized message is cut so one record cannot grow without bound. */
export const MAX_ERROR_MESSAGE_BYTES = 2048
export const MAX_ERROR_NAME_BYTES = 256

export interface Failure {
  readonly groupId: string
  readonly topic: string
  readonly partition: number
  readonly message: KafkaMessage
  readonly error: unknown
  readonly attempts: number
}

/**
 * `text` cut to at most `maxBytes` of UTF-8, never within a character. A lone surrogate (a string
 * that is not valid Unicode) becomes U+FFFD, as Buffer.from writes it.
 */
export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8')
  if (bytes.length <= maxBytes) return bytes.toString('utf8')
  let end = maxBytes
  // Back to the first byte of the character the cut falls in: continuation bytes are 10xxxxxx.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--
  return bytes.subarray(0, end).toString('utf8')
}

/** The name and message of what a handler threw, which need not be an Error. */
export function describeError(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name || 'Error', message: error.message }
  if (typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string') {
    const { name, message } = error as { name?: unknown; message: string }
    return { name: typeof name === 'string' && name ? name : 'Error', message }
  }
  return { name: 'Error', message: String(error) }
}

/**
 * The consumed headers as KafkaJS can produce them: a header without a value (null, which the
 * protocol allows and KafkaJS's producer cannot write) gets an empty one.
 */
function producibleHeaders(headers: IHeaders | undefined): IHeaders {
  // fromEntries, not assignment: a header named __proto__ stays a header, not the object's prototype.
  return Object.fromEntries(
    Object.entries(headers ?? {})
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => [key, Array.isArray(value) ? value.map(orEmpty) : orEmpty(value)]),
  )
}

function orEmpty(value: Buffer | string | null | undefined): Buffer | string {
  return value ?? Buffer.alloc(0)
}

/** The message written to the dead-letter topic for `failure`. */
export function deadLetterMessage(failure: Failure): Message {
  const { name, message } = describeError(failure.error)
  const original = failure.message
  return {
    key: original.key,
    value: original.value,
    headers: {
      ...producibleHeaders(original.headers),
      [DEAD_LETTER_HEADERS.topic]: failure.topic,
      [DEAD_LETTER_HEADERS.partition]: String(failure.partition),
      [DEAD_LETTER_HEADERS.offset]: original.offset,
      [DEAD_LETTER_HEADERS.timestamp]: original.timestamp,
      [DEAD_LETTER_HEADERS.groupId]: failure.groupId,
      [DEAD_LETTER_HEADERS.errorName]: truncateUtf8(name, MAX_ERROR_NAME_BYTES),
      [DEAD_LETTER_HEADERS.errorMessage]: truncateUtf8(message, MAX_ERROR_MESSAGE_BYTES),
      [DEAD_LETTER_HEADERS.attempts]: String(failure.attempts),
    },
  }
}
