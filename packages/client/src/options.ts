/**
 * How a producer reaches Kafka: the mode toggle, the sidecar's address and the fallback tuning.
 * Environment first (so a deployment flips modes without a code change), code overrides it
 * (`new Kafka({ sidecar })`, then `kafka.producer({ sidecar })`), defaults last. Every value is
 * checked here, and a wrong one throws an error naming the option and where it came from.
 */
import { MAX_REQUEST_BYTES, MAX_REQUEST_RECORDS } from '@kafka-sidecar/proto'
import kafkajs from 'kafkajs'

export type ProducerMode = 'direct' | 'sidecar'

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
  /** How long after an ack a delivery report may take before the ack's result is used. Default 10000. */
  readonly reportTimeoutMs?: number
  /** A sidecar on another cluster than `brokers`: `warn` (send through it anyway) or `refuse` (produce directly). Env `KAFKA_SIDECAR_CLUSTER_MISMATCH`. Default `warn`. */
  readonly clusterMismatch?: ClusterMismatchPolicy
  readonly breaker?: BreakerOptions
}

export interface ResolvedSidecarOptions {
  readonly mode: ProducerMode
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

export const ENV = {
  mode: 'KAFKA_SIDECAR_MODE',
  address: 'KAFKA_SIDECAR_ADDRESS',
  token: 'KAFKA_SIDECAR_TOKEN',
  appName: 'KAFKA_SIDECAR_APP_NAME',
  connectTimeoutMs: 'KAFKA_SIDECAR_CONNECT_TIMEOUT_MS',
  clusterMismatch: 'KAFKA_SIDECAR_CLUSTER_MISMATCH',
} as const

const DEFAULTS = {
  connectTimeoutMs: 5_000,
  requestTimeoutMarginMs: 5_000,
  backpressureRetryMs: 30_000,
  livenessTimeoutMs: 2_000,
  fallbackIdleMs: 30_000,
  maxCoalescedRecords: 5_000,
  maxCoalescedBytes: 1024 * 1024,
  reportTimeoutMs: 10_000,
  clusterMismatch: 'warn' as ClusterMismatchPolicy,
  breaker: {
    errorThresholdPercentage: 50,
    volumeThreshold: 3,
    resetTimeoutMs: 5_000,
    rollingCountTimeoutMs: 10_000,
    consecutiveFailures: 3,
  },
}

function configError(message: string): Error {
  return new kafkajs.KafkaJSNonRetriableError(`kafka-sidecar client: ${message}`)
}

const KNOWN_OPTIONS = new Set([
  'mode',
  'address',
  'token',
  'appName',
  'connectTimeoutMs',
  'requestTimeoutMarginMs',
  'backpressureRetryMs',
  'livenessTimeoutMs',
  'fallbackIdleMs',
  'maxCoalescedRecords',
  'maxCoalescedBytes',
  'reportTimeoutMs',
  'clusterMismatch',
  'breaker',
])
const KNOWN_BREAKER_OPTIONS = new Set([
  'errorThresholdPercentage',
  'volumeThreshold',
  'resetTimeoutMs',
  'rollingCountTimeoutMs',
  'consecutiveFailures',
])

/** A typo (`adress`) would otherwise be ignored and the default used without a word. */
function checkKnownKeys(options: object, known: ReadonlySet<string>, prefix: string): void {
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw configError(`unknown option ${prefix}${key} (known: ${[...known].join(', ')})`)
  }
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

function parseMode(value: string, source: string): ProducerMode {
  const normalized = value.trim().toLowerCase()
  if (normalized === 'direct' || normalized === 'sidecar') return normalized
  throw configError(`${source} must be "direct" or "sidecar", got ${JSON.stringify(value)}`)
}

function parseClusterMismatch(value: string, source: string): ClusterMismatchPolicy {
  const normalized = value.trim().toLowerCase()
  if (normalized === 'warn' || normalized === 'refuse') return normalized
  throw configError(`${source} must be "warn" or "refuse", got ${JSON.stringify(value)}`)
}

function checkAddress(value: string, source: string): string {
  if (value.startsWith('unix://')) {
    if (value.length === 'unix://'.length) throw configError(`${source} "${value}" has no socket path`)
    return value
  }
  const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value)
  if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) {
    throw configError(`${source} must be unix:///path.sock or host:port, got ${JSON.stringify(value)}`)
  }
  return value
}

function positiveInteger(value: unknown, source: string, { allowZero = false } = {}): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
  if (typeof n !== 'number' || !Number.isInteger(n) || n < (allowZero ? 0 : 1)) {
    throw configError(
      `${source} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${JSON.stringify(value)}`,
    )
  }
  return n
}

/** Pings more often than every 100 ms would cost more than they tell. */
const MIN_LIVENESS_TIMEOUT_MS = 200

function atLeast(value: unknown, source: string, min: number): number {
  const n = positiveInteger(value, source)
  if (n < min) throw configError(`${source} must be at least ${min}, got ${n}`)
  return n
}

function atMost(value: number, max: number, source: string): number {
  if (value > max) throw configError(`${source} must be at most ${max}, got ${value}`)
  return value
}

function percentage(value: unknown, source: string): number {
  if (typeof value !== 'number' || !(value > 0 && value <= 100))
    throw configError(`${source} must be a number in (0, 100], got ${JSON.stringify(value)}`)
  return value
}

/**
 * Merges env, the Kafka-level and the producer-level options (later wins) and validates the result.
 * `env` is a parameter so tests need not touch process.env.
 */
export function resolveSidecarOptions(
  layers: ReadonlyArray<SidecarClientOptions | undefined>,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedSidecarOptions {
  let mode: ProducerMode = 'direct'
  let address = DEFAULT_SIDECAR_ADDRESS
  let token: string | null = null
  let appName: string | null = null
  let connectTimeoutMs = DEFAULTS.connectTimeoutMs
  let clusterMismatch = DEFAULTS.clusterMismatch
  if (env[ENV.mode]?.trim()) mode = parseMode(env[ENV.mode]!, ENV.mode)
  if (env[ENV.address]?.trim()) address = checkAddress(env[ENV.address]!.trim(), ENV.address)
  if (env[ENV.token]) token = checkToken(env[ENV.token], ENV.token)
  if (env[ENV.appName]) appName = checkText(env[ENV.appName], ENV.appName)
  if (env[ENV.connectTimeoutMs]) connectTimeoutMs = positiveInteger(env[ENV.connectTimeoutMs], ENV.connectTimeoutMs)
  if (env[ENV.clusterMismatch]?.trim())
    clusterMismatch = parseClusterMismatch(env[ENV.clusterMismatch]!, ENV.clusterMismatch)

  const merged: SidecarClientOptions = {}
  for (const layer of layers) {
    if (layer === undefined) continue
    if (typeof layer !== 'object' || layer === null)
      throw configError(`sidecar options must be an object, got ${JSON.stringify(layer)}`)
    checkKnownKeys(layer, KNOWN_OPTIONS, 'sidecar.')
    if (layer.breaker !== undefined) {
      if (typeof layer.breaker !== 'object' || layer.breaker === null)
        throw configError(`sidecar.breaker must be an object, got ${JSON.stringify(layer.breaker)}`)
      checkKnownKeys(layer.breaker, KNOWN_BREAKER_OPTIONS, 'sidecar.breaker.')
    }
    Object.assign(merged, layer, { breaker: { ...merged.breaker, ...layer.breaker } })
  }
  if (merged.mode !== undefined) mode = parseMode(String(merged.mode), 'sidecar.mode')
  if (merged.address !== undefined) address = checkAddress(String(merged.address), 'sidecar.address')
  if (merged.token !== undefined) token = checkToken(merged.token, 'sidecar.token')
  if (merged.appName !== undefined) appName = checkText(merged.appName, 'sidecar.appName')
  if (merged.connectTimeoutMs !== undefined)
    connectTimeoutMs = positiveInteger(merged.connectTimeoutMs, 'sidecar.connectTimeoutMs')
  if (merged.clusterMismatch !== undefined)
    clusterMismatch = parseClusterMismatch(String(merged.clusterMismatch), 'sidecar.clusterMismatch')
  const breaker = { ...DEFAULTS.breaker, ...merged.breaker }
  return {
    mode,
    address,
    token,
    appName,
    connectTimeoutMs,
    requestTimeoutMarginMs: positiveInteger(
      merged.requestTimeoutMarginMs ?? DEFAULTS.requestTimeoutMarginMs,
      'sidecar.requestTimeoutMarginMs',
      { allowZero: true },
    ),
    backpressureRetryMs: positiveInteger(
      merged.backpressureRetryMs ?? DEFAULTS.backpressureRetryMs,
      'sidecar.backpressureRetryMs',
      { allowZero: true },
    ),
    livenessTimeoutMs: atLeast(
      merged.livenessTimeoutMs ?? DEFAULTS.livenessTimeoutMs,
      'sidecar.livenessTimeoutMs',
      MIN_LIVENESS_TIMEOUT_MS,
    ),
    fallbackIdleMs: positiveInteger(merged.fallbackIdleMs ?? DEFAULTS.fallbackIdleMs, 'sidecar.fallbackIdleMs'),
    // A merged message stays one request: within the records and (with its per-send overhead) the bytes a sidecar takes.
    maxCoalescedRecords: atMost(
      positiveInteger(merged.maxCoalescedRecords ?? DEFAULTS.maxCoalescedRecords, 'sidecar.maxCoalescedRecords'),
      MAX_REQUEST_RECORDS,
      'sidecar.maxCoalescedRecords',
    ),
    maxCoalescedBytes: atMost(
      positiveInteger(merged.maxCoalescedBytes ?? DEFAULTS.maxCoalescedBytes, 'sidecar.maxCoalescedBytes'),
      MAX_REQUEST_BYTES / 2,
      'sidecar.maxCoalescedBytes',
    ),
    reportTimeoutMs: positiveInteger(merged.reportTimeoutMs ?? DEFAULTS.reportTimeoutMs, 'sidecar.reportTimeoutMs'),
    clusterMismatch,
    breaker: {
      errorThresholdPercentage: percentage(
        breaker.errorThresholdPercentage,
        'sidecar.breaker.errorThresholdPercentage',
      ),
      volumeThreshold: positiveInteger(breaker.volumeThreshold, 'sidecar.breaker.volumeThreshold', { allowZero: true }),
      resetTimeoutMs: positiveInteger(breaker.resetTimeoutMs, 'sidecar.breaker.resetTimeoutMs'),
      rollingCountTimeoutMs: positiveInteger(breaker.rollingCountTimeoutMs, 'sidecar.breaker.rollingCountTimeoutMs'),
      consecutiveFailures: positiveInteger(breaker.consecutiveFailures, 'sidecar.breaker.consecutiveFailures'),
    },
  }
}

/** grpc-js spells a Unix socket target `unix:/path` (or `unix:///path`); TCP stays host:port. */
export function grpcTarget(address: string): string {
  return address.startsWith('unix://') ? `unix:${address.slice('unix://'.length)}` : address
}
