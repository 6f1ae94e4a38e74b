/**
 * A Kafka cluster in one process: N brokers on loopback sharing one in-memory state, each a real
 * TCP listener speaking the Kafka protocol. Brokers can be stopped and started again on the same
 * ports with their data, to rehearse broker failures; other faults (lost Produce answers, refused
 * producer ids, a refused consumer group) can be armed to rehearse what clients do about them.
 */
import { ROUTES } from './apis/index.js'
import {
  Faults,
  type InjectedFault,
  type LoseProduceResponsesOptions,
  type RefuseGroupOptions,
  type RefuseProducePartitionOptions,
  type RefuseProducerIdsOptions,
} from './faults/faults.js'
import { GroupCoordinator } from './groups/group-coordinator.js'
import { compressionName, decodeBatchRecords, readBatchHeader, type Header } from './protocol/record-batch.js'
import { parseOptions, type EmbeddedKafkaOptions, type ResolvedOptions } from './options.js'
import { BrokerServer, type ConnectionStats } from './server/broker-server.js'
import { ClusterState, TopicOperationError, type BrokerAddress } from './state/cluster-state.js'
import type { TransactionOutcome } from './state/partition-transactions.js'
import { TransactionCoordinator, type TransactionInfo } from './transactions/transaction-coordinator.js'
import { brokerTls, type BrokerTls } from './tls/broker-tls.js'
import { saslMechanisms } from './sasl/sasl-options.js'
import type { ClientCertificateOptions, IssuedCertificate } from './tls/certificate-authority.js'

export interface EmbeddedRecord {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly timestamp: number
  readonly key: Buffer | null
  readonly value: Buffer | null
  /** In wire order; a name may repeat. */
  readonly headers: readonly Header[]
  /**
   * Only on records written in a transaction: 'open' until its EndTxn (or timeout), then
   * 'committed' or 'aborted'. Non-transactional records have no such property.
   */
  readonly transaction?: TransactionOutcome
}

/**
 * What a record batch's header says, as stored: what a consumer's decoder reads but rarely shows
 * (how it was compressed, whose timestamp it carries, whether an idempotent or transactional
 * producer wrote it).
 */
export interface EmbeddedBatch {
  readonly topic: string
  readonly partition: number
  readonly baseOffset: number
  readonly lastOffset: number
  readonly recordCount: number
  /** 'none', 'gzip', ... as the producer compressed it. */
  readonly compression: string
  readonly timestampType: 'CreateTime' | 'LogAppendTime'
  /** -1 unless an idempotent or transactional producer wrote it. */
  readonly producerId: number
  readonly producerEpoch: number
  readonly baseSequence: number
  readonly transactional: boolean
}

export interface RecordsOptions {
  /**
   * 'read_uncommitted' (default): every data record retained, whatever its transaction's fate.
   * 'read_committed': what a read_committed consumer can see: records below the last stable
   * offset, aborted ones left out.
   */
  readonly isolation?: 'read_uncommitted' | 'read_committed'
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
  /** First offset of the earliest open transaction, or the high watermark when none is open. */
  readonly lastStableOffset: number
}

export class EmbeddedKafka {
  private readonly servers: BrokerServer[]
  private readonly faults = new Faults()
  private stopped = false

  private constructor(
    private readonly options: ResolvedOptions,
    private readonly state: ClusterState,
    private readonly groups: GroupCoordinator,
    private readonly transactionCoordinator: TransactionCoordinator,
    private readonly tls: BrokerTls | undefined,
  ) {
    const sasl = saslMechanisms(options.sasl)
    this.servers = state.brokers.map(
      (broker) =>
        new BrokerServer(broker.id, {
          tls: tls?.serverOptions,
          sasl,
          routes: ROUTES,
          maxRequestBytes: options.maxRequestBytes,
          log: (level, message, fields) => options.logger(level, message, { brokerId: broker.id, ...fields }),
          context: (facts) => ({
            cluster: state,
            groups,
            transactions: transactionCoordinator,
            faults: this.faults,
            broker,
            ...facts,
            log: options.logger,
          }),
        }),
    )
  }

  /** Starts every broker and resolves once all listen. */
  static async start(options: EmbeddedKafkaOptions = {}): Promise<EmbeddedKafka> {
    const resolved = parseOptions(options)
    const brokers: BrokerAddress[] = resolved.ports.map((port, i) => ({
      id: i + 1,
      host: resolved.host,
      port,
      alive: false,
    }))
    const state = new ClusterState(brokers, {
      autoCreateTopics: resolved.autoCreateTopics,
      defaultPartitions: resolved.defaultPartitions,
      defaultReplicationFactor: resolved.defaultReplicationFactor,
      retentionBytes: resolved.retentionBytes,
      maxMessageBytes: resolved.maxMessageBytes,
    })
    const groups = new GroupCoordinator({
      minSessionTimeoutMs: resolved.groupMinSessionTimeoutMs,
      maxSessionTimeoutMs: resolved.groupMaxSessionTimeoutMs,
      initialRebalanceDelayMs: resolved.groupInitialRebalanceDelayMs,
    })
    const transactions = new TransactionCoordinator(state, groups, { maxTimeoutMs: resolved.transactionMaxTimeoutMs })
    const cluster = new EmbeddedKafka(resolved, state, groups, transactions, await brokerTls(resolved))
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

  /**
   * The CA certificate (PEM) that signed the brokers' certificate, for clients to trust (KafkaJS
   * `ssl: { ca: [caCertificate] }`, librdkafka `ssl.ca.location`); undefined without TLS, or when
   * `tlsCertFile` was given without `tlsCaFile`.
   */
  get caCertificate(): string | undefined {
    return this.tls?.caCertificate
  }

  /** What a client names as `security.protocol` to connect. */
  get securityProtocol(): 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL' {
    const transport = this.tls ? 'SSL' : 'PLAINTEXT'
    return this.options.sasl.length > 0 ? `SASL_${transport}` : transport
  }

  /** The SASL mechanisms the listeners enable (Kafka's `sasl.enabled.mechanisms`), upper case. */
  get saslMechanisms(): string[] {
    return [...new Set(this.options.sasl.map((entry) => entry.mechanism.toUpperCase()))]
  }

  /**
   * A client certificate and key (PEM) signed by the cluster's throwaway CA, for mutual TLS. Past
   * `notAfter` it is expired, and refused. Only when the CA was made here (`tls`, no `tlsCertFile`).
   */
  issueClientCertificate(options: ClientCertificateOptions = {}): Promise<IssuedCertificate> {
    const authority = this.tls?.authority
    if (!authority) throw new Error('no throwaway CA: start the cluster with tls (and without tlsCertFile)')
    return authority.issueClientCertificate(options)
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

  async createTopic({
    topic,
    partitions,
    replicationFactor,
  }: {
    topic: string
    partitions?: number
    replicationFactor?: number
  }): Promise<void> {
    this.state.createTopic(
      topic,
      partitions ?? this.options.defaultPartitions,
      replicationFactor ?? this.options.defaultReplicationFactor,
    )
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
      lastStableOffset: p.lastStableOffset,
    }))
  }

  /**
   * Every retained data record of `topic`, decoded, ordered by partition then offset. Control
   * records (transaction markers) are never included; transactional records say how their
   * transaction ended. With `{ isolation: 'read_committed' }`, only what a read_committed
   * consumer would see.
   */
  async records(topic: string, options: RecordsOptions = {}): Promise<EmbeddedRecord[]> {
    const readCommitted = options.isolation === 'read_committed'
    const out: EmbeddedRecord[] = []
    for (const partition of this.requireTopic(topic).partitions) {
      const lastStableOffset = partition.lastStableOffset
      for (const batch of partition.log.retained()) {
        if (readCommitted && batch.baseOffset >= lastStableOffset) break
        const header = readBatchHeader(batch.bytes)
        for (const record of decodeBatchRecords(batch.bytes)) {
          if (!header.isTransactional) {
            out.push({ topic, partition: partition.index, ...record })
            continue
          }
          const transaction = partition.transactions.outcomeOf(header.producerId, record.offset)
          if (readCommitted && transaction === 'aborted') continue
          out.push({ topic, partition: partition.index, ...record, transaction })
        }
      }
    }
    return out
  }

  /** The header of every retained data batch of `topic`, ordered by partition then offset (transaction markers left out). */
  batches(topic: string): EmbeddedBatch[] {
    const out: EmbeddedBatch[] = []
    for (const partition of this.requireTopic(topic).partitions) {
      for (const batch of partition.log.retained()) {
        const header = readBatchHeader(batch.bytes)
        if (header.isControl) continue
        out.push({
          topic,
          partition: partition.index,
          baseOffset: batch.baseOffset,
          lastOffset: batch.lastOffset,
          recordCount: header.recordCount,
          compression: compressionName(header.compression),
          timestampType: (header.attributes & 0x08) !== 0 ? 'LogAppendTime' : 'CreateTime',
          producerId: header.producerId,
          producerEpoch: header.producerEpoch,
          baseSequence: header.baseSequence,
          transactional: header.isTransactional,
        })
      }
    }
    return out
  }

  /** Every transactional id the cluster has seen: its producer id and epoch, and what its open transaction spans. */
  transactions(): TransactionInfo[] {
    return this.transactionCoordinator.list()
  }

  /** Committed offset of a consumer group for one partition, or undefined. */
  committedOffset(groupId: string, topic: string, partition: number): number | undefined {
    return this.groups.committed(groupId, topic, partition)?.offset
  }

  /**
   * The group's generation id, or undefined for a group the cluster does not know. It grows by one
   * at every completed rebalance (and when the last member leaves), as Kafka's does: the number of
   * rebalances a group went through between two readings.
   */
  groupGeneration(groupId: string): number | undefined {
    return this.groups.group(groupId)?.generationId
  }

  /**
   * The id of the broker that coordinates `groupId` now (FindCoordinator's answer), or -1 with no
   * broker running. It depends on which brokers are live, as in Kafka after a failover, so a test
   * can stop the coordinator of the group it consumes with.
   */
  groupCoordinator(groupId: string): number {
    return GroupCoordinator.coordinatorFor(
      groupId,
      this.state.liveBrokers().map((b) => b.id),
    )
  }

  private requireTopic(topic: string) {
    const found = this.state.topics.get(topic)
    if (!found) throw new TopicOperationError(3, `Topic '${topic}' does not exist.`)
    return found
  }

  private broker(brokerId: number): { address: BrokerAddress; server: BrokerServer } {
    const index = this.state.brokers.findIndex((b) => b.id === brokerId)
    if (index < 0)
      throw new RangeError(`no broker with id ${brokerId}; ids are ${this.state.brokers.map((b) => b.id).join(', ')}`)
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

  /**
   * Arms a fault: the next `count` (default 1) Produce requests carrying a partition of `topic`
   * (or only `partition`) are handled as usual, their batches appended, and then their answer is
   * lost: the connection closes where it would have been written (`how: 'close'`, the default),
   * or it is written only after `delayMs` (`how: 'delay'`), past the client's request timeout if
   * that is shorter. The client cannot know its records were written and retries: an idempotent
   * producer's retry is answered with the original offsets and nothing is written twice; any
   * other retry writes the records again, as Kafka does. Requests with acks=0 have no answer to
   * lose and are not counted.
   */
  loseProduceResponses(options: LoseProduceResponsesOptions): InjectedFault {
    return this.faults.loseProduceResponses(options)
  }

  /**
   * Arms a fault: the next `count` (default 1) times `partition` of `topic` is in a Produce
   * request, that partition is answered with `errorCode` and its batch is not appended, while the
   * request's other partitions are handled as usual (a stale leader answers
   * NOT_LEADER_FOR_PARTITION so for one partition of a request). Requests with acks=0 count too.
   */
  refuseProducePartition(options: RefuseProducePartitionOptions): InjectedFault {
    return this.faults.refuseProducePartition(options)
  }

  /**
   * Arms a fault: InitProducerId requests of idempotent producers (no transactional id) are
   * answered with `errorCode` (default 31, CLUSTER_AUTHORIZATION_FAILED, what Kafka answers a
   * principal without the IdempotentWrite permission), `count` times (default: until cleared).
   */
  refuseProducerIds(options: RefuseProducerIdsOptions = {}): InjectedFault {
    return this.faults.refuseProducerIds(options)
  }

  /**
   * Arms a fault: JoinGroup, SyncGroup and Heartbeat requests of `groupId` are answered with
   * `errorCode` (default 30, GROUP_AUTHORIZATION_FAILED, what Kafka answers a principal without
   * Read on the group), `count` times (default: until cleared). A member in the group learns it at
   * its next heartbeat; KafkaJS crashes on it (restarting when the error is retriable).
   */
  refuseGroup(options: RefuseGroupOptions): InjectedFault {
    return this.faults.refuseGroup(options)
  }

  /** Disarms every fault armed with loseProduceResponses, refuseProducePartition, refuseProducerIds or refuseGroup. */
  clearFaults(): void {
    this.faults.clear()
  }

  /** Stops everything for good: listeners, connections, group and transaction timers. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.faults.clear()
    this.groups.shutdown()
    this.transactionCoordinator.shutdown()
    await Promise.all(this.servers.map((s) => s.stop()))
    for (const b of this.state.brokers) b.alive = false
  }
}
