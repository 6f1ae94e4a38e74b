/**
 * The KafkaJS consumer behind a group member: subscribed to the member's subscriptions, run with
 * autoCommit off and an eachBatch that hands the batch on (unless stale), heartbeats and returns,
 * so KafkaJS resolves it and fetches on at once. Its group events (GROUP_JOIN, REBALANCING, CRASH) are handed
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
  /**
   * The group rebalances (a heartbeat in eachBatch said so): resolves when KafkaJS may rejoin.
   * `keepAlive` heartbeats (at most once per heartbeat interval) so the member's session holds
   * while it waits.
   */
  beforeRejoin(keepAlive: () => Promise<void>): Promise<void>
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
      // A stale batch (fetched before a seek of its partition) is skipped, as KafkaJS's own
      // consumers skip it; the heartbeat here lets a rebalance wait for the processes (see
      // beforeRejoin) before KafkaJS rejoins.
      eachBatch: async ({ batch, isStale, heartbeat }) => {
        if (!isStale()) this.events.onBatch(batch)
        await this.heartbeat(heartbeat)
      },
    })
  }

  private async heartbeat(heartbeat: () => Promise<void>): Promise<void> {
    try {
      await heartbeat()
    } catch (error) {
      // The broker still counts a heartbeat answered REBALANCE_IN_PROGRESS: the session holds.
      if (isRebalancing(error)) await this.events.beforeRejoin(() => heartbeat().catch(() => {}))
      throw error
    }
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

/** KafkaJS's own test (errors.js isRebalancing): the errors on which its runner rejoins the group. */
function isRebalancing(error: unknown): boolean {
  const type = (error as { type?: string }).type
  return type === 'REBALANCE_IN_PROGRESS' || type === 'NOT_COORDINATOR_FOR_GROUP' || type === 'ILLEGAL_GENERATION'
}
