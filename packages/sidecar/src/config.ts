/**
 * Sidecar configuration. One table declares every option: its environment variable, its CLI flag,
 * its kind, its default and its help text; the variables, flags and code options are read from it
 * (@kafka-sidecar/options). Environment first, flags override; programmatic options
 * (startSidecar) override both. Every value is validated, and an error names the option as the
 * user wrote it (flag or env var). `kafka-sidecar --help` prints the table.
 */
import { layerFromCode, layerFromEnv, layerFromFlags, resolveOptions, type OptionValues } from '@kafka-sidecar/options'
import { DELIVERY_WINDOW_MS, MAX_REQUEST_BYTES, MAX_REQUEST_RECORDS } from '@kafka-sidecar/proto'
import { SidecarConfigError } from './config-error.js'
import { isLoopback, parseListenAddress, DEFAULT_SOCKET_PATH, type ListenAddress } from './listen-address.js'
import { BUILT_IN_MECHANISMS, checkKafkaSecurity, checkSaslMechanism } from './kafka/security-options.js'
import {
  address,
  boolean,
  booleanValue,
  file,
  integer,
  jsonObject,
  list,
  optionalAddress,
  optionalText,
  secret,
  text,
  type OptionKind,
} from './option-kinds.js'
import { topicNameProblem } from './pipeline/validation.js'

export type LogLevelName = 'nothing' | 'error' | 'warn' | 'info' | 'debug'
/** Who encodes the plain producer's Produce requests: KafkaJS, or the sidecar's own encoder on KafkaJS's connections. */
export type ProduceEncoder = 'kafkajs' | 'sidecar'

export interface SidecarConfig {
  brokers: string[]
  clientId: string
  connectionTimeoutMs: number
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
  produceEncoder: ProduceEncoder
  reportsPerInstance: number
  reportInstanceIdleMs: number
  metadataMaxAgeMs: number
  kafkaProbeIntervalMs: number
  connectionIdleMs: number
  shutdownTimeoutMs: number
  consumerMaxRecordsInFlight: number
  consumerMaxBytesInFlight: number
  consumerBufferBytesPerPartition: number
  consumerGroupIdleMs: number
  consumerBufferBytes: number
  consumerJoinTimeoutMs: number
  ssl: boolean
  sslCaFile: string | null
  sslCertFile: string | null
  sslKeyFile: string | null
  sslRejectUnauthorized: boolean
  sslServername: string | null
  /** A built-in mechanism in lower case, or the name of the one saslMechanismModule provides. */
  saslMechanism: string | null
  saslUsername: string | null
  saslPassword: string | null
  saslPasswordFile: string | null
  saslOauthbearerTokenFile: string | null
  saslMechanismModule: string | null
  saslMechanismOptions: Record<string, unknown>
  logLevel: LogLevelName
}

/** One sidecar option, as the table declares it. */
type SidecarOption<T = unknown> = OptionKind<T> & {
  readonly env: string
  readonly flag: string
  readonly help: string
  readonly defaultValue: T | undefined
}

const MiB = 1024 * 1024

function checkBrokers(value: unknown, source: string): string[] {
  if (!Array.isArray(value) || value.length === 0)
    throw new SidecarConfigError(source, 'at least one broker is required (KAFKA_BROKERS or --brokers)')
  for (const broker of value)
    if (!/^[^\s:]+:\d+$/.test(broker)) throw new SidecarConfigError(source, `"${broker}" is not host:port`)
  return list().check(value, source)
}

/** Every option, in the order `--help` prints them. */
export const SIDECAR_OPTIONS = {
  brokers: {
    env: 'KAFKA_BROKERS',
    flag: 'brokers',
    ...list(),
    check: checkBrokers,
    defaultValue: undefined,
    help: 'Kafka bootstrap brokers, comma-separated host:port (required)',
  },
  clientId: {
    env: 'KAFKA_CLIENT_ID',
    flag: 'client-id',
    ...text(),
    defaultValue: 'kafka-sidecar',
    help: "KafkaJS clientId of the sidecar's producer",
  },
  // KafkaJS's own default is 1000 ms; a TLS handshake to a broker in another zone of a busy
  // cluster takes longer often enough that the first connect of a pod would fail and retry.
  connectionTimeoutMs: {
    env: 'KAFKA_CONNECTION_TIMEOUT_MS',
    flag: 'connection-timeout-ms',
    ...integer(1),
    defaultValue: 3_000,
    help: "how long a new broker connection may take to be established, TLS handshake included (KafkaJS's connectionTimeout; its default is 1000)",
  },
  listen: {
    env: 'KAFKA_SIDECAR_LISTEN',
    flag: 'listen',
    ...address(),
    defaultValue: parseListenAddress('listen', `unix://${DEFAULT_SOCKET_PATH}`),
    help: 'gRPC address: unix:///path.sock (created with mode 0660) or 127.0.0.1:PORT',
  },
  http: {
    env: 'KAFKA_SIDECAR_HTTP',
    flag: 'http',
    ...optionalAddress(),
    defaultValue: parseListenAddress('http', '127.0.0.1:9464'),
    help: 'HTTP address for /metrics, /healthz, /readyz; "off" disables it',
  },
  allowNonLoopback: {
    env: 'KAFKA_SIDECAR_ALLOW_NON_LOOPBACK',
    flag: 'allow-non-loopback',
    ...boolean(),
    defaultValue: false,
    help: 'allow listening on a non-loopback address (gRPC and HTTP)',
  },
  token: {
    env: 'KAFKA_SIDECAR_TOKEN',
    flag: 'token',
    ...secret(),
    defaultValue: null,
    help: 'shared token clients must send as "authorization: Bearer <token>"',
  },
  allowedTopics: {
    env: 'KAFKA_SIDECAR_ALLOWED_TOPICS',
    flag: 'allowed-topics',
    ...list(),
    defaultValue: [],
    help: 'topics clients may write, comma-separated; a trailing * is a prefix match; empty allows all',
  },
  allowAutoTopicCreation: {
    env: 'KAFKA_SIDECAR_AUTO_CREATE_TOPICS',
    flag: 'auto-create-topics',
    ...boolean(),
    defaultValue: true,
    help: "allow_auto_topic_creation sent in Metadata requests for clients that do not set allowAutoTopicCreation (KafkaJS's default: true); the brokers' auto.create.topics.enable decides, the sidecar never creates topics itself",
  },
  maxQueuedBytes: {
    env: 'KAFKA_SIDECAR_MAX_QUEUED_BYTES',
    flag: 'max-queued-bytes',
    ...integer(1),
    defaultValue: 64 * MiB,
    help: 'bytes held (queued or in flight) across all partitions',
  },
  maxQueuedRecords: {
    env: 'KAFKA_SIDECAR_MAX_QUEUED_RECORDS',
    flag: 'max-queued-records',
    ...integer(1),
    defaultValue: 500_000,
    help: 'records held across all partitions',
  },
  maxQueuedBytesPerPartition: {
    env: 'KAFKA_SIDECAR_MAX_QUEUED_BYTES_PER_PARTITION',
    flag: 'max-queued-bytes-per-partition',
    ...integer(1),
    defaultValue: 16 * MiB,
    help: 'bytes held for one partition',
  },
  maxQueuedRecordsPerPartition: {
    env: 'KAFKA_SIDECAR_MAX_QUEUED_RECORDS_PER_PARTITION',
    flag: 'max-queued-records-per-partition',
    ...integer(1),
    defaultValue: 100_000,
    help: 'records held for one partition',
  },
  // Kafka's own default message.max.bytes: a record the sidecar refuses, a default broker would too.
  maxRecordBytes: {
    env: 'KAFKA_SIDECAR_MAX_RECORD_BYTES',
    flag: 'max-record-bytes',
    ...integer(1),
    defaultValue: 1_048_588,
    help: "largest record (key + value + headers); a larger one fails with MESSAGE_TOO_LARGE, with its send's records for its partition (the rest is written), as a broker would. Set it to the brokers' message.max.bytes",
  },
  // Clients split larger sends into requests of this many records (MAX_REQUEST_RECORDS).
  maxRecordsPerRequest: {
    env: 'KAFKA_SIDECAR_MAX_RECORDS_PER_REQUEST',
    flag: 'max-records-per-request',
    ...integer(1),
    defaultValue: MAX_REQUEST_RECORDS,
    help: `most records in one request (clients split larger sends into requests of ${MAX_REQUEST_RECORDS}; keep it at least that)`,
  },
  maxHeadersPerRecord: {
    env: 'KAFKA_SIDECAR_MAX_HEADERS_PER_RECORD',
    flag: 'max-headers-per-record',
    ...integer(0),
    defaultValue: 10_000,
    help: 'most headers on one record',
  },
  // Clients split larger sends into requests of at most this many bytes (MAX_REQUEST_BYTES).
  maxRequestBytes: {
    env: 'KAFKA_SIDECAR_MAX_REQUEST_BYTES',
    flag: 'max-request-bytes',
    ...integer(1024),
    defaultValue: MAX_REQUEST_BYTES,
    help: `largest gRPC message accepted; a larger one is refused by itself (clients split sends into requests of ${MAX_REQUEST_BYTES}; keep it at least that)`,
  },
  lingerMs: {
    env: 'KAFKA_SIDECAR_LINGER_MS',
    flag: 'linger-ms',
    ...integer(0),
    defaultValue: 0,
    help: "wait before sending an idle partition's first records; 0 sends at once and batches by concurrency",
  },
  // KafkaJS groups a batch's messages by partition with an array copy per message, so its cost
  // per record grows with the batch: 0.5 us at 270 records, 1.1 us at 1,000, 3.3 us at 4,000.
  maxBatchRecords: {
    env: 'KAFKA_SIDECAR_MAX_BATCH_RECORDS',
    flag: 'max-batch-records',
    ...integer(1),
    defaultValue: 1_000,
    help: "most records of one partition in one batch shared by several requests; one request's records for a partition always go in one batch, as KafkaJS sends them (KafkaJS's cost per record grows with the batch)",
  },
  maxBatchBytes: {
    env: 'KAFKA_SIDECAR_MAX_BATCH_BYTES',
    flag: 'max-batch-bytes',
    ...integer(1),
    defaultValue: 900_000,
    help: "most bytes of one partition in one batch shared by several requests, as for max-batch-records (keep under the brokers' message.max.bytes)",
  },
  maxInFlightPerBroker: {
    env: 'KAFKA_SIDECAR_MAX_IN_FLIGHT_PER_BROKER',
    flag: 'max-in-flight-per-broker',
    ...integer(1),
    defaultValue: 4,
    help: 'sendBatch calls in flight per leader broker',
  },
  maxInFlightPerPartition: {
    env: 'KAFKA_SIDECAR_MAX_IN_FLIGHT_PER_PARTITION',
    flag: 'max-in-flight-per-partition',
    ...integer(1),
    defaultValue: 1,
    help: 'batches in flight per partition; 1 keeps strict per-partition order even across KafkaJS retries, more trades that for throughput',
  },
  // Clients wait max(timeout, DELIVERY_WINDOW_MS) plus a margin for an answer: waiting longer here would outlast them.
  requestTimeoutMs: {
    env: 'KAFKA_SIDECAR_REQUEST_TIMEOUT_MS',
    flag: 'request-timeout-ms',
    ...integer(1, DELIVERY_WINDOW_MS),
    defaultValue: DELIVERY_WINDOW_MS,
    help: `how long queued records may wait before they fail unsent (REQUEST_TIMED_OUT), or the send's own timeout when longer; at most ${DELIVERY_WINDOW_MS}, as long as clients wait. The brokers get each send's own timeout`,
  },
  idempotent: {
    env: 'KAFKA_SIDECAR_IDEMPOTENT',
    flag: 'idempotent',
    ...boolean(),
    defaultValue: false,
    help: 'write every request idempotently, with acks -1 (without it only requests of idempotent producers are, through a second producer made on first need)',
  },
  produceEncoder: {
    env: 'KAFKA_SIDECAR_PRODUCE_ENCODER',
    flag: 'produce-encoder',
    ...text<ProduceEncoder>(['kafkajs', 'sidecar']),
    defaultValue: 'sidecar',
    help: "who encodes produce requests: sidecar (record batches written in one pass, byte for byte KafkaJS's, sent on KafkaJS's connections with its retries) or kafkajs. Idempotent writes always use KafkaJS's idempotent producer",
  },
  reportsPerInstance: {
    env: 'KAFKA_SIDECAR_REPORTS_PER_INSTANCE',
    flag: 'reports-per-instance',
    ...integer(1),
    defaultValue: 10_000,
    help: 'delivery reports kept per client instance for resume',
  },
  reportInstanceIdleMs: {
    env: 'KAFKA_SIDECAR_REPORT_INSTANCE_IDLE_MS',
    flag: 'report-instance-idle-ms',
    ...integer(1000),
    defaultValue: 600_000,
    help: "forget a client instance's reports after this long without a reader or a report",
  },
  metadataMaxAgeMs: {
    env: 'KAFKA_SIDECAR_METADATA_MAX_AGE_MS',
    flag: 'metadata-max-age-ms',
    ...integer(1),
    defaultValue: 300_000,
    help: 'topic metadata refresh interval (KafkaJS metadataMaxAge)',
  },
  kafkaProbeIntervalMs: {
    env: 'KAFKA_SIDECAR_KAFKA_PROBE_INTERVAL_MS',
    flag: 'kafka-probe-interval-ms',
    ...integer(100),
    defaultValue: 2_000,
    help: 'how often the brokers are checked; two failed checks in a row make the sidecar not ready',
  },
  connectionIdleMs: {
    env: 'KAFKA_SIDECAR_CONNECTION_IDLE_MS',
    flag: 'connection-idle-ms',
    ...integer(1_000),
    defaultValue: 300_000,
    help: 'close a gRPC connection that has had no call for this long (broken or abandoned ones included); clients reconnect on their next call',
  },
  shutdownTimeoutMs: {
    env: 'KAFKA_SIDECAR_SHUTDOWN_TIMEOUT_MS',
    flag: 'shutdown-timeout-ms',
    ...integer(0),
    defaultValue: 10_000,
    help: 'on SIGTERM, how long to flush before failing what is left',
  },
  consumerMaxRecordsInFlight: {
    env: 'KAFKA_SIDECAR_CONSUMER_MAX_RECORDS_IN_FLIGHT',
    flag: 'consumer-max-records-in-flight',
    ...integer(1),
    defaultValue: 10_000,
    help: 'consumers: records delivered to one consumer instance and not yet reported processed, over all its partitions, for instances that do not set max_records_in_flight',
  },
  consumerMaxBytesInFlight: {
    env: 'KAFKA_SIDECAR_CONSUMER_MAX_BYTES_IN_FLIGHT',
    flag: 'consumer-max-bytes-in-flight',
    ...integer(1),
    defaultValue: 16 * MiB,
    help: 'consumers: bytes (keys, values, headers) delivered to one consumer instance and not yet reported processed, for instances that do not set max_bytes_in_flight; a larger record is still delivered when nothing else is in flight',
  },
  consumerBufferBytesPerPartition: {
    env: 'KAFKA_SIDECAR_CONSUMER_BUFFER_BYTES_PER_PARTITION',
    flag: 'consumer-buffer-bytes-per-partition',
    ...integer(1),
    defaultValue: 2 * MiB,
    help: "consumers: fetched records kept for one partition until processed; at this many bytes the partition is paused in the group member's KafkaJS consumer, and resumed at half (one fetch, KafkaJS's maxBytesPerPartition, may land on top)",
  },
  consumerGroupIdleMs: {
    env: 'KAFKA_SIDECAR_CONSUMER_GROUP_IDLE_MS',
    flag: 'consumer-group-idle-ms',
    ...integer(0),
    defaultValue: 10_000,
    help: "consumers: how long a group's member stays in the group after the pod's last process of the group left, so a restart of the last worker does not rebalance the group",
  },
  consumerBufferBytes: {
    env: 'KAFKA_SIDECAR_CONSUMER_BUFFER_BYTES',
    flag: 'consumer-buffer-bytes',
    ...integer(1),
    defaultValue: 256 * MiB,
    help: "consumers: fetched records kept by all the sidecar's group members together until processed; at this many bytes each partition whose fetch lands is paused in its member's KafkaJS consumer, and all resume at half",
  },
  consumerJoinTimeoutMs: {
    env: 'KAFKA_SIDECAR_CONSUMER_JOIN_TIMEOUT_MS',
    flag: 'consumer-join-timeout-ms',
    ...integer(1),
    defaultValue: 10_000,
    help: 'consumers: how long a Consume stream may stay open without sending its join before the sidecar ends it (DEADLINE_EXCEEDED)',
  },
  ssl: {
    env: 'KAFKA_SSL',
    flag: 'ssl',
    ...boolean(),
    defaultValue: false,
    help: "connect to Kafka over TLS, verifying the brokers against Node's CA store or KAFKA_SSL_CA_FILE",
  },
  sslCaFile: {
    env: 'KAFKA_SSL_CA_FILE',
    flag: 'ssl-ca-file',
    ...file(),
    defaultValue: null,
    help: "PEM file of the CA certificates the brokers' certificates are verified against, instead of Node's CA store (a private CA); re-read for every new connection",
  },
  sslCertFile: {
    env: 'KAFKA_SSL_CERT_FILE',
    flag: 'ssl-cert-file',
    ...file(),
    defaultValue: null,
    help: 'PEM file of the client certificate (mutual TLS), with KAFKA_SSL_KEY_FILE; re-read for every new connection',
  },
  sslKeyFile: {
    env: 'KAFKA_SSL_KEY_FILE',
    flag: 'ssl-key-file',
    ...file(),
    defaultValue: null,
    help: "PEM file of the client certificate's private key (unencrypted); re-read for every new connection",
  },
  sslRejectUnauthorized: {
    env: 'KAFKA_SSL_REJECT_UNAUTHORIZED',
    flag: 'ssl-reject-unauthorized',
    ...booleanValue(),
    defaultValue: true,
    help: "refuse brokers whose certificate does not verify; false accepts any certificate (never in production: anyone on the path can read and write the pod's records)",
  },
  sslServername: {
    env: 'KAFKA_SSL_SERVERNAME',
    flag: 'ssl-servername',
    ...optionalText(),
    placeholder: '<host>',
    defaultValue: null,
    help: "host name sent (SNI) and checked against the brokers' certificates instead of each broker's address (brokers reached through a proxy, a tunnel or an IP address)",
  },
  saslMechanism: {
    env: 'KAFKA_SASL_MECHANISM',
    flag: 'sasl-mechanism',
    ...optionalText(),
    placeholder: '<name>',
    check: checkSaslMechanism,
    defaultValue: null,
    help: `SASL mechanism: ${BUILT_IN_MECHANISMS.join(', ')} (any case), or the name of the mechanism KAFKA_SASL_MECHANISM_MODULE provides`,
  },
  saslUsername: {
    env: 'KAFKA_SASL_USERNAME',
    flag: 'sasl-username',
    ...optionalText(),
    defaultValue: null,
    help: 'SASL username (plain, scram-sha-256, scram-sha-512)',
  },
  saslPassword: {
    env: 'KAFKA_SASL_PASSWORD',
    flag: 'sasl-password',
    ...secret(),
    defaultValue: null,
    help: 'SASL password (plain, scram-*); prefer KAFKA_SASL_PASSWORD_FILE',
  },
  saslPasswordFile: {
    env: 'KAFKA_SASL_PASSWORD_FILE',
    flag: 'sasl-password-file',
    ...file(),
    defaultValue: null,
    help: 'file holding the SASL password, instead of KAFKA_SASL_PASSWORD; trailing newlines are dropped; re-read for every new connection',
  },
  saslOauthbearerTokenFile: {
    env: 'KAFKA_SASL_OAUTHBEARER_TOKEN_FILE',
    flag: 'sasl-oauthbearer-token-file',
    ...file(),
    defaultValue: null,
    help: 'file holding the OAUTHBEARER token (oauthbearer); trailing newlines are dropped; re-read for every new connection and every re-authentication, so whatever refreshes the file refreshes the token',
  },
  saslMechanismModule: {
    env: 'KAFKA_SASL_MECHANISM_MODULE',
    flag: 'sasl-mechanism-module',
    ...optionalText(),
    placeholder: '<module>',
    defaultValue: null,
    help: "module (package name or path) providing the SASL mechanism, as KafkaJS's sasl option takes it: a default export { mechanism, authenticationProvider }, or a createMechanism(options) function (e.g. @jm18457/kafkajs-msk-iam-authentication-mechanism for MSK IAM)",
  },
  saslMechanismOptions: {
    env: 'KAFKA_SASL_MECHANISM_OPTIONS',
    flag: 'sasl-mechanism-options',
    ...jsonObject(),
    defaultValue: {},
    help: 'JSON object passed to the module\'s createMechanism (e.g. {"region":"eu-west-1"})',
  },
  logLevel: {
    env: 'KAFKA_SIDECAR_LOG_LEVEL',
    flag: 'log-level',
    ...text(['nothing', 'error', 'warn', 'info', 'debug']),
    defaultValue: 'info',
    help: 'log level: nothing, error, warn, info or debug',
  },
} satisfies { readonly [K in keyof SidecarConfig]: SidecarOption<SidecarConfig[K]> }

/** One option of the table, with its key. */
type OptionSpec = SidecarOption<SidecarConfig[keyof SidecarConfig]> & { readonly key: keyof SidecarConfig }

/** The table as a list, each option with its key. */
export const OPTIONS: readonly OptionSpec[] = Object.entries(SIDECAR_OPTIONS).map(([key, option]) => ({
  key: key as keyof SidecarConfig,
  ...(option as SidecarOption<SidecarConfig[keyof SidecarConfig]>),
}))

export type SidecarOptions = Omit<Partial<SidecarConfig>, 'listen' | 'http'> & {
  listen?: ListenAddress | string
  http?: ListenAddress | string | null
}

/** Reads options from environment variables (only the ones in the table). */
export function optionsFromEnv(env: NodeJS.ProcessEnv): Record<string, { value: unknown; source: string }> {
  return layerFromEnv(SIDECAR_OPTIONS, env)
}

/** Reads options from `--flag value` / `--flag=value` pairs (booleans may omit the value). */
export function optionsFromFlags(
  values: Record<string, string | boolean | undefined>,
): Record<string, { value: unknown; source: string }> {
  return layerFromFlags(SIDECAR_OPTIONS, values)
}

/** An option nothing set: named by its key, and said to be the default where it has one. */
function unsetSource(key: string): string {
  return SIDECAR_OPTIONS[key as keyof SidecarConfig].defaultValue === undefined ? key : `${key} (default)`
}

/** Merges defaults < env < flags < programmatic options, then checks the whole. */
export function resolveConfig(
  layers: Array<Record<string, { value: unknown; source: string }>>,
  options: SidecarOptions = {},
): SidecarConfig {
  return resolveConfigAndSources(layers, options).config
}

/** A configuration, and each option as its user wrote it (for errors found later, reading its files). */
export interface ResolvedConfig {
  readonly config: SidecarConfig
  readonly source: (key: keyof SidecarConfig) => string
}

/** resolveConfig, keeping where each option came from. */
export function resolveConfigAndSources(
  layers: Array<Record<string, { value: unknown; source: string }>>,
  options: SidecarOptions = {},
): ResolvedConfig {
  const unknownOption = (key: string) => new SidecarConfigError(key, 'unknown option')
  const fromCode = layerFromCode(SIDECAR_OPTIONS, options, (key) => key, unknownOption)
  const { values: config, sources } = resolveOptions(SIDECAR_OPTIONS, [...layers, fromCode], unsetSource)
  const source = (key: keyof SidecarConfig) => sources[key]
  checkCombination(config, source)
  return { config, source }
}

/** What no single option's check can see: options that must agree with each other. */
function checkCombination(
  config: OptionValues<typeof SIDECAR_OPTIONS>,
  source: (key: keyof SidecarConfig) => string,
): void {
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
  checkKafkaSecurity(config, source)
  if (config.token !== null && config.token.length < 16)
    throw new SidecarConfigError(source('token'), 'must be at least 16 characters')
  // A token no client can send would refuse every request (a secret file's trailing newline, say).
  if (config.token !== null && !HEADER_SAFE.test(config.token)) {
    throw new SidecarConfigError(
      source('token'),
      'must be printable ASCII without leading or trailing spaces: clients send it as an HTTP/2 header value',
    )
  }
}

/** Printable ASCII, no leading or trailing space: what an HTTP/2 header value carries unchanged. */
const HEADER_SAFE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/
