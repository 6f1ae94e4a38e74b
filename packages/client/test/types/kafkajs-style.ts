/**
 * KafkaJS-style code, written against KafkaJS 2.2.4's API and typings, with only the import
 * changed from 'kafkajs' to '@kafka-sidecar/client'. It is never run: it must type-check.
 *
 * Checked twice: by the root `pnpm typecheck` (against the package sources) and by
 * types.test.ts through test/types/tsconfig.json (against the built `dist/*.d.ts`, as an
 * application sees the package).
 */
import {
  CompressionCodecs,
  CompressionTypes,
  Kafka,
  KafkaJSError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  Partitioners,
  logLevel,
  type Admin,
  type Consumer,
  type ConnectEvent,
  type EachMessagePayload,
  type IHeaders,
  type KafkaConfig,
  type LogEntry,
  type Logger,
  type Message,
  type Producer,
  type ProducerBatch,
  type ProducerConfig,
  type ProducerRecord,
  type RecordMetadata,
  type TopicMessages,
  type Transaction,
} from '@kafka-sidecar/client'
// The KafkaJS types themselves: code typed against them must accept what the client returns.
import type * as KafkaJS from 'kafkajs'

const logCreator =
  (level: logLevel) =>
  (entry: LogEntry): void => {
    const { namespace, label, log } = entry
    void [level, namespace, label, log.message, log.timestamp]
  }

const config: KafkaConfig = {
  clientId: 'orders',
  brokers: ['localhost:9092'],
  connectionTimeout: 3_000,
  requestTimeout: 25_000,
  retry: { initialRetryTime: 100, retries: 8 },
  logLevel: logLevel.WARN,
  logCreator,
}

export const kafka = new Kafka(config)

const producerConfig: ProducerConfig = {
  createPartitioner: Partitioners.LegacyPartitioner,
  retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 30_000, factor: 0.2, multiplier: 2 },
  idempotent: true,
  maxInFlightRequests: 1,
  allowAutoTopicCreation: false,
  metadataMaxAge: 300_000,
  transactionTimeout: 60_000,
}

export const producer: Producer = kafka.producer(producerConfig)
export const defaultProducer = kafka.producer()
export const javaCompatible = kafka.producer({ createPartitioner: Partitioners.JavaCompatiblePartitioner })
export const customPartitioner = kafka.producer({
  createPartitioner:
    () =>
    ({ partitionMetadata, message }) =>
      message.key ? partitionMetadata.length - 1 : 0,
})

/** A helper an application wrote for KafkaJS: typed with KafkaJS's own types. */
export const makeProducer: (kafka: KafkaJS.Kafka) => KafkaJS.Producer = (k) => k.producer({ idempotent: true })
export const ours: KafkaJS.Producer = makeProducer(kafka)
export const fromOurs: KafkaJS.Producer = kafka.producer()
export const kafkaAsKafkaJS: KafkaJS.Kafka = kafka
/** Helpers typed with KafkaJS's Producer take the client's producer. */
export const handled: Promise<string> = handleErrors(kafka.producer())
export const listening: Array<() => void> = instrument(kafka.producer())

const headers: IHeaders = {
  'correlation-id': '2bfb68bb',
  binary: Buffer.from([0, 1]),
  repeated: ['a', Buffer.from('b')],
  absent: undefined,
}

const messages: Message[] = [
  { key: 'key1', value: 'hello world', partition: 0, headers, timestamp: String(Date.now()) },
  { key: Buffer.from('key2'), value: Buffer.from('hey hey!') },
  { key: null, value: null },
  { value: 'no key' },
]

export async function produce(): Promise<RecordMetadata[]> {
  await producer.connect()
  const record: ProducerRecord = {
    topic: 'topic-a',
    messages,
    acks: -1,
    timeout: 30_000,
    compression: CompressionTypes.GZIP,
  }
  const sent: RecordMetadata[] = await producer.send(record)
  for (const {
    topicName,
    partition,
    errorCode,
    baseOffset,
    logAppendTime,
    logStartOffset,
    offset,
    timestamp,
  } of sent) {
    void [
      topicName.length,
      partition + 1,
      errorCode + 1,
      baseOffset?.length,
      logAppendTime,
      logStartOffset,
      offset,
      timestamp,
    ]
  }
  const topicMessages: TopicMessages[] = [
    { topic: 'topic-a', messages: [{ key: 'a', value: '1' }] },
    { topic: 'topic-b', messages: [{ key: 'b', value: '2' }] },
  ]
  const batch: ProducerBatch = { topicMessages, acks: 1, timeout: 1_000, compression: CompressionTypes.None }
  const batched = await producer.sendBatch(batch)
  await producer.send({ topic: 'topic-c', messages: [{ value: 'x' }], acks: 0, compression: CompressionTypes.Snappy })
  await producer.disconnect()
  return [...sent, ...batched]
}

export function instrument(p: Producer): Array<() => void> {
  const connected: ConnectEvent[] = []
  return [
    p.on(p.events.CONNECT, (e) => {
      connected.push(e)
      return e.payload
    }),
    p.on(p.events.DISCONNECT, (e) => void [e.id, e.type, e.timestamp, e.payload]),
    p.on(p.events.REQUEST_TIMEOUT, (e) => void e.type),
    p.on('producer.connect', (e) => void e.timestamp),
  ]
}

export function instrumentOurs(): () => void {
  const p = kafka.producer()
  const { CONNECT, DISCONNECT, REQUEST, REQUEST_QUEUE_SIZE, REQUEST_TIMEOUT } = p.events
  void [DISCONNECT, REQUEST_QUEUE_SIZE]
  const removers = [
    p.on(CONNECT, (e) => void [e.id, e.type, e.timestamp, e.payload]),
    // KafkaJS types each event's payload.
    p.on(REQUEST, (e) => void [e.payload.apiName, e.payload.broker, e.payload.duration, e.payload.size]),
    p.on(REQUEST_TIMEOUT, (e) => void [e.payload.apiName, e.payload.broker, e.payload.pendingDuration]),
  ]
  return () => removers.forEach((remove) => remove())
}

export async function handleErrors(p: Producer): Promise<string> {
  try {
    await p.send({ topic: 'topic-a', messages: [{ value: 'v' }] })
    return 'sent'
  } catch (error) {
    if (error instanceof KafkaJSProtocolError) {
      const { code, type, retriable, name, message } = error
      return `${code} ${type} ${retriable} ${name} ${message}`
    }
    if (error instanceof KafkaJSNumberOfRetriesExceeded) return `${error.name}: ${error.cause?.message}`
    if (error instanceof KafkaJSNonRetriableError) return `${error.name} ${error.retriable}`
    if (error instanceof KafkaJSError) {
      const cause: Error | undefined = error.cause
      const retriable: boolean = error.retriable
      return `${error.name} ${retriable} ${cause?.message ?? ''} ${error.helpUrl ?? ''}`
    }
    throw error
  }
}

export class AppError extends KafkaJSError {
  constructor(message: string) {
    super(message, { retriable: false })
  }
}

export const gzip = CompressionCodecs[CompressionTypes.GZIP]
/** KafkaJS's enums are types too: their members name literal types. */
export const codec: CompressionTypes.GZIP | CompressionTypes.None = CompressionTypes.GZIP
export const quiet: logLevel.ERROR | logLevel.NOTHING = logLevel.ERROR
/** As kafkajs-snappy's README does it. */
export function registerSnappy(SnappyCodec: () => unknown): void {
  CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec
}

export async function transactional(): Promise<void> {
  const p = kafka.producer({ transactionalId: 'tx-1', idempotent: true, maxInFlightRequests: 1 })
  await p.connect()
  const tx: Transaction = await p.transaction()
  await tx.send({ topic: 'topic-a', messages: [{ value: 'in a transaction' }] })
  await tx.sendBatch({ topicMessages: [{ topic: 'topic-b', messages: [{ value: 'also' }] }] })
  await tx.sendOffsets({
    consumerGroupId: 'group',
    topics: [{ topic: 'in', partitions: [{ partition: 0, offset: '42' }] }],
  })
  if (tx.isActive()) await tx.commit()
  else await tx.abort()
}

export function loggerAndFlags(p: Producer): boolean {
  const log: Logger = p.logger()
  log.info('hello', { extra: 1 })
  log.namespace('Mine').warn('namespaced')
  log.setLogLevel(logLevel.DEBUG)
  return p.isIdempotent()
}

export async function consumeAndAdmin(): Promise<void> {
  const consumer: Consumer = kafka.consumer({ groupId: 'group' })
  await consumer.connect()
  await consumer.subscribe({ topics: ['topic-a'], fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ topic, partition, message }: EachMessagePayload) => {
      void [topic, partition, message.key?.toString(), message.value?.toString(), message.headers, message.offset]
    },
  })
  const admin: Admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: 'topic-a', numPartitions: 3 }] })
  const offsets = await admin.fetchTopicOffsets('topic-a')
  void offsets.map(({ partition, high, low }) => [partition, high, low])
  await admin.disconnect()
  kafka.logger().info('done')
}
