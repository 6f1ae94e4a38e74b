/**
 * Sidecar configuration. One table defines every option: its environment variable, its CLI flag,
 * its type, its default and its help text. Environment first, flags override; programmatic
 * options (startSidecar) override both. Every value is validated, and an error names the option
 * as the user wrote it (flag or env var). `kafka-sidecar --help` prints the table.
 */
import { isLoopback, parseListenAddress, DEFAULT_SOCKET_PATH, type ListenAddress } from './listen-address.js'
import { DELIVERY_WINDOW_MS, MAX_REQUEST_BYTES, MAX_REQUEST_RECORDS } from '@kafka-sidecar/proto'
import { topicNameProblem } from './pipeline/validation.js'

export type LogLevelName = 'nothing' | 'error' | 'warn' | 'info' | 'debug'

export interface SidecarConfig {
  brokers: string[]
  clientId: string
  listen: ListenAddress
  http: ListenAddress | null
  allowNonLoopback: boolean
  token: string | null
  allowedTopics: string[]
  allowAutoTopicCreation: boolean
  maxQueuedBytes: number
  maxQueuedRecords: number
  maxQueuedBytesPerPartition: number
  maxQueuedRecordsPerPartition: number
  maxRecordBytes: number
  maxRecordsPerRequest: number
  maxHeadersPerRecord: number
  maxRequestBytes: number
  lingerMs: number
  maxBatchRecords: number
  maxBatchBytes: number
  maxInFlightPerBroker: number
  maxInFlightPerPartition: number
  requestTimeoutMs: number
  idempotent: boolean
  reportsPerInstance: number
  reportInstanceIdleMs: number
  metadataMaxAgeMs: number
  kafkaProbeIntervalMs: number
  connectionIdleMs: number
  shutdownTimeoutMs: number
  ssl: boolean
  saslMechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512' | null
  saslUsername: string | null
  saslPassword: string | null
  logLevel: LogLevelName
}

type Kind = 'string' | 'integer' | 'boolean' | 'list' | 'address' | 'optional-address' | 'secret'

interface OptionSpec<K extends keyof SidecarConfig = keyof SidecarConfig> {
  readonly key: K
  readonly env: string
  readonly flag: string
  readonly kind: Kind
  readonly help: string
  readonly defaultValue: SidecarConfig[K] | undefined
  readonly min?: number
  readonly max?: number
  readonly choices?: readonly string[]
}

const MiB = 1024 * 1024

function spec<K extends keyof SidecarConfig>(
  key: K,
  env: string,
  flag: string,
  kind: Kind,
  defaultValue: SidecarConfig[K] | undefined,
  help: string,
  extra: { min?: number; max?: number; choices?: readonly string[] } = {},
): OptionSpec {
  return { key, env, flag, kind, defaultValue, help, ...extra } as OptionSpec
}

export const OPTIONS: readonly OptionSpec[] = [
  spec(
    'brokers',
    'KAFKA_BROKERS',
    'brokers',
    'list',
    undefined,
    'Kafka bootstrap brokers, comma-separated host:port (required)',
  ),
  spec(
    'clientId',
    'KAFKA_CLIENT_ID',
    'client-id',
    'string',
    'kafka-sidecar',
    "KafkaJS clientId of the sidecar's producer",
  ),
  spec(
    'listen',
    'KAFKA_SIDECAR_LISTEN',
    'listen',
    'address',
    parseListenAddress('listen', `unix://${DEFAULT_SOCKET_PATH}`),
    'gRPC address: unix:///path.sock (created with mode 0660) or 127.0.0.1:PORT',
  ),
  spec(
    'http',
    'KAFKA_SIDECAR_HTTP',
    'http',
    'optional-address',
    parseListenAddress('http', '127.0.0.1:9464'),
    'HTTP address for /metrics, /healthz, /readyz; "off" disables it',
  ),
  spec(
    'allowNonLoopback',
    'KAFKA_SIDECAR_ALLOW_NON_LOOPBACK',
    'allow-non-loopback',
    'boolean',
    false,
    'allow listening on a non-loopback address (gRPC and HTTP)',
  ),
  spec(
    'token',
    'KAFKA_SIDECAR_TOKEN',
    'token',
    'secret',
    null,
    'shared token clients must send as "authorization: Bearer <token>"',
  ),
  spec(
    'allowedTopics',
    'KAFKA_SIDECAR_ALLOWED_TOPICS',
    'allowed-topics',
    'list',
    [],
    'topics clients may write, comma-separated; a trailing * is a prefix match; empty allows all',
  ),
  spec(
    'allowAutoTopicCreation',
    'KAFKA_SIDECAR_AUTO_CREATE_TOPICS',
    'auto-create-topics',
    'boolean',
    true,
    "allow_auto_topic_creation sent in Metadata requests for clients that do not set allowAutoTopicCreation (KafkaJS's default: true); the brokers' auto.create.topics.enable decides, the sidecar never creates topics itself",
  ),
  spec(
    'maxQueuedBytes',
    'KAFKA_SIDECAR_MAX_QUEUED_BYTES',
    'max-queued-bytes',
    'integer',
    64 * MiB,
    'bytes held (queued or in flight) across all partitions',
    { min: 1 },
  ),
  spec(
    'maxQueuedRecords',
    'KAFKA_SIDECAR_MAX_QUEUED_RECORDS',
    'max-queued-records',
    'integer',
    500_000,
    'records held across all partitions',
    { min: 1 },
  ),
  spec(
    'maxQueuedBytesPerPartition',
    'KAFKA_SIDECAR_MAX_QUEUED_BYTES_PER_PARTITION',
    'max-queued-bytes-per-partition',
    'integer',
    16 * MiB,
    'bytes held for one partition',
    { min: 1 },
  ),
  spec(
    'maxQueuedRecordsPerPartition',
    'KAFKA_SIDECAR_MAX_QUEUED_RECORDS_PER_PARTITION',
    'max-queued-records-per-partition',
    'integer',
    100_000,
    'records held for one partition',
    { min: 1 },
  ),
  // Kafka's own default message.max.bytes: a record the sidecar refuses, a default broker would too.
  spec(
    'maxRecordBytes',
    'KAFKA_SIDECAR_MAX_RECORD_BYTES',
    'max-record-bytes',
    'integer',
    1_048_588,
    "largest record (key + value + headers); a larger one fails with MESSAGE_TOO_LARGE, with its send's records for its partition (the rest is written), as a broker would. Set it to the brokers' message.max.bytes",
    { min: 1 },
  ),
  // Clients split larger sends into requests of this many records (MAX_REQUEST_RECORDS).
  spec(
    'maxRecordsPerRequest',
    'KAFKA_SIDECAR_MAX_RECORDS_PER_REQUEST',
    'max-records-per-request',
    'integer',
    MAX_REQUEST_RECORDS,
    `most records in one request (clients split larger sends into requests of ${MAX_REQUEST_RECORDS}; keep it at least that)`,
    { min: 1 },
  ),
  spec(
    'maxHeadersPerRecord',
    'KAFKA_SIDECAR_MAX_HEADERS_PER_RECORD',
    'max-headers-per-record',
    'integer',
    10_000,
    'most headers on one record',
    { min: 0 },
  ),
  // Clients split larger sends into requests of at most this many bytes (MAX_REQUEST_BYTES).
  spec(
    'maxRequestBytes',
    'KAFKA_SIDECAR_MAX_REQUEST_BYTES',
    'max-request-bytes',
    'integer',
    MAX_REQUEST_BYTES,
    `largest gRPC message accepted; a larger one is refused by itself (clients split sends into requests of ${MAX_REQUEST_BYTES}; keep it at least that)`,
    { min: 1024 },
  ),
  spec(
    'lingerMs',
    'KAFKA_SIDECAR_LINGER_MS',
    'linger-ms',
    'integer',
    0,
    "wait before sending an idle partition's first records; 0 sends at once and batches by concurrency",
    { min: 0 },
  ),
  // KafkaJS groups a batch's messages by partition with an array copy per message, so its cost
  // per record grows with the batch: 0.5 us at 270 records, 1.1 us at 1,000, 3.3 us at 4,000.
  spec(
    'maxBatchRecords',
    'KAFKA_SIDECAR_MAX_BATCH_RECORDS',
    'max-batch-records',
    'integer',
    1_000,
    "most records of one partition in one batch shared by several requests; one request's records for a partition always go in one batch, as KafkaJS sends them (KafkaJS's cost per record grows with the batch)",
    { min: 1 },
  ),
  spec(
    'maxBatchBytes',
    'KAFKA_SIDECAR_MAX_BATCH_BYTES',
    'max-batch-bytes',
    'integer',
    900_000,
    "most bytes of one partition in one batch shared by several requests, as for max-batch-records (keep under the brokers' message.max.bytes)",
    { min: 1 },
  ),
  spec(
    'maxInFlightPerBroker',
    'KAFKA_SIDECAR_MAX_IN_FLIGHT_PER_BROKER',
    'max-in-flight-per-broker',
    'integer',
    4,
    'sendBatch calls in flight per leader broker',
    { min: 1 },
  ),
  spec(
    'maxInFlightPerPartition',
    'KAFKA_SIDECAR_MAX_IN_FLIGHT_PER_PARTITION',
    'max-in-flight-per-partition',
    'integer',
    1,
    'batches in flight per partition; 1 keeps strict per-partition order even across KafkaJS retries, more trades that for throughput',
    { min: 1 },
  ),
  // Clients wait max(timeout, DELIVERY_WINDOW_MS) plus a margin for an answer: waiting longer here would outlast them.
  spec(
    'requestTimeoutMs',
    'KAFKA_SIDECAR_REQUEST_TIMEOUT_MS',
    'request-timeout-ms',
    'integer',
    DELIVERY_WINDOW_MS,
    `how long queued records may wait before they fail unsent (REQUEST_TIMED_OUT), or the send's own timeout when longer; at most ${DELIVERY_WINDOW_MS}, as long as clients wait. The brokers get each send's own timeout`,
    { min: 1, max: DELIVERY_WINDOW_MS },
  ),
  spec(
    'idempotent',
    'KAFKA_SIDECAR_IDEMPOTENT',
    'idempotent',
    'boolean',
    false,
    'write every request idempotently, with acks -1 (without it only requests of idempotent producers are, through a second producer made on first need)',
  ),
  spec(
    'reportsPerInstance',
    'KAFKA_SIDECAR_REPORTS_PER_INSTANCE',
    'reports-per-instance',
    'integer',
    10_000,
    'delivery reports kept per client instance for resume',
    { min: 1 },
  ),
  spec(
    'reportInstanceIdleMs',
    'KAFKA_SIDECAR_REPORT_INSTANCE_IDLE_MS',
    'report-instance-idle-ms',
    'integer',
    600_000,
    "forget a client instance's reports after this long without a reader or a report",
    { min: 1000 },
  ),
  spec(
    'metadataMaxAgeMs',
    'KAFKA_SIDECAR_METADATA_MAX_AGE_MS',
    'metadata-max-age-ms',
    'integer',
    300_000,
    'topic metadata refresh interval (KafkaJS metadataMaxAge)',
    { min: 1 },
  ),
  spec(
    'kafkaProbeIntervalMs',
    'KAFKA_SIDECAR_KAFKA_PROBE_INTERVAL_MS',
    'kafka-probe-interval-ms',
    'integer',
    2_000,
    'how often the brokers are checked; two failed checks in a row make the sidecar not ready',
    { min: 100 },
  ),
  spec(
    'connectionIdleMs',
    'KAFKA_SIDECAR_CONNECTION_IDLE_MS',
    'connection-idle-ms',
    'integer',
    300_000,
    'close a gRPC connection that has had no call for this long (broken or abandoned ones included); clients reconnect on their next call',
    { min: 1_000 },
  ),
  spec(
    'shutdownTimeoutMs',
    'KAFKA_SIDECAR_SHUTDOWN_TIMEOUT_MS',
    'shutdown-timeout-ms',
    'integer',
    10_000,
    'on SIGTERM, how long to flush before failing what is left',
    { min: 0 },
  ),
  spec('ssl', 'KAFKA_SSL', 'ssl', 'boolean', false, 'connect to Kafka over TLS'),
  spec(
    'saslMechanism',
    'KAFKA_SASL_MECHANISM',
    'sasl-mechanism',
    'string',
    null,
    'SASL mechanism: plain, scram-sha-256 or scram-sha-512',
    { choices: ['plain', 'scram-sha-256', 'scram-sha-512'] },
  ),
  spec('saslUsername', 'KAFKA_SASL_USERNAME', 'sasl-username', 'string', null, 'SASL username'),
  spec('saslPassword', 'KAFKA_SASL_PASSWORD', 'sasl-password', 'secret', null, 'SASL password'),
  spec(
    'logLevel',
    'KAFKA_SIDECAR_LOG_LEVEL',
    'log-level',
    'string',
    'info',
    'log level: nothing, error, warn, info or debug',
    { choices: ['nothing', 'error', 'warn', 'info', 'debug'] },
  ),
]

export class SidecarConfigError extends Error {
  override name = 'SidecarConfigError'
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`invalid configuration ${option}: ${message}`)
  }
}

export type SidecarOptions = Omit<Partial<SidecarConfig>, 'listen' | 'http'> & {
  listen?: ListenAddress | string
  http?: ListenAddress | string | null
}

function parseValue(spec: OptionSpec, name: string, raw: string): unknown {
  switch (spec.kind) {
    case 'string':
    case 'secret': {
      if (spec.choices && !spec.choices.includes(raw))
        throw new SidecarConfigError(name, `expected one of ${spec.choices.join(', ')}, got "${raw}"`)
      return raw
    }
    case 'integer': {
      if (!/^\d+$/.test(raw.trim())) throw new SidecarConfigError(name, `expected a non-negative integer, got "${raw}"`)
      return Number(raw)
    }
    case 'boolean': {
      if (/^(true|1|yes)$/i.test(raw)) return true
      if (/^(false|0|no)$/i.test(raw)) return false
      throw new SidecarConfigError(name, `expected true or false, got "${raw}"`)
    }
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    case 'address':
    case 'optional-address':
      if (spec.kind === 'optional-address' && raw === 'off') return null
      try {
        return parseListenAddress(name, raw)
      } catch (error) {
        throw new SidecarConfigError(name, (error as Error).message.replace(`${name}: `, ''))
      }
  }
}

/** Reads options from environment variables (only the ones in the table). */
export function optionsFromEnv(env: NodeJS.ProcessEnv): Record<string, { value: unknown; source: string }> {
  const out: Record<string, { value: unknown; source: string }> = {}
  for (const s of OPTIONS) {
    const raw = env[s.env]
    if (raw !== undefined && raw !== '') out[s.key] = { value: parseValue(s, s.env, raw), source: s.env }
  }
  return out
}

/** Reads options from `--flag value` / `--flag=value` pairs (booleans may omit the value). */
export function optionsFromFlags(
  values: Record<string, string | boolean | undefined>,
): Record<string, { value: unknown; source: string }> {
  const out: Record<string, { value: unknown; source: string }> = {}
  for (const s of OPTIONS) {
    const raw = values[s.flag]
    if (raw === undefined) continue
    out[s.key] = { value: typeof raw === 'boolean' ? raw : parseValue(s, `--${s.flag}`, raw), source: `--${s.flag}` }
  }
  return out
}

/** Merges defaults < env < flags < programmatic options, then checks the whole. */
export function resolveConfig(
  layers: Array<Record<string, { value: unknown; source: string }>>,
  options: SidecarOptions = {},
): SidecarConfig {
  const merged: Record<string, { value: unknown; source: string }> = {}
  for (const s of OPTIONS)
    if (s.defaultValue !== undefined) merged[s.key] = { value: s.defaultValue, source: `${s.key} (default)` }
  for (const layer of layers) Object.assign(merged, layer)
  const known = new Set(OPTIONS.map((s) => s.key as string))
  for (const [key, value] of Object.entries(options)) {
    if (!known.has(key)) throw new SidecarConfigError(key, 'unknown option')
    if (value === undefined) continue
    const s = OPTIONS.find((o) => o.key === key)!
    const parsed =
      (s.kind === 'address' || s.kind === 'optional-address') && typeof value === 'string'
        ? parseValue(s, key, value)
        : value
    merged[key] = { value: parsed, source: key }
  }
  const source = (key: keyof SidecarConfig) => merged[key]?.source ?? key
  const config = Object.fromEntries(Object.entries(merged).map(([k, v]) => [k, v.value])) as unknown as SidecarConfig

  if (!Array.isArray(config.brokers) || config.brokers.length === 0)
    throw new SidecarConfigError(source('brokers'), 'at least one broker is required (KAFKA_BROKERS or --brokers)')
  for (const broker of config.brokers)
    if (!/^[^\s:]+:\d+$/.test(broker)) throw new SidecarConfigError(source('brokers'), `"${broker}" is not host:port`)
  for (const s of OPTIONS) {
    const value = config[s.key]
    checkType(s, value, source(s.key))
    if (s.kind === 'integer' && (typeof value !== 'number' || !Number.isSafeInteger(value) || value < (s.min ?? 0))) {
      throw new SidecarConfigError(source(s.key), `expected an integer >= ${s.min ?? 0}, got ${JSON.stringify(value)}`)
    }
    if (s.kind === 'integer' && s.max !== undefined && (value as number) > s.max) {
      throw new SidecarConfigError(source(s.key), `expected an integer <= ${s.max}, got ${JSON.stringify(value)}`)
    }
    if (s.kind === 'boolean' && typeof value !== 'boolean')
      throw new SidecarConfigError(source(s.key), `expected a boolean, got ${JSON.stringify(value)}`)
  }
  for (const key of ['listen', 'http'] as const) {
    const address = config[key]
    if (address && address.kind === 'tcp' && !isLoopback(address.host) && !config.allowNonLoopback) {
      throw new SidecarConfigError(
        source(key),
        `${address.host} is not a loopback address; set KAFKA_SIDECAR_ALLOW_NON_LOOPBACK=true (--allow-non-loopback) to expose the sidecar beyond this host`,
      )
    }
  }
  // An entry no topic can match (a typo such as "orders events") would refuse that traffic.
  for (const entry of config.allowedTopics) {
    const problem = entry === '*' ? null : topicNameProblem(entry.endsWith('*') ? entry.slice(0, -1) : entry)
    if (problem)
      throw new SidecarConfigError(
        source('allowedTopics'),
        `entry "${entry}" can never match a topic (${problem}); entries are topic names, or prefixes ending in *`,
      )
  }
  if (config.maxQueuedBytesPerPartition > config.maxQueuedBytes)
    throw new SidecarConfigError(source('maxQueuedBytesPerPartition'), 'must not exceed maxQueuedBytes')
  if (config.maxRecordBytes > config.maxQueuedBytesPerPartition)
    throw new SidecarConfigError(
      source('maxRecordBytes'),
      'must not exceed maxQueuedBytesPerPartition (such a record could never be queued)',
    )
  if (config.saslMechanism && (!config.saslUsername || !config.saslPassword))
    throw new SidecarConfigError(source('saslMechanism'), 'needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD')
  if (config.token !== null && config.token.length < 16)
    throw new SidecarConfigError(source('token'), 'must be at least 16 characters')
  // A token no client can send would refuse every request (a secret file's trailing newline, say).
  if (config.token !== null && !HEADER_SAFE.test(config.token)) {
    throw new SidecarConfigError(
      source('token'),
      'must be printable ASCII without leading or trailing spaces: clients send it as an HTTP/2 header value',
    )
  }
  return config
}

/** Printable ASCII, no leading or trailing space: what an HTTP/2 header value carries unchanged. */
const HEADER_SAFE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/

/**
 * Programmatic options (startSidecar) arrive typed only by TypeScript; environment variables and
 * flags are parsed. Either way the value must have its option's type before anything uses it.
 * A secret's value is never echoed, only its type.
 */
function checkType(s: OptionSpec, value: unknown, name: string): void {
  const shown = s.kind === 'secret' ? typeof value : JSON.stringify(value)
  const nullable = s.defaultValue === null
  switch (s.kind) {
    case 'string':
    case 'secret':
      if (value === null && nullable) return
      if (typeof value !== 'string') throw new SidecarConfigError(name, `expected a string, got ${shown}`)
      if (s.choices && !s.choices.includes(value))
        throw new SidecarConfigError(name, `expected one of ${s.choices.join(', ')}, got ${shown}`)
      return
    case 'list':
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
        throw new SidecarConfigError(name, `expected a list of strings, got ${shown}`)
      return
    case 'address':
    case 'optional-address': {
      if (value === null && s.kind === 'optional-address') return
      const address = value as Partial<ListenAddress> | null
      const valid =
        typeof address === 'object' &&
        address !== null &&
        ((address.kind === 'unix' && typeof address.path === 'string') ||
          (address.kind === 'tcp' && typeof address.host === 'string' && typeof address.port === 'number'))
      if (!valid)
        throw new SidecarConfigError(
          name,
          `expected unix:///path.sock or host:port${s.kind === 'optional-address' ? ' (or null)' : ''}, got ${shown}`,
        )
      return
    }
    default:
  }
}

/** `--help` text, generated from the table so it can never omit an option. */
export function helpText(): string {
  const lines = OPTIONS.map((s) => {
    const flag = `--${s.flag}${s.kind === 'boolean' ? '' : ' <value>'}`
    const shown =
      s.kind === 'secret'
        ? '(unset)'
        : s.defaultValue === undefined
          ? '(required)'
          : JSON.stringify(
              s.defaultValue && typeof s.defaultValue === 'object' && 'kind' in s.defaultValue
                ? formatDefault(s.defaultValue as ListenAddress)
                : s.defaultValue,
            )
    return `  ${flag.padEnd(44)} ${s.env}\n      ${s.help}; default ${shown}`
  })
  return `Usage: kafka-sidecar [options]

The pod's only Kafka producer: application processes send records over gRPC; the sidecar batches
them per partition into one KafkaJS producer and reports every record's fate back.
Environment variables are read first; flags override them.

Options (flag, environment variable):
${lines.join('\n')}
  -h, --help
      show this help
`
}

function formatDefault(address: ListenAddress): string {
  return address.kind === 'unix' ? `unix://${address.path}` : `${address.host}:${address.port}`
}
