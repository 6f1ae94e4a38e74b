/**
 * The reference side of the parity tests: a plain KafkaJS 2.2.4 client (imported from 'kafkajs',
 * not from this package) on the same embedded cluster, and small tools to compare what it does
 * with what the client does. Everything started here is stopped when the test ends.
 */
import type { EmbeddedKafka, EmbeddedRecord } from '@kafka-sidecar/embedded-kafka'
import kafkajs from 'kafkajs'
import type { KafkaConfig, LogEntry, Producer, ProducerConfig, RecordMetadata } from 'kafkajs'
import { onTestFinished } from 'vitest'

export function plainKafka(
  cluster: EmbeddedKafka,
  config: Partial<KafkaConfig> = {},
): InstanceType<typeof kafkajs.Kafka> {
  return new kafkajs.Kafka({
    clientId: 'plain-kafkajs',
    brokers: cluster.bootstrapServers,
    logLevel: kafkajs.logLevel.NOTHING,
    ...config,
  })
}

/** A plain KafkaJS producer, not connected; disconnected when the test ends. */
export function plainProducer(
  cluster: EmbeddedKafka,
  config: ProducerConfig = {},
  kafkaConfig: Partial<KafkaConfig> = {},
): Producer {
  const producer = plainKafka(cluster, kafkaConfig).producer({
    createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
    ...config,
  })
  onTestFinished(() => producer.disconnect().catch(() => {}))
  return producer
}

export async function connectedPlainProducer(cluster: EmbeddedKafka, config: ProducerConfig = {}): Promise<Producer> {
  const producer = plainProducer(cluster, config)
  await producer.connect()
  return producer
}

/** How a call ended: whether it threw synchronously, its value, or its error. */
export type Outcome =
  | { readonly sync: true; readonly error: unknown }
  | { readonly sync: false; readonly ok: true; readonly value: unknown }
  | { readonly sync: false; readonly ok: false; readonly error: unknown }

export async function outcome(call: () => unknown): Promise<Outcome> {
  let pending: unknown
  try {
    pending = call()
  } catch (error) {
    return { sync: true, error }
  }
  try {
    return { sync: false, ok: true, value: await pending }
  } catch (error) {
    return { sync: false, ok: false, error }
  }
}

/** What a caller can see of an error: its class, name, message, retriable and protocol fields. */
export function errorFacts(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { notAnError: error }
  const e = error as Error & { retriable?: unknown; type?: unknown; code?: unknown }
  return {
    class: error.constructor,
    className: error.constructor.name,
    name: e.name,
    message: e.message,
    retriable: e.retriable,
    ...(e.type !== undefined ? { type: e.type } : {}),
    ...(e.code !== undefined ? { code: e.code } : {}),
  }
}

/** An outcome with errors reduced to their facts, for comparing two outcomes with toEqual. */
export function outcomeFacts(o: Outcome): Record<string, unknown> {
  if (o.sync) return { sync: true, error: errorFacts(o.error) }
  return o.ok ? { sync: false, ok: true, value: o.value } : { sync: false, ok: false, error: errorFacts(o.error) }
}

/** RecordMetadata with the topic name replaced, sorted by topic then partition. */
export function normalizeMetadata(
  metadata: readonly RecordMetadata[],
  topicNames: Readonly<Record<string, string>>,
): RecordMetadata[] {
  return metadata
    .map((m) => ({ ...m, topicName: topicNames[m.topicName] ?? m.topicName }))
    .sort((a, b) => a.topicName.localeCompare(b.topicName) || a.partition - b.partition)
}

/** RecordMetadata with the topic name replaced, order kept. */
export function renameTopics(
  metadata: readonly RecordMetadata[],
  topicNames: Readonly<Record<string, string>>,
): RecordMetadata[] {
  return metadata.map((m) => ({ ...m, topicName: topicNames[m.topicName] ?? m.topicName }))
}

/** A stored record as bytes, without the topic name (and without the timestamp unless asked). */
export function recordBytes(record: EmbeddedRecord, { timestamp = false } = {}): Record<string, unknown> {
  return {
    partition: record.partition,
    offset: record.offset,
    key: record.key === null ? null : record.key.toString('hex'),
    value: record.value === null ? null : record.value.toString('hex'),
    headers: record.headers.map((h) => ({ key: h.key, value: h.value === null ? null : h.value.toString('hex') })),
    ...(timestamp ? { timestamp: record.timestamp } : {}),
  }
}

/** A KafkaJS logCreator that keeps every entry. */
export function captureLogs(): {
  entries: Array<LogEntry & { log: LogEntry['log'] & Record<string, unknown> }>
  logCreator: NonNullable<KafkaConfig['logCreator']>
} {
  const entries: Array<LogEntry & { log: LogEntry['log'] & Record<string, unknown> }> = []
  return { entries, logCreator: () => (entry) => void entries.push(entry as (typeof entries)[number]) }
}
