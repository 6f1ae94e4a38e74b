/**
 * Everything the cluster knows, shared by all brokers: topics and their logs, consumer groups,
 * producer ids. Brokers are network front ends onto this state, so stopping and restarting one
 * keeps its data, and a partition's leader answers for it while any other broker refuses it.
 */
import { randomBytes } from 'node:crypto'
import { ErrorCode, type ErrorCodeValue } from '../protocol/error-codes.js'
import { topicNameProblem } from './topic-name.js'
import { Partition, Topic } from './topic.js'

export interface BrokerAddress {
  readonly id: number
  readonly host: string
  port: number
  alive: boolean
}

export interface ClusterSettings {
  readonly autoCreateTopics: boolean
  readonly defaultPartitions: number
  readonly defaultReplicationFactor: number
  readonly retentionBytes: number
  /** message.max.bytes: Produce refuses larger batches with MESSAGE_TOO_LARGE. */
  readonly maxMessageBytes: number
}

/** A refused topic operation, carrying the Kafka error code the API reports. */
export class TopicOperationError extends Error {
  override name = 'TopicOperationError'
  constructor(
    readonly errorCode: ErrorCodeValue,
    message: string,
  ) {
    super(message)
  }
}

export class ClusterState {
  readonly clusterId = randomBytes(16).toString('base64url').slice(0, 22)
  readonly topics = new Map<string, Topic>()
  private nextLeaderIndex = 0
  private nextProducerId = 1000

  constructor(
    readonly brokers: readonly BrokerAddress[],
    readonly settings: ClusterSettings,
  ) {}

  liveBrokers(): BrokerAddress[] {
    return this.brokers.filter((b) => b.alive)
  }

  /** Kafka elects a controller among live brokers; the lowest id is as good as any and stable. */
  controllerId(): number {
    return this.liveBrokers()[0]?.id ?? -1
  }

  isAlive(brokerId: number): boolean {
    return this.brokers.some((b) => b.id === brokerId && b.alive)
  }

  /** Throws TopicOperationError when createTopic would refuse; used by validate-only requests too. */
  validateNewTopic(name: string, partitions: number, replicationFactor: number): void {
    const problem = topicNameProblem(name)
    if (problem) throw new TopicOperationError(ErrorCode.INVALID_TOPIC_EXCEPTION, problem)
    if (this.topics.has(name))
      throw new TopicOperationError(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${name}' already exists.`)
    if (!Number.isInteger(partitions) || partitions < 1) {
      throw new TopicOperationError(
        ErrorCode.INVALID_PARTITIONS,
        `Number of partitions must be larger than 0, got ${partitions}.`,
      )
    }
    if (!Number.isInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > this.brokers.length) {
      throw new TopicOperationError(
        ErrorCode.INVALID_REPLICATION_FACTOR,
        `Replication factor must be between 1 and the number of brokers (${this.brokers.length}), got ${replicationFactor}.`,
      )
    }
  }

  createTopic(name: string, partitions: number, replicationFactor = this.settings.defaultReplicationFactor): Topic {
    this.validateNewTopic(name, partitions, replicationFactor)
    const topic = new Topic(name, replicationFactor)
    this.topics.set(name, topic)
    this.addPartitionsTo(topic, partitions)
    return topic
  }

  /** Throws TopicOperationError when createPartitions would refuse. */
  validatePartitionIncrease(name: string, totalCount: number): Topic {
    const topic = this.topics.get(name)
    if (!topic) throw new TopicOperationError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${name}' does not exist.`)
    if (!Number.isInteger(totalCount) || totalCount <= topic.partitions.length) {
      throw new TopicOperationError(
        ErrorCode.INVALID_PARTITIONS,
        `Topic currently has ${topic.partitions.length} partitions, ${totalCount} would not be an increase.`,
      )
    }
    return topic
  }

  /** Grows a topic to `totalCount` partitions (CreatePartitions semantics: only up). */
  createPartitions(name: string, totalCount: number): Topic {
    const topic = this.validatePartitionIncrease(name, totalCount)
    this.addPartitionsTo(topic, totalCount - topic.partitions.length)
    return topic
  }

  private addPartitionsTo(topic: Topic, count: number): void {
    const brokerCount = this.brokers.length
    for (let i = 0; i < count; i++) {
      // Round-robin leaders across brokers, continuing where the last topic stopped, so leadership
      // spreads evenly (Kafka starts at a random broker; a counter keeps tests deterministic).
      const first = this.nextLeaderIndex++ % brokerCount
      const replicas = Array.from(
        { length: topic.replicationFactor },
        (_, r) => this.brokers[(first + r) % brokerCount]!.id,
      )
      const partition = new Partition(topic.name, topic.partitions.length, replicas, this.settings.retentionBytes)
      this.electLeader(partition)
      topic.partitions.push(partition)
    }
  }

  /**
   * Re-elects every partition's leader after a broker stopped or started: the preferred replica
   * when alive, else the next live replica (clean failover: all replicas share one log), else
   * none. A restarted broker takes its preferred partitions back at once, which Kafka does later
   * through auto.leader.rebalance.
   */
  electLeaders(): void {
    for (const topic of this.topics.values()) for (const partition of topic.partitions) this.electLeader(partition)
  }

  private electLeader(partition: Partition): void {
    const leader = partition.replicaIds.find((id) => this.isAlive(id)) ?? -1
    if (leader !== partition.leaderId) {
      partition.leaderId = leader
      partition.leaderEpoch++
    }
  }

  deleteTopic(name: string): void {
    if (!this.topics.delete(name))
      throw new TopicOperationError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${name}' does not exist.`)
  }

  /** The topic, auto-creating it when allowed (as Metadata does on a broker with auto-create on). */
  topicForMetadata(name: string, allowAutoCreate: boolean): Topic | undefined {
    const existing = this.topics.get(name)
    if (existing || !allowAutoCreate || !this.settings.autoCreateTopics) return existing
    return this.createTopic(name, this.settings.defaultPartitions)
  }

  partition(topic: string, index: number): Partition | undefined {
    return this.topics.get(topic)?.partitions[index]
  }

  allocateProducerId(): number {
    return this.nextProducerId++
  }
}
