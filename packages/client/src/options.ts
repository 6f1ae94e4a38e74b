/**
 * How a producer reaches Kafka: the mode toggle, the sidecar's address and the fallback tuning.
 * Environment first (so a deployment flips modes without a code change), code overrides it
 * (`new Kafka({ sidecar })`, then `kafka.producer({ sidecar })`), defaults last. Every value is
 * checked here, and a wrong one throws an error naming the option and where it came from.
 */
import {
  envNames,
  layerFromCode,
  layerFromEnv,
  rejectUnknownKeys,
  resolveOptions,
  type OptionDeclaration,
} from '@kafka-sidecar/options'
import { MAX_REQUEST_BYTES, MAX_REQUEST_RECORDS } from '@kafka-sidecar/proto'
import kafkajs from 'kafkajs'

export type ProducerMode = 'direct' | 'sidecar'

/** How a consumer reaches Kafka: KafkaJS's own consumer (`direct`) or through the pod's sidecar. */
export type ConsumerMode = 'direct' | 'sidecar'

/**
 * What a producer does when the sidecar writes to another Kafka cluster than the application's
 * own `brokers` (where its direct fallback writes): `warn` logs an error, sets the metric and
 * emits the event, and sends through the sidecar anyway; `refuse` does the same and produces
 * directly instead, until a half-open probe finds the sidecar on the application's cluster.
 */
export type ClusterMismatchPolicy = 'warn' | 'refuse'

export interface BreakerOptions {
  /** Failure percentage in the rolling window that opens the breaker. Default 50. */
  readonly errorThresholdPercentage?: number
  /** Calls in the window before the percentage counts. Default 3. */
  readonly volumeThreshold?: number
  /** How long the breaker stays open before a half-open probe. Default 5000 ms. */
  readonly resetTimeoutMs?: number
  /** Length of the rolling statistics window. Default 10000 ms. */
  readonly rollingCountTimeoutMs?: number
  /** Consecutive path failures that open the breaker whatever the window says. Default 3. */
  readonly consecutiveFailures?: number
}

export interface SidecarClientOptions {
  /** `direct` (KafkaJS to the brokers) or `sidecar`. Env `KAFKA_SIDECAR_MODE`. Default `direct`. */
  readonly mode?: ProducerMode
  /**
   * `direct` (KafkaJS's own consumer) or `sidecar`, for consumers; separate from `mode`, so turning
   * one on does not turn on the other. Env `KAFKA_SIDECAR_CONSUMER_MODE`. Default `direct`.
   * `kafka.consumer({ sidecar: { mode } })` overrides it for one consumer.
   */
  readonly consumerMode?: ConsumerMode
  /**
   * Consumers in sidecar mode: after this long without a stream to the sidecar, a consumer joins
   * its group directly as a KafkaJS consumer, and returns to the sidecar once it answers. 0 (the
   * default): never; it waits for the sidecar (docs/consumers.md, "When the sidecar fails").
   * Env `KAFKA_SIDECAR_CONSUMER_FALLBACK_AFTER_MS`. `kafka.consumer({ sidecar: { fallbackAfterMs } })` overrides it.
   */
  readonly consumerFallbackAfterMs?: number
  /** `unix:///path.sock` or `host:port`. Env `KAFKA_SIDECAR_ADDRESS`. Default the sidecar's own default socket. */
  readonly address?: string
  /** Shared token the sidecar requires, sent as `authorization: Bearer`. Env `KAFKA_SIDECAR_TOKEN`. */
  readonly token?: string
  /** Application name for the sidecar's per-app metrics. Env `KAFKA_SIDECAR_APP_NAME`. Default the clientId. */
  readonly appName?: string
  /** How long `connect()` waits for the sidecar before falling back. Env `KAFKA_SIDECAR_CONNECT_TIMEOUT_MS`. Default 5000. */
  readonly connectTimeoutMs?: number
  /** Extra time beyond a request's delivery window, max(`timeout`, 30000), before the sidecar counts as unresponsive. Default 5000. */
  readonly requestTimeoutMarginMs?: number
  /** How long a send is retried while the sidecar is full, before it fails with a retriable KafkaJSError. Default 30000. */
  readonly backpressureRetryMs?: number
  /**
   * How long a sidecar may stop answering HTTP/2 pings before the client treats it as hung and
   * sends directly, whatever the sends' own `timeout`. Default 2000.
   */
  readonly livenessTimeoutMs?: number
  /** Disconnect the fallback direct producer after this long without direct sends. Default 30000. */
  readonly fallbackIdleMs?: number
  /** Most records in one coalesced stream message (at most 10000). Default 5000. */
  readonly maxCoalescedRecords?: number
  /** Most bytes in one coalesced stream message (at most 8 MiB). Default 1 MiB. */
  readonly maxCoalescedBytes?: number
  /** With acks 0 (acked on receipt): how long after an ack a delivery report may take before the ack is used (no partition, no offset). Default 10000. */
  readonly reportTimeoutMs?: number
  /** A sidecar on another cluster than `brokers`: `warn` (send or consume through it anyway) or `refuse` (produce or consume directly). Env `KAFKA_SIDECAR_CLUSTER_MISMATCH`. Default `warn`. */
  readonly clusterMismatch?: ClusterMismatchPolicy
  readonly breaker?: BreakerOptions
}

export interface ResolvedSidecarOptions {
  readonly mode: ProducerMode
  readonly consumerMode: ConsumerMode
  readonly consumerFallbackAfterMs: number
  readonly address: string
  readonly token: string | null
  readonly appName: string | null
  readonly connectTimeoutMs: number
  readonly requestTimeoutMarginMs: number
  readonly backpressureRetryMs: number
  readonly livenessTimeoutMs: number
  readonly fallbackIdleMs: number
  readonly maxCoalescedRecords: number
  readonly maxCoalescedBytes: number
  readonly reportTimeoutMs: number
  readonly clusterMismatch: ClusterMismatchPolicy
  readonly breaker: Required<BreakerOptions>
}

/** The sidecar listens here unless told otherwise; the client looks here unless told otherwise. */
export const DEFAULT_SIDECAR_ADDRESS = 'unix:///tmp/kafka-sidecar.sock'

export function configError(message: string): Error {
  return new kafkajs.KafkaJSNonRetriableError(`kafka-sidecar client: ${message}`)
}

/** A typo (`adress`) would otherwise be ignored and the default used without a word. */
function unknownOptionIn(prefix: string): (key: string, known: readonly string[]) => Error {
  return (key, known) => configError(`unknown option ${prefix}${key} (known: ${known.join(', ')})`)
}

/**
 * The token travels as an HTTP/2 header value (`authorization: Bearer <token>`): a token with
 * whitespace or control characters (a trailing newline from a secret file) could never be sent,
 * and every request would fail at the transport, silently sending everything direct. The value
 * is never echoed: it is a secret.
 */
function checkToken(value: unknown, source: string): string {
  if (typeof value !== 'string') throw configError(`${source} must be a string`)
  if (value.length === 0 || !/^[\x21-\x7e]+$/.test(value))
    throw configError(
      `${source} must be non-empty printable ASCII without spaces or line breaks (check for a trailing newline)`,
    )
  return value
}

function checkText(value: unknown, source: string): string {
  if (typeof value !== 'string' || value.length === 0)
    throw configError(`${source} must be a non-empty string, got ${JSON.stringify(value)}`)
  return value
}

export function parseMode(value: unknown, source: string): ProducerMode {
  const text = String(value)
  const normalized = text.trim().toLowerCase()
  if (normalized === 'direct' || normalized === 'sidecar') return normalized
  throw configError(`${source} must be "direct" or "sidecar", got ${JSON.stringify(text)}`)
}

function parseClusterMismatch(value: unknown, source: string): ClusterMismatchPolicy {
  const text = String(value)
  const normalized = text.trim().toLowerCase()
  if (normalized === 'warn' || normalized === 'refuse') return normalized
  throw configError(`${source} must be "warn" or "refuse", got ${JSON.stringify(text)}`)
}

function checkAddress(value: unknown, source: string): string {
  const text = String(value)
  if (text.startsWith('unix://')) {
    if (text.length === 'unix://'.length) throw configError(`${source} "${text}" has no socket path`)
    return text
  }
  const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text)
  if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) {
    throw configError(`${source} must be unix:///path.sock or host:port, got ${JSON.stringify(text)}`)
  }
  return text
}

function integerFrom(value: unknown, source: string, min: 0 | 1): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min) {
    throw configError(
      `${source} must be a ${min === 0 ? 'non-negative' : 'positive'} integer, got ${JSON.stringify(value)}`,
    )
  }
  return n
}

export function positiveInteger(value: unknown, source: string): number {
  return integerFrom(value, source, 1)
}

export function nonNegativeInteger(value: unknown, source: string): number {
  return integerFrom(value, source, 0)
}

/** Pings more often than every 100 ms would cost more than they tell. */
const MIN_LIVENESS_TIMEOUT_MS = 200

export function atLeast(min: number): (value: unknown, source: string) => number {
  return (value, source) => {
    const n = positiveInteger(value, source)
    if (n < min) throw configError(`${source} must be at least ${min}, got ${n}`)
    return n
  }
}

function atMost(max: number): (value: unknown, source: string) => number {
  return (value, source) => {
    const n = positiveInteger(value, source)
    if (n > max) throw configError(`${source} must be at most ${max}, got ${n}`)
    return n
  }
}

function percentage(value: unknown, source: string): number {
  if (typeof value !== 'number' || !(value > 0 && value <= 100))
    throw configError(`${source} must be a number in (0, 100], got ${JSON.stringify(value)}`)
  return value
}

/**
 * A variable is checked as it is read, so a wrong one is refused even where code overrides it; a
 * blank one (spaces only) is unset.
 */
function unlessBlank<T>(check: (value: string, source: string) => T): (text: string, source: string) => T | undefined {
  return (text, source) => (text.trim() ? check(text, source) : undefined)
}

/** For these options `null`, as untyped callers may pass it, has always meant the default too. */
export function nullMeansDefault(defaultValue: number, check: (value: unknown, source: string) => number) {
  return { defaultValue, check: (value: unknown, source: string) => check(value ?? defaultValue, source) }
}

const BREAKER_OPTIONS = {
  errorThresholdPercentage: { defaultValue: 50, check: percentage },
  volumeThreshold: { defaultValue: 3, check: nonNegativeInteger },
  resetTimeoutMs: { defaultValue: 5_000, check: positiveInteger },
  rollingCountTimeoutMs: { defaultValue: 10_000, check: positiveInteger },
  consecutiveFailures: { defaultValue: 3, check: positiveInteger },
} as const satisfies { readonly [K in keyof BreakerOptions]-?: OptionDeclaration<number> }

/** Every breaker field given is checked, one set to `undefined` too: only a field left out takes its default. */
function checkBreaker(value: unknown, source: string): Required<BreakerOptions> {
  const given = Object.entries(value ?? {}).map(([key, field]) => [key, { value: field, source: `${source}.${key}` }])
  return resolveOptions(BREAKER_OPTIONS, [Object.fromEntries(given)]).values
}

/**
 * Every client option, in the order an unknown-option error lists them. Environment first (so a
 * deployment flips modes without a code change), code overrides it, defaults last.
 */
const CLIENT_OPTIONS = {
  mode: { env: 'KAFKA_SIDECAR_MODE', defaultValue: 'direct', parse: unlessBlank(parseMode), check: parseMode },
  consumerMode: {
    env: 'KAFKA_SIDECAR_CONSUMER_MODE',
    defaultValue: 'direct',
    parse: unlessBlank(parseMode),
    check: parseMode,
  },
  consumerFallbackAfterMs: {
    env: 'KAFKA_SIDECAR_CONSUMER_FALLBACK_AFTER_MS',
    defaultValue: 0,
    parse: unlessBlank(nonNegativeInteger),
    check: nonNegativeInteger,
  },
  address: {
    env: 'KAFKA_SIDECAR_ADDRESS',
    defaultValue: DEFAULT_SIDECAR_ADDRESS,
    parse: unlessBlank((text, source) => checkAddress(text.trim(), source)),
    check: checkAddress,
  },
  token: { env: 'KAFKA_SIDECAR_TOKEN', defaultValue: null, parse: checkToken, check: checkToken },
  appName: { env: 'KAFKA_SIDECAR_APP_NAME', defaultValue: null, parse: checkText, check: checkText },
  connectTimeoutMs: {
    env: 'KAFKA_SIDECAR_CONNECT_TIMEOUT_MS',
    defaultValue: 5_000,
    parse: positiveInteger,
    check: positiveInteger,
  },
  requestTimeoutMarginMs: nullMeansDefault(5_000, nonNegativeInteger),
  backpressureRetryMs: nullMeansDefault(30_000, nonNegativeInteger),
  livenessTimeoutMs: nullMeansDefault(2_000, atLeast(MIN_LIVENESS_TIMEOUT_MS)),
  fallbackIdleMs: nullMeansDefault(30_000, positiveInteger),
  // A merged message stays one request: within the records and (with its per-send overhead) the bytes a sidecar takes.
  maxCoalescedRecords: nullMeansDefault(5_000, atMost(MAX_REQUEST_RECORDS)),
  maxCoalescedBytes: nullMeansDefault(1024 * 1024, atMost(MAX_REQUEST_BYTES / 2)),
  reportTimeoutMs: nullMeansDefault(10_000, positiveInteger),
  clusterMismatch: {
    env: 'KAFKA_SIDECAR_CLUSTER_MISMATCH',
    defaultValue: 'warn',
    parse: unlessBlank(parseClusterMismatch),
    check: parseClusterMismatch,
  },
  breaker: { check: checkBreaker },
} as const satisfies { readonly [K in keyof ResolvedSidecarOptions]: OptionDeclaration<ResolvedSidecarOptions[K]> }

/** The environment variables the client reads, by option. */
export const ENV = envNames(CLIENT_OPTIONS)

/** Kafka-level then producer-level options: the later wins, field by field, breaker fields included. */
function mergeCodeOptions(layers: ReadonlyArray<SidecarClientOptions | undefined>): SidecarClientOptions {
  const merged: SidecarClientOptions = {}
  for (const layer of layers) {
    if (layer === undefined) continue
    if (typeof layer !== 'object' || layer === null)
      throw configError(`sidecar options must be an object, got ${JSON.stringify(layer)}`)
    rejectUnknownKeys(CLIENT_OPTIONS, layer, unknownOptionIn('sidecar.'))
    if (layer.breaker !== undefined) {
      if (typeof layer.breaker !== 'object' || layer.breaker === null)
        throw configError(`sidecar.breaker must be an object, got ${JSON.stringify(layer.breaker)}`)
      rejectUnknownKeys(BREAKER_OPTIONS, layer.breaker, unknownOptionIn('sidecar.breaker.'))
    }
    Object.assign(merged, layer, { breaker: { ...merged.breaker, ...layer.breaker } })
  }
  return merged
}

/**
 * A producer's own `sidecar` options cannot choose the consumers' mode: it is the Kafka-level
 * default for consumers, or a consumer's own `sidecar.mode`.
 */
export function checkProducerLevel(layer: SidecarClientOptions | undefined): void {
  if (typeof layer !== 'object' || layer === null) return
  if (layer.consumerMode !== undefined)
    throw configError(
      'sidecar.consumerMode is for consumers: set it in new Kafka({ sidecar }) or as kafka.consumer({ sidecar: { mode } })',
    )
  if (layer.consumerFallbackAfterMs !== undefined)
    throw configError(
      'sidecar.consumerFallbackAfterMs is for consumers: set it in new Kafka({ sidecar }) or as kafka.consumer({ sidecar: { fallbackAfterMs } })',
    )
}

/**
 * Merges env, the Kafka-level and the producer-level options (later wins) and validates the result.
 * `env` is a parameter so tests need not touch process.env.
 */
export function resolveSidecarOptions(
  layers: ReadonlyArray<SidecarClientOptions | undefined>,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedSidecarOptions {
  const sourceOf = (key: string) => `sidecar.${key}`
  const fromEnv = layerFromEnv(CLIENT_OPTIONS, env)
  const fromCode = layerFromCode(CLIENT_OPTIONS, mergeCodeOptions(layers), sourceOf, unknownOptionIn('sidecar.'))
  return resolveOptions(CLIENT_OPTIONS, [fromEnv, fromCode], sourceOf).values
}

/** grpc-js spells a Unix socket target `unix:/path` (or `unix:///path`); TCP stays host:port. */
export function grpcTarget(address: string): string {
  return address.startsWith('unix://') ? `unix:${address.slice('unix://'.length)}` : address
}
