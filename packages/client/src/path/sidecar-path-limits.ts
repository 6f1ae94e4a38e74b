/**
 * What the sidecar path cannot do as KafkaJS does, decided before a send is written: options that
 * only a producer of one's own can honour (said once, at connect, naming the option), and sends
 * the sidecar cannot carry (a codec registered in this process, a timeout the contract cannot
 * express), which go through this producer's direct path instead, so they behave as in KafkaJS.
 */
import { DELIVERY_WINDOW_MS } from '@kafka-sidecar/proto'
import kafkajs from 'kafkajs'
import type { KafkaConfig, ProducerBatch, ProducerConfig } from 'kafkajs'

/** The Kafka-level options (new Kafka({...})) the sidecar path ignores. */
export type KafkaLevelOptions = Pick<KafkaConfig, 'retry' | 'requestTimeout'>

export interface IgnoredOption {
  readonly option: string
  readonly reason: string
}

/** Kafka's produce timeout is an int32; the contract carries 0..2^31-1. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1
/** KafkaJS's codec names by CompressionTypes number, for the codecs KafkaJS leaves to the application. */
const APPLICATION_CODECS: ReadonlyMap<number, string> = new Map([
  [kafkajs.CompressionTypes.Snappy, 'Snappy'],
  [kafkajs.CompressionTypes.LZ4, 'LZ4'],
  [kafkajs.CompressionTypes.ZSTD, 'ZSTD'],
])

/** The compression numbers KafkaJS names (CompressionTypes); the contract carries only these. */
const KAFKAJS_COMPRESSIONS: ReadonlySet<unknown> = new Set(Object.values(kafkajs.CompressionTypes))

/**
 * The options set in this producer's config (or its Kafka's) that do nothing for sends through
 * the sidecar, each with why. They still apply to the direct path (fallback, transactions).
 */
export function optionsIgnoredOnSidecarPath(
  kafka: KafkaLevelOptions,
  producer: ProducerConfig,
  backpressureRetryMs: number,
): IgnoredOption[] {
  const ignored: IgnoredOption[] = []
  if (kafka.retry !== undefined || producer.retry !== undefined) {
    ignored.push({
      option: producer.retry !== undefined ? 'retry (producer)' : 'retry (Kafka)',
      reason: `the sidecar's own producer retries broker errors with its settings, for every application of the pod; this producer retries only a full sidecar, for up to ${backpressureRetryMs} ms (sidecar.backpressureRetryMs)`,
    })
  }
  if (producer.maxInFlightRequests !== undefined) {
    ignored.push({
      option: 'maxInFlightRequests',
      reason:
        'the sidecar keeps one batch in flight per partition (KAFKA_SIDECAR_MAX_IN_FLIGHT_PER_PARTITION) and a few per broker (KAFKA_SIDECAR_MAX_IN_FLIGHT_PER_BROKER), for the whole pod',
    })
  }
  if (producer.metadataMaxAge !== undefined) {
    ignored.push({
      option: 'metadataMaxAge',
      reason: 'the sidecar refreshes topic metadata on its own schedule (KAFKA_SIDECAR_METADATA_MAX_AGE_MS)',
    })
  }
  if (kafka.requestTimeout !== undefined) {
    ignored.push({
      option: 'requestTimeout',
      reason: `the sidecar's producer waits for brokers with its own request timeout; this producer waits for the sidecar max(timeout, ${DELIVERY_WINDOW_MS}) ms plus sidecar.requestTimeoutMarginMs`,
    })
  }
  return ignored
}

/** Why sends compressed with each codec the application registered (Snappy, LZ4, ZSTD) go direct. */
export function registeredCodecReasons(): string[] {
  return [...APPLICATION_CODECS].filter(([code]) => codecRegistered(code)).map(([, name]) => codecReason(name))
}

function codecReason(codec: string): string {
  return `compression ${codec}: the sidecar has no ${codec} codec (codecs registered in this process cannot cross to it)`
}

/**
 * Why this send must go through the direct path rather than the sidecar, or null. The sidecar
 * builds the record batches and has none of the codecs an application registers, so a send
 * compressed with one is written by this process's KafkaJS, as in direct mode; so is a send with a
 * compression number KafkaJS does not name, and one whose `timeout` the contract cannot carry
 * (KafkaJS passes it on as given).
 */
export function directReasonFor(batch: ProducerBatch): string | null {
  const codec = APPLICATION_CODECS.get(batch.compression ?? 0)
  if (codec !== undefined) return codecReason(codec)
  // KafkaJS looks any other number up when it encodes the batch, and fails it there with its own
  // error (or uses a codec the application put at that number): only its producer can say which.
  const { compression } = batch
  if (compression !== undefined && !KAFKAJS_COMPRESSIONS.has(compression)) {
    return `compression ${String(compression)}: not one of KafkaJS's CompressionTypes, so KafkaJS's own producer handles it`
  }
  const { timeout } = batch
  if (timeout !== undefined && !(Number.isInteger(timeout) && timeout >= 0 && timeout <= MAX_TIMEOUT_MS)) {
    return `timeout ${String(timeout)}: the sidecar takes an integer from 0 to ${MAX_TIMEOUT_MS}`
  }
  return null
}

/** KafkaJS pre-fills Snappy, LZ4 and ZSTD with factories that throw until a codec is registered. */
function codecRegistered(code: number): boolean {
  const factory = (kafkajs.CompressionCodecs as Record<number, (() => unknown) | undefined>)[code]
  try {
    return typeof factory === 'function' && factory() != null
  } catch {
    return false
  }
}
