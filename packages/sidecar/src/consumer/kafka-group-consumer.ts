/**
 * The KafkaJS consumer behind a group member: subscribed to the member's subscriptions, run with
 * autoCommit off and an eachBatch that only hands the batch on and returns, so KafkaJS resolves it,
 * heartbeats and fetches on at once. Its group events (GROUP_JOIN, REBALANCING, CRASH) are handed
 * on as they come.
 */
import type { Batch, Consumer, ConsumerConfig, GroupDescription, Logger } from 'kafkajs'
import type { SubscriptionSet } from './subscriptions.js'

/** KafkaJS's GROUP_JOIN payload. */
export interface GroupJoin {
  readonly memberId: string
  readonly leaderId: string
  readonly isLeader: boolean
  readonly memberAssignment: Readonly<Record<string, readonly number[]>>
  readonly groupProtocol: string
  readonly duration: number
}

export interface GroupConsumerEvents {
  onBatch(batch: Batch): void
  onJoin(join: GroupJoin): void
  onRebalancing(): void
  onCrash(error: Error, restarting: boolean): void
}

export class KafkaGroupConsumer {
  private readonly consumer: Consumer
  private stopped: Promise<void> | null = null

  constructor(
    createConsumer: (config: ConsumerConfig) => Consumer,
    config: ConsumerConfig,
    private readonly subscriptions: SubscriptionSet,
    private readonly events: GroupConsumerEvents,
    private readonly log: Logger,
  ) {
    this.consumer = createConsumer(config)
    const { GROUP_JOIN, REBALANCING, CRASH } = this.consumer.events
    this.consumer.on(GROUP_JOIN, ({ payload }) => events.onJoin(payload as GroupJoin))
    this.consumer.on(REBALANCING, () => events.onRebalancing())
    this.consumer.on(CRASH, ({ payload }) => events.onCrash(payload.error, payload.restart))
  }

  /** Connects, subscribes (KafkaJS resolves patterns now) and runs; rejects when any step fails. */
  async start(): Promise<void> {
    await this.consumer.connect()
    for (const s of this.subscriptions.entries)
      await this.consumer.subscribe({ topics: [s.topic ?? s.pattern!], fromBeginning: s.fromBeginning })
    await this.consumer.run({
      autoCommit: false,
      // KafkaJS resolves the batch's last offset when this returns: the records are in the feeds.
      eachBatch: async ({ batch }) => this.events.onBatch(batch),
    })
  }

  pause(topic: string, partition: number): void {
    this.whileRunning('pause', () => this.consumer.pause([{ topic, partitions: [partition] }]))
  }

  resume(topic: string, partition: number): void {
    this.whileRunning('resume', () => this.consumer.resume([{ topic, partitions: [partition] }]))
  }

  seek(topic: string, partition: number, offset: number): void {
    this.whileRunning('seek', () => this.consumer.seek({ topic, partition, offset: String(offset) }))
  }

  async commit(offsets: ReadonlyArray<{ topic: string; partition: number; offset: number }>): Promise<void> {
    await this.consumer.commitOffsets(offsets.map((o) => ({ ...o, offset: String(o.offset) })))
  }

  describe(): Promise<GroupDescription> {
    return this.consumer.describeGroup()
  }

  /** Leaves the group and closes the consumer's connections. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= this.consumer.disconnect().catch((error: unknown) => {
      this.log.warn('consumer disconnect failed', { error: (error as Error).message })
    })
    return this.stopped
  }

  /** Between a crash and KafkaJS's restart there is no consumer group to pause or seek in. */
  private whileRunning(what: string, action: () => void): void {
    try {
      action()
    } catch (error) {
      this.log.debug(`${what} skipped: the consumer is not running`, { error: (error as Error).message })
    }
  }
}
