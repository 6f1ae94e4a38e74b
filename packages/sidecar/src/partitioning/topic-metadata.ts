/**
 * Partition layout per topic, from a KafkaJS admin client: how many partitions (to partition
 * keys as KafkaJS does), which are available (for null keys) and who leads each (to group
 * batches by broker). Cached for `maxAgeMs` like KafkaJS's metadataMaxAge, refreshed in the
 * background when stale; concurrent loads of one topic share one request.
 */
import type { Admin, PartitionMetadata } from 'kafkajs'
import { status } from '@grpc/grpc-js'
import { fromKafkaJSError, KafkaErrors, SidecarError } from '../errors.js'

interface Entry {
  partitions: PartitionMetadata[]
  loadedAt: number
}

export interface TopicMetadataSettings {
  readonly maxAgeMs: number
  /** Create unknown topics with the brokers' defaults, as a KafkaJS producer does by default. */
  readonly allowAutoTopicCreation: boolean
}

export class TopicMetadataCache {
  private readonly entries = new Map<string, Entry>()
  private readonly loading = new Map<string, Promise<PartitionMetadata[]>>()

  constructor(
    private readonly admin: Admin,
    private readonly settings: TopicMetadataSettings,
  ) {}

  /** Cached partitions, or undefined when the topic was never loaded. Stale entries refresh in the background. */
  cached(topic: string): PartitionMetadata[] | undefined {
    const entry = this.entries.get(topic)
    if (entry && Date.now() - entry.loadedAt > this.settings.maxAgeMs) void this.load(topic).catch(() => {})
    return entry?.partitions
  }

  leaderOf(topic: string, partition: number): number {
    return this.entries.get(topic)?.partitions.find((p) => p.partitionId === partition)?.leader ?? -1
  }

  /** `allowAutoTopicCreation` is the request's wish; null leaves it to the sidecar's setting. */
  load(topic: string, allowAutoTopicCreation: boolean | null = null): Promise<PartitionMetadata[]> {
    let pending = this.loading.get(topic)
    if (!pending) {
      pending = this.fetch(topic, allowAutoTopicCreation ?? this.settings.allowAutoTopicCreation).finally(() => this.loading.delete(topic))
      this.loading.set(topic, pending)
    }
    return pending
  }

  /**
   * Marks every topic stale after the brokers reported an error that may mean a leadership or
   * partition change; entries keep serving while they refresh in the background.
   */
  invalidateAll(): void {
    for (const entry of this.entries.values()) entry.loadedAt = 0
  }

  private async fetch(topic: string, allowAutoTopicCreation: boolean): Promise<PartitionMetadata[]> {
    let partitions: PartitionMetadata[]
    try {
      partitions = await this.describe(topic)
    } catch (error) {
      if (!isUnknownTopic(error) || !allowAutoTopicCreation) throw this.classify(topic, error)
      try {
        await this.admin.createTopics({ topics: [{ topic }], waitForLeaders: true })
        partitions = await this.describe(topic)
      } catch (createError) {
        throw this.classify(topic, createError)
      }
    }
    this.entries.set(topic, { partitions, loadedAt: Date.now() })
    return partitions
  }

  private async describe(topic: string): Promise<PartitionMetadata[]> {
    const { topics } = await this.admin.fetchTopicMetadata({ topics: [topic] })
    const found = topics.find((t) => t.name === topic)
    if (!found || found.partitions.length === 0) throw Object.assign(new Error(`topic ${topic} has no partitions`), { type: 'UNKNOWN_TOPIC_OR_PARTITION', code: 3, retriable: true })
    return found.partitions
  }

  private classify(topic: string, error: unknown): SidecarError {
    if (isUnknownTopic(error)) {
      return new SidecarError({
        grpcCode: status.NOT_FOUND,
        message: `topic "${topic}" does not exist${this.settings.allowAutoTopicCreation ? ' and could not be created' : ' (auto-creation is off)'}`,
        kafkaErrorCode: KafkaErrors.UNKNOWN_TOPIC_OR_PARTITION.code,
        kafkaErrorName: KafkaErrors.UNKNOWN_TOPIC_OR_PARTITION.name,
        retriable: true,
      })
    }
    return fromKafkaJSError(error)
  }
}

function isUnknownTopic(error: unknown): boolean {
  for (let e = error as { type?: string; cause?: unknown; originalError?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (e.type === 'UNKNOWN_TOPIC_OR_PARTITION') return true
    e = (e.originalError ?? e.cause) as typeof e
  }
  return false
}
