/**
 * Request checks that need no broker: each refusal names the problem and carries the Kafka error
 * a broker would have given, so a client sees the same failure it would see in direct mode.
 */
// KafkaJS is CommonJS and Node's ESM loader cannot see CompressionCodecs as a named export.
import kafkajs from 'kafkajs'
import { invalidArgument, KafkaErrors, SidecarError } from '../errors.js'
import type { IncomingRecord, ProduceRequest } from '../model.js'
import { status } from '@grpc/grpc-js'

export interface RequestLimits {
  /** Largest single record (key + value + headers), like the brokers' message.max.bytes. */
  readonly maxRecordBytes: number
  readonly maxRecordsPerRequest: number
  readonly maxHeadersPerRecord: number
  /** Exact topic names, or prefixes ending in '*'. Empty: every topic allowed. */
  readonly allowedTopics: readonly string[]
  /**
   * How long a request's records may wait in the queue when its own timeout is shorter: the
   * broker timeout a send asks for never makes it fail sooner than in KafkaJS.
   */
  readonly requestTimeoutMs: number
}

const LEGAL_TOPIC = /^[a-zA-Z0-9._-]+$/
const MAX_TOPIC_LENGTH = 249
/** Kafka's produce timeout is an int32: the broker can be given no more. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1
/** KafkaJS codec names by CompressionTypes number; NONE and GZIP are built in. */
const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd']

/**
 * Whether KafkaJS can compress with `codec`. KafkaJS pre-fills snappy, lz4 and zstd with
 * factories that throw "not implemented" until an application registers a real codec, so
 * presence in CompressionCodecs is not enough: the factory must build a codec.
 */
function codecAvailable(codec: number): boolean {
  const factory = (kafkajs.CompressionCodecs as Record<number, (() => unknown) | undefined>)[codec]
  if (typeof factory !== 'function') return false
  try {
    return factory() != null
  } catch {
    return false
  }
}

export function topicNameProblem(topic: string): string | null {
  if (topic.length === 0) return 'topic name is empty'
  if (topic === '.' || topic === '..') return `topic name "${topic}" is not allowed`
  if (topic.length > MAX_TOPIC_LENGTH)
    return `topic name is ${topic.length} characters, the limit is ${MAX_TOPIC_LENGTH}`
  if (!LEGAL_TOPIC.test(topic))
    return `topic name "${topic}" contains a character other than ASCII letters, digits, '.', '_' and '-'`
  return null
}

export function isTopicAllowed(topic: string, allowed: readonly string[]): boolean {
  if (allowed.length === 0) return true
  return allowed.some((pattern) => (pattern.endsWith('*') ? topic.startsWith(pattern.slice(0, -1)) : topic === pattern))
}

/** Bytes a record occupies in the queue: its payload plus a fixed per-record overhead. */
export function recordSize(record: IncomingRecord): number {
  let size = 24 + (record.key?.length ?? 0) + (record.value?.length ?? 0)
  for (const h of record.headers) size += Buffer.byteLength(h.key) + (h.value?.length ?? 0) + 8
  return size
}

/** Refuses, whole, a request whose problems are not those of one partition's records. */
export function validateRequest(request: ProduceRequest, limits: RequestLimits): void {
  if (request.records.length === 0) throw invalidArgument('request carries no records')
  if (request.records.length > limits.maxRecordsPerRequest) {
    throw invalidArgument(
      `request carries ${request.records.length} records, the limit is ${limits.maxRecordsPerRequest}`,
      KafkaErrors.RECORD_LIST_TOO_LARGE,
    )
  }
  if (request.timeoutMs < 0 || request.timeoutMs > MAX_TIMEOUT_MS)
    throw invalidArgument(`timeout_ms ${request.timeoutMs} is outside 0..${MAX_TIMEOUT_MS}`)
  const codec = CODEC_NAMES[request.compression]
  if (codec === undefined)
    throw invalidArgument(`unknown compression ${request.compression}`, KafkaErrors.UNSUPPORTED_COMPRESSION_TYPE)
  if (request.compression > 1 && !codecAvailable(request.compression)) {
    throw invalidArgument(
      `compression ${codec} has no codec registered in this sidecar's KafkaJS (register one with CompressionCodecs)`,
      KafkaErrors.UNSUPPORTED_COMPRESSION_TYPE,
    )
  }
  // KafkaJS refuses the same: without every replica's ack a retried batch could go missing.
  if (request.idempotent && request.acks !== -1) {
    throw invalidArgument(
      `an idempotent request must use acks -1 (ACKS_ALL), got ${request.acks}`,
      KafkaErrors.INVALID_REQUIRED_ACKS,
    )
  }
  const checkedTopics = new Set<string>()
  request.records.forEach((record, index) => {
    if (!checkedTopics.has(record.topic)) {
      const problem = topicNameProblem(record.topic)
      if (problem) throw invalidArgument(`invalid topic: ${problem}`, KafkaErrors.INVALID_TOPIC_EXCEPTION)
      if (!isTopicAllowed(record.topic, limits.allowedTopics)) {
        throw new SidecarError({
          grpcCode: status.PERMISSION_DENIED,
          message: `topic "${record.topic}" is not in this sidecar's allow-list`,
          kafka: KafkaErrors.TOPIC_AUTHORIZATION_FAILED,
        })
      }
      checkedTopics.add(record.topic)
    }
    if (record.partition !== null && (!Number.isInteger(record.partition) || record.partition < 0)) {
      throw invalidArgument(
        `record ${index}: partition ${record.partition} is negative`,
        KafkaErrors.UNKNOWN_TOPIC_OR_PARTITION,
      )
    }
    if (record.headers.length > limits.maxHeadersPerRecord) {
      throw invalidArgument(
        `record ${index} has ${record.headers.length} headers, the limit is ${limits.maxHeadersPerRecord}`,
        KafkaErrors.INVALID_RECORD,
      )
    }
    for (const header of record.headers) {
      // KafkaJS cannot encode a null header value (it fails the whole batch it is in, with every
      // other client's records), so it is refused here, for this request alone.
      if (header.value === null)
        throw invalidArgument(
          `record ${index}: header "${header.key}" has no value (null header values cannot be sent)`,
          KafkaErrors.INVALID_RECORD,
        )
    }
    if (record.timestampMs !== null && (!Number.isSafeInteger(record.timestampMs) || record.timestampMs < 0)) {
      throw invalidArgument(
        `record ${index}: timestamp ${record.timestampMs} is not a valid epoch millisecond value`,
        KafkaErrors.INVALID_TIMESTAMP,
      )
    }
    // A record over max_record_bytes fails its send's records for its partition only, as a
    // broker would: decided once partitions are chosen (partition-refusals.ts).
  })
}
