/** Protobuf <-> sidecar model. Unknown enum numbers and missing fields are refused here, by name. */
import { Metadata, status, type ServiceError } from '@grpc/grpc-js'
import { Acks, Compression, type EmitRequest, type PartitionResult } from '@kafka-sidecar/proto'
import { invalidArgument, KafkaErrors, SidecarError } from '../errors.js'
import { boundedLabel } from '../metrics.js'
import type {
  Acks as KafkaAcks,
  CompressionCode,
  IncomingRecord,
  PartitionOutcome,
  ProduceRequest,
  RecordHeader,
} from '../model.js'

const ACKS: ReadonlyMap<number, KafkaAcks> = new Map([
  [Acks.ACKS_UNSPECIFIED, -1],
  [Acks.ACKS_ALL, -1],
  [Acks.ACKS_LEADER, 1],
  [Acks.ACKS_NONE, 0],
])
const COMPRESSIONS: ReadonlySet<number> = new Set([
  Compression.COMPRESSION_NONE,
  Compression.COMPRESSION_GZIP,
  Compression.COMPRESSION_SNAPPY,
  Compression.COMPRESSION_LZ4,
  Compression.COMPRESSION_ZSTD,
])
const DEFAULT_TIMEOUT_MS = 30_000

const NO_HEADERS: readonly RecordHeader[] = Object.freeze([])

/**
 * KafkaJS wants Buffers; the decoder yields views into the request's bytes. Wrapping the view
 * copies nothing: the request's bytes stay alive until its records are delivered, about as long
 * as copies would.
 */
function asBuffer(bytes: Uint8Array | undefined): Buffer | null {
  if (bytes === undefined) return null
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

export function toProduceRequest(message: EmitRequest): ProduceRequest {
  const acks = ACKS.get(message.acks)
  if (acks === undefined)
    throw invalidArgument(
      `unknown acks value ${message.acks} (expected ACKS_ALL, ACKS_LEADER or ACKS_NONE)`,
      KafkaErrors.INVALID_REQUIRED_ACKS,
    )
  if (!COMPRESSIONS.has(message.compression))
    throw invalidArgument(`unknown compression value ${message.compression}`, KafkaErrors.UNSUPPORTED_COMPRESSION_TYPE)
  const records: IncomingRecord[] = []
  for (let segment = 0; segment < message.topics.length; segment++) {
    const group = message.topics[segment]!
    if (group.records.length === 0) throw invalidArgument(`topic "${group.topic}" has no records`)
    for (const r of group.records) {
      records.push({
        topic: group.topic,
        key: asBuffer(r.key),
        value: asBuffer(r.value),
        headers: r.headers.length === 0 ? NO_HEADERS : r.headers.map((h) => ({ key: h.key, value: asBuffer(h.value) })),
        partition: r.partition ?? null,
        timestampMs: r.timestampMs ?? null,
        segment,
      })
    }
  }
  return {
    requestId: message.requestId,
    clientId: message.clientId,
    // The app label of the sidecar's metrics: bounded, whatever length a client sends.
    appName: boundedLabel(message.appName || message.clientId || 'unknown'),
    instanceId: message.instanceId,
    acks,
    // 0 is a timeout the broker is given as is (KafkaJS allows it); only an unset one defaults.
    timeoutMs: message.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    compression: message.compression as CompressionCode,
    // Without an instance id there is no delivery-report stream to learn the outcome from: the
    // only answer such a caller can get is the ack, so it waits for the brokers.
    awaitDelivery: message.awaitDelivery || message.instanceId === '',
    // An ack on receipt (acks 0, or not awaiting delivery) carries no results: reports it is then.
    reportsFromAck: (message.reportsFromAck ?? false) && message.awaitDelivery && acks !== 0,
    allowAutoTopicCreation: message.allowAutoTopicCreation ?? null,
    orderEpoch: message.orderEpoch ?? 0,
    idempotent: message.idempotent ?? false,
    records,
  }
}

export function toPartitionResult(outcome: PartitionOutcome, leaderId = -1): PartitionResult {
  return {
    leaderId,
    topic: outcome.topic,
    partition: outcome.partition,
    baseOffset: outcome.baseOffset,
    logAppendTimeMs: outcome.logAppendTimeMs,
    logStartOffset: outcome.logStartOffset,
    recordIndexes: [...outcome.recordIndexes],
    error: outcome.error?.toDetail(),
  }
}

/** A refusal as a gRPC status, with the Kafka details in trailing metadata for unary callers. */
export function toServiceError(error: unknown): Partial<ServiceError> {
  const e = asSidecarError(error)
  const metadata = new Metadata()
  if (e.kafkaErrorCode) metadata.set('kafka-error-code', String(e.kafkaErrorCode))
  if (e.kafkaErrorName) metadata.set('kafka-error-name', e.kafkaErrorName)
  metadata.set('retriable', String(e.retriable))
  if (e.retryAfterMs) metadata.set('retry-after-ms', String(e.retryAfterMs))
  return { code: e.grpcCode, details: e.message, metadata }
}

/** The error as the contract names it: anything that is not a SidecarError is INTERNAL, with its message. */
export function asSidecarError(error: unknown): SidecarError {
  return error instanceof SidecarError
    ? error
    : new SidecarError({ grpcCode: status.INTERNAL, message: error instanceof Error ? error.message : String(error) })
}
