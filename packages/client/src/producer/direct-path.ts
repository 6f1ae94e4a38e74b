/**
 * The direct path: KafkaJS's own producer, built from the application's own Kafka config and
 * producer config. It is the whole producer in direct mode and the fallback in sidecar mode,
 * where it connects on first need and is disconnected again after a quiet period.
 *
 * To report each record's partition and offset, the partitioner KafkaJS runs is wrapped: it
 * still decides, and the wrapper remembers its answer per message object. KafkaJS keeps send
 * order within a partition, so a record's offset is its partition's base offset plus its rank.
 */
import kafkajs from 'kafkajs'
import type { Kafka, Message, PartitionerArgs, Producer, ProducerConfig, RecordMetadata, TopicMessages } from 'kafkajs'
import type { DeliveryReport } from '../delivery/delivery-report.js'
import type { OutgoingMessage } from './messages.js'

let partitionerWarningGiven = false

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
  private readonly chosenPartition = new WeakMap<Message, number>()
  private connection: Promise<void> | null = null
  private connectedFlag = false
  private inFlightCount = 0
  lastUsedAt = 0

  constructor(kafka: Kafka, config: ProducerConfig) {
    // KafkaJS warns (once per process) when no partitioner is named; the wrapper below always
    // names one, so the warning is given here instead, word for word.
    if (config.createPartitioner == null) warnOfDefaultPartitioner(kafka)
    const createPartitioner = config.createPartitioner ?? kafkajs.Partitioners.DefaultPartitioner
    this.producer = kafka.producer({
      ...config,
      createPartitioner: () => {
        const partitioner = createPartitioner()
        return (args: PartitionerArgs) => {
          const partition = partitioner(args)
          this.chosenPartition.set(args.message, partition)
          return partition
        }
      },
    })
  }

  get isConnected(): boolean {
    return this.connectedFlag
  }

  get inFlight(): number {
    return this.inFlightCount
  }

  /** Connects once; concurrent callers share the attempt, a failed attempt can be retried. */
  connect(): Promise<void> {
    if (!this.connection) {
      this.connection = this.producer.connect().then(
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

  async disconnect(): Promise<void> {
    if (!this.connection) return
    const connecting = this.connection
    this.connection = null
    this.connectedFlag = false
    await connecting.catch(() => {})
    await this.producer.disconnect()
  }

  async send(request: DirectSend): Promise<RecordMetadata[]> {
    this.inFlightCount++
    this.lastUsedAt = Date.now()
    try {
      await this.connect()
      return await this.producer.sendBatch({ topicMessages: request.topicMessages, acks: request.acks, timeout: request.timeout, compression: request.compression })
    } finally {
      this.inFlightCount--
      this.lastUsedAt = Date.now()
    }
  }

  /** One report per record of a successful send, in send order. */
  reportsFor(outgoing: readonly OutgoingMessage[], metadata: readonly RecordMetadata[]): DeliveryReport[] {
    const byPartition = new Map<string, { base: number | null; next: number }>()
    for (const m of metadata) {
      const base = m.baseOffset ?? m.offset
      byPartition.set(`${m.topicName}\u0000${m.partition}`, { base: base === undefined ? null : Number(base), next: 0 })
    }
    return outgoing.map(({ topic, message }) => {
      const partition = this.partitionOf(message)
      const slot = partition === null ? undefined : byPartition.get(`${topic}\u0000${partition}`)
      const offset = slot && slot.base !== null && slot.base >= 0 ? String(slot.base + slot.next++) : null
      return { topic, partition, offset, key: message.key ?? null, headers: message.headers, error: null, path: 'direct' as const }
    })
  }

  partitionOf(message: Message): number | null {
    return this.chosenPartition.get(message) ?? (typeof message.partition === 'number' ? message.partition : null)
  }
}
