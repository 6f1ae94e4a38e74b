/**
 * Consumer lag of the partitions the sidecar's group members are assigned: the high watermark
 * less the group's committed offset, Kafka's own definition (what kafka-consumer-groups.sh and
 * lag exporters show), so the numbers agree with the tools operators already use.
 *
 * Two sources, each the freshest it can be: the member's own knowledge (the high watermark of the
 * last fetch, the offset it last committed) moves at once with consumption; the brokers' answer
 * (ListOffsets and OffsetFetch through the admin client, asked at each scrape) covers what the
 * member cannot see: a partition paused in KafkaJS because its buffer is full fetches nothing, so
 * its fetched high watermark would stand still exactly while lag grows, and an idle partition
 * never fetched or committed since the assignment has no offsets of the member's at all.
 *
 * A scrape waits for the brokers at most `waitMs` and otherwise shows what the last answer said;
 * one read is in flight at a time, so a slow cluster never piles requests up.
 */
import type { Admin } from 'kafkajs'

/** What the lag is read with: the admin client's two calls. */
export type LagSource = Pick<Admin, 'fetchTopicOffsets' | 'fetchOffsets'>

/** One partition a member is assigned, as the member knows it. */
export interface AssignedPartition {
  readonly topic: string
  readonly partition: number
  /** The high watermark of the member's last fetch of it (-1: none). */
  readonly highWatermark: number
  /** The offset the member last committed for it (null: none since the assignment). */
  readonly committed: number | null
  /** Where the member started reading it (null: nothing fetched yet). */
  readonly startOffset: number | null
}

export interface GroupAssignment {
  readonly groupId: string
  readonly partitions: readonly AssignedPartition[]
}

export interface PartitionLag {
  readonly groupId: string
  readonly topic: string
  readonly partition: number
  readonly lag: number
}

export class LagReader {
  /** High watermarks by topic and partition, from the last answer of the brokers. */
  private highs = new Map<string, number>()
  /** Committed offsets by group, topic and partition, from the last answer of the brokers. */
  private committed = new Map<string, number>()
  private reading: Promise<void> | null = null

  constructor(
    private readonly source: LagSource,
    private readonly waitMs: number,
  ) {}

  /**
   * The lag of every partition whose high watermark and committed offset are known. A group that
   * never committed a partition counts from where the member started reading it (Kafka's reset
   * position, what a restart would read from too); a partition with neither, or whose high
   * watermark nobody told, has no lag yet. `askBrokers` false (not connected to Kafka, shutting
   * down) uses what the brokers said last: the admin client is not made to reconnect for a scrape.
   */
  async read(groups: readonly GroupAssignment[], askBrokers = true): Promise<PartitionLag[]> {
    if (askBrokers && groups.length > 0) {
      this.reading ??= this.ask(groups).finally(() => (this.reading = null))
      await Promise.race([this.reading, new Promise((resolve) => setTimeout(resolve, this.waitMs).unref())])
    }
    const lags: PartitionLag[] = []
    for (const { groupId, partitions } of groups) {
      for (const p of partitions) {
        const high = Math.max(p.highWatermark, this.highs.get(partitionKey(p.topic, p.partition)) ?? -1)
        const committed = p.committed ?? this.committed.get(groupKey(groupId, p.topic, p.partition)) ?? p.startOffset
        if (high < 0 || committed === null) continue
        lags.push({ groupId, topic: p.topic, partition: p.partition, lag: Math.max(0, high - committed) })
      }
    }
    return lags
  }

  /** Asks the brokers for the assigned partitions' high watermarks and committed offsets; failures keep the last answer. */
  private async ask(groups: readonly GroupAssignment[]): Promise<void> {
    const topics = [...new Set(groups.flatMap((g) => g.partitions.map((p) => p.topic)))]
    const highs = new Map<string, number>()
    const committed = new Map<string, number>()
    await Promise.all([
      ...topics.map(async (topic) => {
        const offsets = await this.source.fetchTopicOffsets(topic).catch(() => null)
        if (!offsets) return this.keep(this.highs, highs, (key) => key.startsWith(`${topic}\u0000`))
        for (const o of offsets) highs.set(partitionKey(topic, o.partition), Number(o.high))
      }),
      ...groups.map(async ({ groupId, partitions }) => {
        const groupTopics = [...new Set(partitions.map((p) => p.topic))]
        if (groupTopics.length === 0) return
        const answer = await this.source.fetchOffsets({ groupId, topics: groupTopics }).catch(() => null)
        if (!answer) return this.keep(this.committed, committed, (key) => key.startsWith(`${groupId}\u0000`))
        for (const { topic, partitions: offsets } of answer)
          for (const o of offsets) {
            // -1: the group has no committed offset for the partition.
            const offset = Number(o.offset)
            if (offset >= 0) committed.set(groupKey(groupId, topic, o.partition), offset)
          }
      }),
    ])
    // Only what is assigned now is kept: the maps never outgrow the members' assignments.
    this.highs = highs
    this.committed = committed
  }

  /** A failed read keeps the previous answer for what it asked about. */
  private keep(from: Map<string, number>, to: Map<string, number>, matches: (key: string) => boolean): void {
    for (const [key, value] of from) if (matches(key)) to.set(key, value)
  }
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`
}

function groupKey(groupId: string, topic: string, partition: number): string {
  return `${groupId}\u0000${topic}\u0000${partition}`
}
