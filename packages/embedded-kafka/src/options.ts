/**
 * Cluster options: one table declaring each option (its default, its check, and for the CLI its
 * flag and help line), and one parser that rejects unknown or invalid values with a message
 * naming the option (the CLI maps its flags onto the same names).
 */
import { layerFromCode, resolveOptions, type OptionDeclaration } from '@kafka-sidecar/options'
import { EmbeddedKafkaConfigError } from './errors.js'
import { checkSasl, saslFromText, type SaslOption } from './sasl/sasl-options.js'
import type { Logger } from './server/logger.js'
import { silentLogger } from './server/logger.js'
import { UNBOUNDED_RETENTION } from './state/partition-log.js'

export interface EmbeddedKafkaOptions {
  /** Number of brokers. Default 3. */
  brokers?: number
  /** Interface to listen on. Default 127.0.0.1 (loopback only). */
  host?: string
  /** First port; broker i listens on port + i. Default 0: every broker picks a free port. */
  port?: number
  /** Explicit port per broker (overrides `port`). */
  ports?: readonly number[]
  /** auto.create.topics.enable. Default true, as in Kafka. */
  autoCreateTopics?: boolean
  /** num.partitions for auto-created topics and CreateTopics with -1. Default 1, as in Kafka. */
  defaultPartitions?: number
  /**
   * default.replication.factor for auto-created topics, CreateTopics with -1 and createTopic().
   * Default min(3, brokers), as production clusters run, so stopping a broker fails leadership
   * over instead of taking partitions offline. Use 1 to rehearse offline partitions.
   */
  defaultReplicationFactor?: number
  /** retention.bytes per partition; -1 keeps everything. Default -1, as in Kafka. */
  retentionBytes?: number
  /** message.max.bytes: largest record batch accepted. Default 1048588, as in Kafka. */
  maxMessageBytes?: number
  /** socket.request.max.bytes: largest request frame; larger ones close the connection. Default 100 MiB. */
  maxRequestBytes?: number
  /** group.min.session.timeout.ms. Default 6000. */
  groupMinSessionTimeoutMs?: number
  /** group.max.session.timeout.ms. Default 1800000. */
  groupMaxSessionTimeoutMs?: number
  /** group.initial.rebalance.delay.ms. Default 0 (Kafka ships 3000; 0 is its advice for tests). */
  groupInitialRebalanceDelayMs?: number
  /** transaction.max.timeout.ms: longest transaction timeout a producer may ask for. Default 900000, as in Kafka. */
  transactionMaxTimeoutMs?: number
  /**
   * TLS listeners (Kafka's SSL and SASL_SSL). Unless `tlsCertFile` is given, a throwaway CA and a
   * broker certificate for loopback and `host` are made at start; clients trust `caCertificate`.
   * Default false; `mtls` or `tlsCertFile` imply it.
   */
  tls?: boolean
  /** Mutual TLS (`ssl.client.auth=required`): clients must present a certificate signed by the CA. Default false. */
  mtls?: boolean
  /** The broker certificate (PEM file, chain allowed) instead of a made one; needs `tlsKeyFile`. */
  tlsCertFile?: string
  /** The broker certificate's private key (PEM file). */
  tlsKeyFile?: string
  /** The CA (PEM file) clients trust, and with `mtls` the one client certificates must chain to. */
  tlsCaFile?: string
  /**
   * SASL listeners (Kafka's SASL_PLAINTEXT, or SASL_SSL with `tls`): the mechanisms enabled, in
   * the order given, and their users. `{ mechanism: 'scram-sha-512', username, password }` (also
   * plain, scram-sha-256), `{ mechanism: 'oauthbearer', validate? }` (default: Kafka's check of
   * unsecured tokens), or a custom mechanism `{ mechanism: 'NAME', start() }`. Default: none.
   */
  sasl?: readonly SaslOption[]
  /** Structured logger; silent by default. */
  logger?: Logger
}

/** Options without a default: unset stays undefined. */
type Unset = 'tlsCertFile' | 'tlsKeyFile' | 'tlsCaFile'

export type ResolvedOptions = Required<Omit<EmbeddedKafkaOptions, 'port' | Unset>> &
  Pick<EmbeddedKafkaOptions, Unset> & { ports: readonly number[] }

export const DEFAULT_BROKERS = 3
export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588
export const DEFAULT_MAX_REQUEST_BYTES = 104_857_600

export { EmbeddedKafkaConfigError }

type Check<T> = (value: unknown, source: string) => T

/** Undefined takes `fallback`: a check that runs with nothing set computes the default from other options. */
function integer(min: number, max = Number.MAX_SAFE_INTEGER, fallback?: number): Check<number> {
  return (value, option) => {
    if (value === undefined && fallback !== undefined) return fallback
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new EmbeddedKafkaConfigError(
        option,
        `expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
      )
    }
    return value
  }
}

/** A flag's text as an integer; the range is the option's check. */
export function integerText(text: string, flag: string): number {
  if (!/^-?\d+$/.test(text)) throw new EmbeddedKafkaConfigError(flag, `expected an integer, got "${text}"`)
  return Number(text)
}

function hostName(value: unknown, option: string): string {
  // null has always meant the default here, as undefined does.
  const host = value ?? DEFAULT_HOST
  if (typeof host !== 'string' || host === '')
    throw new EmbeddedKafkaConfigError(option, 'expected a host name or address')
  return host
}

function brokerPorts(value: unknown, option: string, brokers: number): readonly number[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || value.length !== brokers) {
    throw new EmbeddedKafkaConfigError(option, `expected ${brokers} ports (one per broker)`)
  }
  return value.map((port, i) => integer(0, 65535, 0)(port, `${option}[${i}]`))
}

function retention(value: unknown, option: string): number {
  const bytes = integer(-1)(value, option)
  if (bytes === 0) throw new EmbeddedKafkaConfigError(option, 'expected -1 (unbounded) or a positive byte count')
  return bytes
}

function trueOrFalse(value: unknown, option: string): boolean {
  if (typeof value !== 'boolean') throw new EmbeddedKafkaConfigError(option, 'expected true or false')
  return value
}

/** A switch: the flag alone means true. */
const on = () => true

function aFile(value: unknown, option: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value === '') throw new EmbeddedKafkaConfigError(option, 'expected a file path')
  return value
}

function aFunction<T>(value: unknown, option: string): T {
  if (typeof value !== 'function') throw new EmbeddedKafkaConfigError(option, 'expected a function')
  return value as T
}

/** What the dependent checks read of the options declared above them. */
type Above = Pick<ResolvedOptions, 'brokers' | 'groupMinSessionTimeoutMs' | 'tlsCertFile'> & {
  readonly ports?: readonly number[]
}

/** Every option, the CLI's flags in the order `--help` lists them. */
export const EMBEDDED_KAFKA_OPTIONS = {
  brokers: {
    flag: 'brokers',
    placeholder: '<n>',
    help: 'number of brokers (default 3)',
    defaultValue: DEFAULT_BROKERS,
    parse: integerText,
    check: integer(1, 64),
  },
  host: {
    flag: 'host',
    placeholder: '<address>',
    help: 'address to listen on (default 127.0.0.1)',
    defaultValue: DEFAULT_HOST,
    check: hostName,
  },
  ports: { check: (value, option, { brokers }) => brokerPorts(value, option, brokers) },
  // Ignored, so not checked, when `ports` is given.
  port: {
    flag: 'port',
    placeholder: '<port>',
    help: 'first broker port; broker i uses port+i (default 0: free ports)',
    parse: integerText,
    check: (value, option, { brokers, ports }) => (ports ? 0 : integer(0, 65535 - brokers + 1, 0)(value, option)),
  },
  defaultPartitions: {
    flag: 'partitions',
    placeholder: '<n>',
    help: 'partitions of auto-created topics (default 1)',
    defaultValue: 1,
    parse: integerText,
    check: integer(1, 10_000),
  },
  autoCreateTopics: {
    flag: 'no-auto-create-topics',
    help: 'refuse metadata requests for unknown topics instead of creating them',
    defaultValue: true,
    parse: () => false,
    check: trueOrFalse,
  },
  retentionBytes: {
    flag: 'retention-bytes',
    placeholder: '<n>',
    help: 'bytes kept per partition, oldest batches dropped first (default -1: all)',
    defaultValue: UNBOUNDED_RETENTION,
    parse: integerText,
    check: retention,
  },
  maxMessageBytes: {
    flag: 'max-message-bytes',
    placeholder: '<n>',
    help: 'largest record batch accepted (default 1048588)',
    defaultValue: DEFAULT_MAX_MESSAGE_BYTES,
    parse: integerText,
    check: integer(1),
  },
  defaultReplicationFactor: {
    check: (value, option, { brokers }) => integer(1, brokers, Math.min(3, brokers))(value, option),
  },
  maxRequestBytes: { defaultValue: DEFAULT_MAX_REQUEST_BYTES, check: integer(64) },
  groupMinSessionTimeoutMs: { defaultValue: 6000, check: integer(1) },
  groupMaxSessionTimeoutMs: {
    defaultValue: 1_800_000,
    check: (value, option, { groupMinSessionTimeoutMs }) => integer(groupMinSessionTimeoutMs)(value, option),
  },
  groupInitialRebalanceDelayMs: { defaultValue: 0, check: integer(0) },
  transactionMaxTimeoutMs: { defaultValue: 900_000, check: integer(1, 2_147_483_647) },
  tls: {
    flag: 'tls',
    help: 'TLS listeners with a throwaway CA; prints "ca: <file>" (its PEM) after the bootstrap line',
    defaultValue: false,
    parse: on,
    check: trueOrFalse,
  },
  mtls: {
    flag: 'mtls',
    help: 'mutual TLS: clients need a certificate signed by the CA (implies --tls)',
    defaultValue: false,
    parse: on,
    check: trueOrFalse,
  },
  tlsCertFile: {
    flag: 'tls-cert',
    placeholder: '<file>',
    help: 'broker certificate (PEM) instead of a made one; needs --tls-key (implies --tls)',
    check: aFile,
  },
  tlsKeyFile: {
    flag: 'tls-key',
    placeholder: '<file>',
    help: "the broker certificate's private key (PEM)",
    check: (value, option, { tlsCertFile }) => {
      const file = aFile(value, option)
      if ((file === undefined) !== (tlsCertFile === undefined))
        throw new EmbeddedKafkaConfigError(option, 'tlsCertFile and tlsKeyFile go together')
      return file
    },
  },
  tlsCaFile: {
    flag: 'tls-ca',
    placeholder: '<file>',
    help: 'CA certificate (PEM) for --tls-cert, printed as the ca line; with --mtls, signs client certificates',
    check: aFile,
  },
  sasl: {
    flag: 'sasl',
    placeholder: '<mechanism>:<user>:<password>',
    repeatable: true,
    help: 'SASL: plain, scram-sha-256 or scram-sha-512 user; or oauthbearer (unsecured tokens)',
    defaultValue: [],
    parse: saslFromText,
    check: checkSasl,
  },
  logger: { defaultValue: silentLogger, check: aFunction<Logger> },
} satisfies { readonly [K in keyof EmbeddedKafkaOptions]-?: OptionDeclaration<EmbeddedKafkaOptions[K], Above> }

export function parseOptions(input: EmbeddedKafkaOptions = {}): ResolvedOptions {
  const unknownOption = (key: string) => new EmbeddedKafkaConfigError(key, 'unknown option')
  const fromCode = layerFromCode(EMBEDDED_KAFKA_OPTIONS, input, (key) => key, unknownOption)
  const { port, ports, ...options } = resolveOptions(EMBEDDED_KAFKA_OPTIONS, [fromCode]).values
  return {
    ...options,
    tls: options.tls || options.mtls || options.tlsCertFile !== undefined,
    ports: ports ?? Array.from({ length: options.brokers }, (_, i) => (port === 0 ? 0 : port + i)),
  }
}
