/**
 * The direct path: KafkaJS's own producer, built from the application's own Kafka config and
 * producer config. It is the whole producer in direct mode and the fallback in sidecar mode,
 * where it connects on first need and is disconnected again after a quiet period.
 *
 * To report each record's partition and offset, the partitioner KafkaJS runs is wrapped: it
 * still decides, and the wrapper remembers its answer per message object (the reports are made in
 * delivery/direct-reports.ts).
 *
 * KafkaJS 2.2.4 does not keep the order of sends started together. Each passes a lock on the
 * producer's target topics, and the last of a queue of waiters overtakes the one before it (the
 * lock's release is an async function returning the next waiter's promise: microtasks the
 * earlier waiter pays and the later one does not), so `send(a); send(b)` in one tick writes b
 * before a; sends that wait together for a broker connection race the same way. The gate makes
 * such bursts at every fallback switch, into a producer that has just connected. So a send
 * enters KafkaJS's sendBatch only once the previous send to any of its topics (the lock is per
 * topic) is past those waits: once the partitioner ran for all its records, if each went to a
 * partition this producer has already written since it connected (its leader connection is
 * open); otherwise once it ended, or COLD_WAIT_MAX_MS after its partitioner ran (a send stuck on
 * an unreachable leader must not hold the topic's other sends up; past that, order is KafkaJS's
 * own). A send waits at most METADATA_WAIT_MAX_MS from its arrival here in all, for sends ahead
 * of it that never get their metadata (a topic that does not exist). Sends to other topics never
 * wait. That is a few microtasks in steady state, one round trip per partition after a connect,
 * and records reach each partition in send order, also when the sends pile up behind a
 * fallback's cold connect (each send's patience with the one ahead starts when that one has
 * its partitions, not when either was called).
 */
import kafkajs from 'kafkajs'
import type {
  Kafka,
  Message,
  PartitionerArgs,
  Producer,
  ProducerConfig,
  RecordMetadata,
  TopicMessages,
  Transaction,
} from 'kafkajs'
import { untraced } from '../tracing/kafkajs-instrumentation.js'
import { createCapturingCluster, type KafkaJSClusterView } from './kafkajs-cluster.js'

let partitionerWarningGiven = false
/** Longest a send waits for the one ahead of it once that one's partitions are known (see above). */
const COLD_WAIT_MAX_MS = 1_000
/** Longest a send waits, from its arrival, for the sends ahead of it on its topics. */
const METADATA_WAIT_MAX_MS = 10_000

function warnOfDefaultPartitioner(kafka: Kafka): void {
  if (partitionerWarningGiven || process.env.KAFKAJS_NO_PARTITIONER_WARNING != null) return
  partitionerWarningGiven = true
  kafka
    .logger()
    .warn(
      'KafkaJS v2.0.0 switched default partitioner. To retain the same partitioning behavior as in previous versions, create the producer with the option "createPartitioner: Partitioners.LegacyPartitioner". See the migration guide at https://kafka.js.org/docs/migration-guide-v2.0.0#producer-new-default-partitioner for details. Silence this warning by setting the environment variable "KAFKAJS_NO_PARTITIONER_WARNING=1"',
    )
}

export interface DirectSend {
  readonly topicMessages: TopicMessages[]
  readonly acks?: number
  readonly timeout?: number
  readonly compression?: number
}

export class DirectPath {
  readonly producer: Producer
  /** KafkaJS's cluster behind `producer` (null on another KafkaJS): where the cluster id it learns is read. */
  readonly cluster: KafkaJSClusterView | null
  /** Per message of a send on its way into KafkaJS: told the partition KafkaJS chose for it. */
  private readonly onPartitioned = new WeakMap<Message, (topic: string, partition: number) => void>()
  /** Message objects of sends in KafkaJS now: the same object sent again gets a stand-in (see `distinct`). */
  private readonly messagesInFlight = new Set<Message>()
  /** Per topic: settles once the latest send to it is past KafkaJS's waits (see above), or ended. */
  private readonly lastEnteredByTopic = new Map<string, Promise<void>>()
  /** `topic\0partition` written since the producer connected. */
  private readonly warmPartitions = new Set<string>()
  private connection: Promise<void> | null = null
  /** The latest disconnect; a connect waits for it. */
  private disconnecting: Promise<void> = Promise.resolve()
  private connectedFlag = false
  private inFlightCount = 0
  /** KafkaJS's methods, as the application's instrumentation wrapped them unless told otherwise. */
  private kafkajsSendBatch: Producer['sendBatch']
  private kafkajsTransaction: Producer['transaction']
  lastUsedAt = 0

  constructor(kafka: Kafka, config: ProducerConfig) {
    // KafkaJS warns (once per process) when no partitioner is named; the wrapper below always
    // names one, so the warning is given here instead, word for word.
    if (config.createPartitioner == null) warnOfDefaultPartitioner(kafka)
    const createPartitioner = config.createPartitioner ?? kafkajs.Partitioners.DefaultPartitioner
    const { created, cluster } = createCapturingCluster(kafka, () =>
      kafka.producer({
        ...config,
        createPartitioner: () => {
          const partitioner = createPartitioner()
          return (args: PartitionerArgs) => {
            const partition = partitioner(args)
            this.onPartitioned.get(args.message)?.(args.topic, partition)
            return partition
          }
        },
      }),
    )
    this.producer = created
    this.cluster = cluster
    this.kafkajsSendBatch = this.producer.sendBatch
    this.kafkajsTransaction = this.producer.transaction
  }

  /** The sidecar producer that owns this path is traced itself: its fallback sends must not be traced again. */
  stopTracing(): void {
    this.kafkajsSendBatch = untraced(this.producer.sendBatch)
    this.kafkajsTransaction = untraced(this.producer.transaction)
  }

  /** Direct mode: sends are traced where they enter KafkaJS's producer (direct-entry.ts), not again here. */
  untraceSends(): void {
    this.kafkajsSendBatch = untraced(this.producer.sendBatch)
  }

  transaction(): Promise<Transaction> {
    return this.kafkajsTransaction.call(this.producer)
  }

  get isConnected(): boolean {
    return this.connectedFlag
  }

  get inFlight(): number {
    return this.inFlightCount
  }

  /**
   * Connects once; concurrent callers share the attempt, a failed attempt can be retried. A
   * connect asked for while a disconnect is under way starts after it: KafkaJS's connect and
   * disconnect running together leave it DISCONNECTED while this path would think it connected,
   * and every later send would fail "The producer is disconnected".
   */
  connect(): Promise<void> {
    if (!this.connection) {
      this.connection = this.disconnecting
        .then(() => this.producer.connect())
        .then(
          () => {
            this.connectedFlag = true
          },
          (error: unknown) => {
            this.connection = null
            throw error
          },
        )
    }
    return this.connection
  }

  disconnect(): Promise<void> {
    if (!this.connection) return this.disconnecting
    const connecting = this.connection
    this.connection = null
    this.connectedFlag = false
    this.warmPartitions.clear()
    this.disconnecting = connecting.catch(() => {}).then(() => this.producer.disconnect())
    return this.disconnecting
  }

  /**
   * Sends through KafkaJS. `partitions[i]` is set to the partition KafkaJS chose for record i
   * (records numbered across `topicMessages` in order) as it chooses it, also when the send fails.
   */
  async send(request: DirectSend, partitions: Array<number | null> = []): Promise<RecordMetadata[]> {
    this.inFlightCount++
    const arrivedAt = Date.now()
    this.lastUsedAt = arrivedAt
    const topics = [...new Set(request.topicMessages.map((t) => t.topic))]
    const ahead = Promise.all(topics.map((topic) => this.lastEnteredByTopic.get(topic)))
    let passed!: () => void
    const entered = new Promise<void>((resolve) => (passed = resolve))
    for (const topic of topics) this.lastEnteredByTopic.set(topic, entered)
    let bound: NodeJS.Timeout | undefined
    const used = new Set<string>()
    const { topicMessages, messages } = this.distinct(request.topicMessages)
    try {
      await this.connect()
      await withinMs(ahead, METADATA_WAIT_MAX_MS - (Date.now() - arrivedAt))
      const patience = (ms: number) => {
        bound = setTimeout(() => passed(), ms)
        bound.unref()
      }
      let unpartitioned = messages.length
      let cold = false
      messages.forEach((message, index) => {
        partitions[index] = typeof message.partition === 'number' ? message.partition : null
        this.onPartitioned.set(message, (topic, partition) => {
          partitions[index] = partition
          const key = `${topic}\u0000${partition}`
          used.add(key)
          if (!this.warmPartitions.has(key)) cold = true
          if (--unpartitioned > 0) return
          if (cold) patience(COLD_WAIT_MAX_MS)
          else passed()
        })
      })
      const metadata = await this.kafkajsSendBatch.call(this.producer, {
        topicMessages,
        acks: request.acks,
        timeout: request.timeout,
        compression: request.compression,
      })
      for (const key of used) this.warmPartitions.add(key)
      return metadata
    } catch (error) {
      // A failure may mean a moved leader or a dropped connection: careful again with these.
      for (const key of used) this.warmPartitions.delete(key)
      throw error
    } finally {
      for (const message of messages) this.messagesInFlight.delete(message)
      clearTimeout(bound)
      passed()
      for (const topic of topics)
        if (this.lastEnteredByTopic.get(topic) === entered) this.lastEnteredByTopic.delete(topic)
      this.inFlightCount--
      this.lastUsedAt = Date.now()
    }
  }

  /**
   * The send's messages, each a distinct object. The partitioner tells partitions per message
   * object, so an application that sends one object twice (in one send, or in two at once) would
   * have both records reported at one partition. The repeat is sent as a Proxy of the object: the
   * same fields for KafkaJS, writes (an instrumentation's headers) land on the application's
   * object as in KafkaJS, and it is a key of its own.
   */
  private distinct(topicMessages: TopicMessages[]): { topicMessages: TopicMessages[]; messages: Message[] } {
    const messages: Message[] = []
    const distinctTopics = topicMessages.map(({ topic, messages: original }) => ({
      topic,
      messages: original.map((message) => {
        const own = this.messagesInFlight.has(message) ? new Proxy(message, {}) : message
        this.messagesInFlight.add(own)
        messages.push(own)
        return own
      }),
    }))
    return { topicMessages: distinctTopics, messages }
  }
}

/** Waits for `promise`, or `ms` at most (then goes on as if it had settled). */
function withinMs(promise: Promise<unknown>, ms: number): Promise<void> {
  if (ms <= 0) return Promise.resolve()
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms)
    timer.unref()
  })
  return Promise.race([promise.then(() => undefined), late]).finally(() => clearTimeout(timer))
}
