/**
 * Cluster options: defaults, and one parser that rejects unknown or invalid values with a message
 * naming the option (the CLI maps its flags onto the same names).
 */
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
  /** Structured logger; silent by default. */
  logger?: Logger
}

export type ResolvedOptions = Required<Omit<EmbeddedKafkaOptions, 'port'>> & { ports: readonly number[] }

export const DEFAULT_BROKERS = 3
export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588
export const DEFAULT_MAX_REQUEST_BYTES = 104_857_600

export class EmbeddedKafkaConfigError extends Error {
  override name = 'EmbeddedKafkaConfigError'
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`invalid embedded-kafka option "${option}": ${message}`)
  }
}

const KNOWN = new Set([
  'brokers',
  'host',
  'port',
  'ports',
  'autoCreateTopics',
  'defaultPartitions',
  'defaultReplicationFactor',
  'retentionBytes',
  'maxMessageBytes',
  'maxRequestBytes',
  'groupMinSessionTimeoutMs',
  'groupMaxSessionTimeoutMs',
  'groupInitialRebalanceDelayMs',
  'transactionMaxTimeoutMs',
  'logger',
])

function integer(option: string, value: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new EmbeddedKafkaConfigError(
      option,
      `expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
    )
  }
  return value
}

export function parseOptions(input: EmbeddedKafkaOptions = {}): ResolvedOptions {
  for (const key of Object.keys(input)) if (!KNOWN.has(key)) throw new EmbeddedKafkaConfigError(key, 'unknown option')
  const brokers = integer('brokers', input.brokers, DEFAULT_BROKERS, 1, 64)
  const host = input.host ?? DEFAULT_HOST
  if (typeof host !== 'string' || host === '')
    throw new EmbeddedKafkaConfigError('host', 'expected a host name or address')
  let ports: readonly number[]
  if (input.ports !== undefined) {
    if (!Array.isArray(input.ports) || input.ports.length !== brokers) {
      throw new EmbeddedKafkaConfigError('ports', `expected ${brokers} ports (one per broker)`)
    }
    ports = input.ports.map((p, i) => integer(`ports[${i}]`, p, 0, 0, 65535))
  } else {
    const base = integer('port', input.port, 0, 0, 65535 - brokers + 1)
    ports = Array.from({ length: brokers }, (_, i) => (base === 0 ? 0 : base + i))
  }
  if (input.autoCreateTopics !== undefined && typeof input.autoCreateTopics !== 'boolean') {
    throw new EmbeddedKafkaConfigError('autoCreateTopics', 'expected true or false')
  }
  const groupMinSessionTimeoutMs = integer('groupMinSessionTimeoutMs', input.groupMinSessionTimeoutMs, 6000, 1)
  const groupMaxSessionTimeoutMs = integer(
    'groupMaxSessionTimeoutMs',
    input.groupMaxSessionTimeoutMs,
    1_800_000,
    groupMinSessionTimeoutMs,
  )
  if (input.logger !== undefined && typeof input.logger !== 'function')
    throw new EmbeddedKafkaConfigError('logger', 'expected a function')
  const retentionBytes = integer('retentionBytes', input.retentionBytes, UNBOUNDED_RETENTION, -1)
  if (retentionBytes === 0)
    throw new EmbeddedKafkaConfigError('retentionBytes', 'expected -1 (unbounded) or a positive byte count')
  return {
    brokers,
    host,
    ports,
    autoCreateTopics: input.autoCreateTopics ?? true,
    defaultPartitions: integer('defaultPartitions', input.defaultPartitions, 1, 1, 10_000),
    defaultReplicationFactor: integer(
      'defaultReplicationFactor',
      input.defaultReplicationFactor,
      Math.min(3, brokers),
      1,
      brokers,
    ),
    retentionBytes,
    maxMessageBytes: integer('maxMessageBytes', input.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES, 1),
    maxRequestBytes: integer('maxRequestBytes', input.maxRequestBytes, DEFAULT_MAX_REQUEST_BYTES, 64),
    groupMinSessionTimeoutMs,
    groupMaxSessionTimeoutMs,
    groupInitialRebalanceDelayMs: integer('groupInitialRebalanceDelayMs', input.groupInitialRebalanceDelayMs, 0, 0),
    transactionMaxTimeoutMs: integer(
      'transactionMaxTimeoutMs',
      input.transactionMaxTimeoutMs,
      900_000,
      1,
      2_147_483_647,
    ),
    logger: input.logger ?? silentLogger,
  }
}
