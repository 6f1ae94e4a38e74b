/**
 * Partition layout per topic, from the brokers' Metadata answer: how many partitions (to
 * partition keys as KafkaJS does), which are available (for null keys) and who leads each (to
 * group batches by broker). Cached for `maxAgeMs` like KafkaJS's metadataMaxAge, refreshed in the
 * background when stale; concurrent loads of one topic share one request.
 *
 * An unknown topic is created only by the brokers, as for a direct KafkaJS producer: the
 * Metadata request carries allow_auto_topic_creation (the request's, else the sidecar's default,
 * true as in KafkaJS), and the brokers' auto.create.topics.enable decides. The sidecar never
 * creates a topic itself, so switching a producer to sidecar mode creates nothing that direct
 * mode would not.
 */
import type { PartitionMetadata } from 'kafkajs'
import { status } from '@grpc/grpc-js'
import { fromKafkaJSError, KafkaErrors, SidecarError } from '../errors.js'
import type { TopicMetadataSource } from '../kafka/shared-cluster.js'

interface Entry {
  partitions: PartitionMetadata[]
  loadedAt: number
  /** The flag it was loaded with, for background refreshes. */
  readonly allowAutoTopicCreation: boolean
}

export interface TopicMetadataSettings {
  readonly maxAgeMs: number
  /** allow_auto_topic_creation for requests that do not say, as a KafkaJS producer's default (true). */
  readonly allowAutoTopicCreation: boolean
}

export class TopicMetadataCache {
  private readonly entries = new Map<string, Entry>()
  /** In-flight loads, by flag then topic: a load that may create a topic is not one that may not. */
  private readonly loading = new Map<boolean, Map<string, Promise<PartitionMetadata[]>>>([
    [true, new Map()],
    [false, new Map()],
  ])

  constructor(
    private readonly source: TopicMetadataSource,
    private readonly settings: TopicMetadataSettings,
  ) {}

  /** Cached partitions, or undefined when the topic was never loaded. Stale entries refresh in the background. */
  cached(topic: string): PartitionMetadata[] | undefined {
    const entry = this.entries.get(topic)
    if (entry && Date.now() - entry.loadedAt > this.settings.maxAgeMs)
      void this.load(topic, entry.allowAutoTopicCreation).catch(() => {})
    return entry?.partitions
  }

  leaderOf(topic: string, partition: number): number {
    return this.entries.get(topic)?.partitions.find((p) => p.partitionId === partition)?.leader ?? -1
  }

  /** `allowAutoTopicCreation` is the request's wish; null leaves it to the sidecar's setting. */
  load(topic: string, allowAutoTopicCreation: boolean | null = null): Promise<PartitionMetadata[]> {
    const allow = allowAutoTopicCreation ?? this.settings.allowAutoTopicCreation
    const loading = this.loading.get(allow)!
    let pending = loading.get(topic)
    if (!pending) {
      pending = this.fetch(topic, allow).finally(() => loading.delete(topic))
      loading.set(topic, pending)
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
      partitions = await this.source(topic, allowAutoTopicCreation)
    } catch (error) {
      throw classify(topic, allowAutoTopicCreation, error)
    }
    if (partitions.length === 0) throw unknownTopic(topic, allowAutoTopicCreation)
    this.entries.set(topic, { partitions, loadedAt: Date.now(), allowAutoTopicCreation })
    return partitions
  }
}

/**
 * The refusal for a topic the brokers do not have (and did not create): KafkaJS's error for it,
 * UNKNOWN_TOPIC_OR_PARTITION, retriable, so a client throws what a direct producer throws.
 */
function unknownTopic(topic: string, allowAutoTopicCreation: boolean): SidecarError {
  return new SidecarError({
    grpcCode: status.NOT_FOUND,
    message: `topic "${topic}" does not exist${allowAutoTopicCreation ? ' (the brokers did not create it: their auto.create.topics.enable is off)' : ' (this request does not allow auto-creation)'}`,
    kafka: KafkaErrors.UNKNOWN_TOPIC_OR_PARTITION,
    retriable: true,
  })
}

function classify(topic: string, allowAutoTopicCreation: boolean, error: unknown): SidecarError {
  return isUnknownTopic(error) ? unknownTopic(topic, allowAutoTopicCreation) : fromKafkaJSError(error)
}

function isUnknownTopic(error: unknown): boolean {
  for (
    let e = error as { type?: string; cause?: unknown; originalError?: unknown } | undefined, depth = 0;
    e && depth < 5;
    depth++
  ) {
    if (e.type === KafkaErrors.UNKNOWN_TOPIC_OR_PARTITION.name) return true
    e = (e.originalError ?? e.cause) as typeof e
  }
  return false
}
