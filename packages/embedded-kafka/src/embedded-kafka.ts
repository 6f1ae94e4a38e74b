/**
 * A Kafka cluster in one process: N brokers on loopback sharing one in-memory state, each a real
 * TCP listener speaking the Kafka protocol. Brokers can be stopped and started again on the same
 * ports with their data, to rehearse broker failures.
 */
import { GroupCoordinator } from './groups/group-coordinator.js'
import { buildRoutes } from './handlers/index.js'
import { decodeBatchRecords, type Header } from './protocol/record-batch.js'
import { parseOptions, type EmbeddedKafkaOptions, type ResolvedOptions } from './options.js'
import { BrokerServer, type ConnectionStats } from './server/broker-server.js'
import { ClusterState, TopicOperationError, type BrokerAddress } from './state/cluster-state.js'

export interface EmbeddedRecord {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly timestamp: number
  readonly key: Buffer | null
  readonly value: Buffer | null
  /** In wire order; a name may repeat. */
  readonly headers: readonly Header[]
}

export interface BrokerInfo {
  readonly brokerId: number
  readonly host: string
  readonly port: number
  readonly running: boolean
}

export interface PartitionOffsets {
  readonly partition: number
  readonly leaderId: number
  readonly logStartOffset: number
  readonly highWatermark: number
}

export class EmbeddedKafka {
  private readonly servers: BrokerServer[]
  private stopped = false

  private constructor(
    private readonly options: ResolvedOptions,
    private readonly state: ClusterState,
    private readonly groups: GroupCoordinator,
  ) {
    const routes = buildRoutes({ maxMessageBytes: options.maxMessageBytes })
    this.servers = state.brokers.map(
      (broker) =>
        new BrokerServer(broker.id, {
          routes,
          maxRequestBytes: options.maxRequestBytes,
          log: (level, message, fields) => options.logger(level, message, { brokerId: broker.id, ...fields }),
          context: (apiVersion, clientId, clientHost, connectionClosed) => ({
            cluster: state,
            groups,
            broker,
            apiVersion,
            clientId,
            clientHost,
            connectionClosed,
            log: options.logger,
          }),
        }),
    )
  }

  /** Starts every broker and resolves once all listen. */
  static async start(options: EmbeddedKafkaOptions = {}): Promise<EmbeddedKafka> {
    const resolved = parseOptions(options)
    const brokers: BrokerAddress[] = resolved.ports.map((port, i) => ({ id: i + 1, host: resolved.host, port, alive: false }))
    const state = new ClusterState(brokers, {
      autoCreateTopics: resolved.autoCreateTopics,
      defaultPartitions: resolved.defaultPartitions,
      defaultReplicationFactor: resolved.defaultReplicationFactor,
      retentionBytes: resolved.retentionBytes,
    })
    const groups = new GroupCoordinator({
      minSessionTimeoutMs: resolved.groupMinSessionTimeoutMs,
      maxSessionTimeoutMs: resolved.groupMaxSessionTimeoutMs,
      initialRebalanceDelayMs: resolved.groupInitialRebalanceDelayMs,
    })
    const cluster = new EmbeddedKafka(resolved, state, groups)
    try {
      for (const broker of brokers) await cluster.startBroker(broker.id)
    } catch (error) {
      await cluster.stop()
      throw error
    }
    return cluster
  }

  /** host:port of every broker, running or not (clients bootstrap from any that answers). */
  get bootstrapServers(): string[] {
    return this.state.brokers.map((b) => `${b.host}:${b.port}`)
  }

  brokers(): BrokerInfo[] {
    return this.state.brokers.map((b) => ({ brokerId: b.id, host: b.host, port: b.port, running: b.alive }))
  }

  connectionStats(): ConnectionStats[] {
    return this.servers.map((s) => s.stats())
  }

  /** Starts a new measurement window: peak and total restart from the connections open now. */
  resetConnectionStats(): void {
    for (const server of this.servers) server.resetStats()
  }

  async createTopic({ topic, partitions, replicationFactor }: { topic: string; partitions?: number; replicationFactor?: number }): Promise<void> {
    this.state.createTopic(topic, partitions ?? this.options.defaultPartitions, replicationFactor ?? this.options.defaultReplicationFactor)
  }

  async deleteTopic(topic: string): Promise<void> {
    this.state.deleteTopic(topic)
    this.groups.forgetTopic(topic)
  }

  topics(): string[] {
    return [...this.state.topics.keys()]
  }

  offsets(topic: string): PartitionOffsets[] {
    return this.requireTopic(topic).partitions.map((p) => ({
      partition: p.index,
      leaderId: p.leaderId,
      logStartOffset: p.log.logStartOffset,
      highWatermark: p.log.endOffset,
    }))
  }

  /** Every retained record of `topic`, decoded, ordered by partition then offset. */
  async records(topic: string): Promise<EmbeddedRecord[]> {
    const out: EmbeddedRecord[] = []
    for (const partition of this.requireTopic(topic).partitions) {
      for (const batch of partition.log.retained()) {
        for (const record of decodeBatchRecords(batch.bytes)) out.push({ topic, partition: partition.index, ...record })
      }
    }
    return out
  }

  /** Committed offset of a consumer group for one partition, or undefined. */
  committedOffset(groupId: string, topic: string, partition: number): number | undefined {
    return this.groups.committed(groupId, topic, partition)?.offset
  }

  private requireTopic(topic: string) {
    const found = this.state.topics.get(topic)
    if (!found) throw new TopicOperationError(3, `Topic '${topic}' does not exist.`)
    return found
  }

  private broker(brokerId: number): { address: BrokerAddress; server: BrokerServer } {
    const index = this.state.brokers.findIndex((b) => b.id === brokerId)
    if (index < 0) throw new RangeError(`no broker with id ${brokerId}; ids are ${this.state.brokers.map((b) => b.id).join(', ')}`)
    return { address: this.state.brokers[index]!, server: this.servers[index]! }
  }

  /**
   * Stops one broker as a crash would: its connections drop, and its partitions fail over to
   * another live replica (or go offline when it was the only one).
   */
  async stopBroker(brokerId: number): Promise<void> {
    const { address, server } = this.broker(brokerId)
    address.alive = false
    this.state.electLeaders()
    await server.stop()
  }

  /** Starts a stopped broker again on the same port, with the data it had. */
  async startBroker(brokerId: number): Promise<void> {
    if (this.stopped) throw new Error('the cluster was stopped; start a new one')
    const { address, server } = this.broker(brokerId)
    if (server.listening) return
    address.port = await server.listen(address.host, address.port)
    address.alive = true
    this.state.electLeaders()
  }

  /** Stops every broker, keeping data, so the whole cluster can be started again. */
  async stopBrokers(): Promise<void> {
    await Promise.all(this.state.brokers.map((b) => this.stopBroker(b.id)))
  }

  async startBrokers(): Promise<void> {
    for (const b of this.state.brokers) await this.startBroker(b.id)
  }

  /** Stops everything for good: listeners, connections, group timers. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.groups.shutdown()
    await Promise.all(this.servers.map((s) => s.stop()))
    for (const b of this.state.brokers) b.alive = false
  }
}
