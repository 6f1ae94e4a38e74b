/**
 * Whether a consumer runs through the pod's sidecar, and its sidecar options. The mode comes from
 * KAFKA_SIDECAR_CONSUMER_MODE, then `new Kafka({ sidecar: { consumerMode } })` (both read by the
 * client's option table, options.ts), then `kafka.consumer({ sidecar: { mode } })`; the other
 * options here are a consumer's own. The sidecar's address, token, app name and liveness timeout
 * are the Kafka-level ones the producers use: one sidecar per pod.
 */
import { layerFromCode, resolveOptions, type OptionLayer } from '@kafka-sidecar/options'
import kafkajs from 'kafkajs'
import type { ConsumerConfig, Logger } from 'kafkajs'
import {
  atLeast,
  configError,
  nonNegativeInteger,
  nullMeansDefault,
  parseMode,
  type ConsumerMode,
  type ResolvedSidecarOptions,
} from '../options.js'

/** A consumer's own `sidecar` options (`kafka.consumer({ groupId, sidecar })`). */
export interface SidecarConsumerOptions {
  /** `direct` or `sidecar`; overrides `KAFKA_SIDECAR_CONSUMER_MODE` and the Kafka-level `consumerMode`. */
  readonly mode?: ConsumerMode
  /**
   * How long the sidecar waits without hearing from this process before it gives the process's
   * partitions to another; the client says it is alive every third of it while its run loop
   * progresses (a handler stuck this long loses its partitions, as with KafkaJS's session).
   * Default 0: the consumer's `sessionTimeout` (KafkaJS's default 30000).
   */
  readonly processTimeoutMs?: number
  /** Most records delivered to this consumer and not yet processed. Default 0: the sidecar's default. */
  readonly maxRecordsInFlight?: number
  /** Most bytes (keys, values, headers) delivered and not yet processed. Default 0: the sidecar's default. */
  readonly maxBytesInFlight?: number
  /**
   * After this long without a stream to the sidecar, consume directly as a KafkaJS group member
   * until the sidecar answers again; 0: never. Overrides the Kafka-level `consumerFallbackAfterMs`
   * (env `KAFKA_SIDECAR_CONSUMER_FALLBACK_AFTER_MS`). Default 0.
   */
  readonly fallbackAfterMs?: number
}

export interface ResolvedConsumerOptions {
  readonly mode: ConsumerMode
  readonly processTimeoutMs: number
  readonly maxRecordsInFlight: number
  readonly maxBytesInFlight: number
  readonly fallbackAfterMs: number
}

/** Under a second, a garbage-collection pause or a busy event loop would cost a process its partitions. */
const MIN_PROCESS_TIMEOUT_MS = 1_000

const CONSUMER_OPTIONS = {
  // Always set by the layer the Kafka-level options make (env, then `consumerMode`).
  mode: { check: parseMode },
  processTimeoutMs: nullMeansDefault(0, zeroOr(atLeast(MIN_PROCESS_TIMEOUT_MS))),
  maxRecordsInFlight: nullMeansDefault(0, nonNegativeInteger),
  maxBytesInFlight: nullMeansDefault(0, nonNegativeInteger),
  // Always set by the layer the Kafka-level options make (env, then `consumerFallbackAfterMs`).
  fallbackAfterMs: { check: nonNegativeInteger },
} as const

/** 0 (the option's "take the consumer's sessionTimeout"), or what `check` accepts. */
function zeroOr(check: (value: unknown, source: string) => number) {
  return (value: unknown, source: string) => (value === 0 ? 0 : check(value, source))
}

/** Where the consumers' mode came from when no consumer set it, for an error message. */
const INHERITED_MODE_SOURCE = 'KAFKA_SIDECAR_CONSUMER_MODE or sidecar.consumerMode'
const INHERITED_FALLBACK_SOURCE = 'KAFKA_SIDECAR_CONSUMER_FALLBACK_AFTER_MS or sidecar.consumerFallbackAfterMs'

/** The consumer's options: its own `sidecar` over the Kafka-level mode (itself over the environment). */
export function resolveConsumerOptions(kafkaLevel: ResolvedSidecarOptions, own: unknown): ResolvedConsumerOptions {
  if (own !== undefined && (typeof own !== 'object' || own === null))
    throw configError(`consumer sidecar options must be an object, got ${JSON.stringify(own)}`)
  const inherited: OptionLayer = {
    mode: { value: kafkaLevel.consumerMode, source: INHERITED_MODE_SOURCE },
    fallbackAfterMs: { value: kafkaLevel.consumerFallbackAfterMs, source: INHERITED_FALLBACK_SOURCE },
  }
  const fromCode = layerFromCode(
    CONSUMER_OPTIONS,
    own ?? {},
    (key) => `consumer sidecar.${key}`,
    (key, known) => configError(`unknown option consumer sidecar.${key} (known: ${known.join(', ')})`),
  )
  return resolveOptions(CONSUMER_OPTIONS, [inherited, fromCode]).values
}

/**
 * Whether this consumer runs through the sidecar. Custom partition assigners run inside the group
 * member, which in sidecar mode is the sidecar's: they cannot cross the process boundary, so such
 * a consumer stays KafkaJS's own, with a warning.
 */
export function runsInSidecar(config: ConsumerConfig, options: ResolvedConsumerOptions, log: Logger): boolean {
  if (options.mode !== 'sidecar') return false
  if (hasCustomAssigners(config)) {
    log.warn(
      'This consumer has custom partitionAssigners, which cannot run in the sidecar: it consumes directly, as a member of the group of its own',
      { groupId: config.groupId },
    )
    return false
  }
  return true
}

/** KafkaJS's default, `[PartitionAssigners.roundRobin]`, given explicitly is not custom. */
function hasCustomAssigners(config: ConsumerConfig): boolean {
  const assigners = config.partitionAssigners
  if (assigners === undefined || assigners === null) return false
  return !(assigners.length === 1 && assigners[0] === kafkajs.PartitionAssigners.roundRobin)
}
