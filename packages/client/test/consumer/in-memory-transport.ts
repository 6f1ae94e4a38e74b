/**
 * A test double of the consumer's own ConsumeTransport interface (not of grpc-js or KafkaJS): it
 * keeps what the consumer sends and lets a test play the sidecar, one event at a time.
 */
import type {
  Assigned,
  Batch,
  BatchDone,
  CommitOffsets,
  ConsumedRecord,
  DescribeGroupResponse,
  JoinGroup,
  OwnedPartition,
  PartitionsReleased,
  PausePartitions,
  ProcessedOffset,
  ResumePartitions,
  SeekPartition,
} from '@kafka-sidecar/proto'
import kafkajs from 'kafkajs'
import type { ConsumeListener, ConsumeTransport } from '../../src/consumer/consume-transport.js'
import { createConsumerMetrics } from '../../src/consumer/consumer-metrics.js'
import type { ResolvedConsumerOptions } from '../../src/consumer/consumer-mode.js'
import { ConsumerCluster } from '../../src/consumer/consumer-cluster.js'
import { SidecarConsumer } from '../../src/consumer/sidecar-consumer.js'
import type { ConsumerConfig, RetryOptions } from 'kafkajs'
import { waitFor } from '@kafka-sidecar/test-support'

export type Sent =
  | { kind: 'join'; value: JoinGroup }
  | { kind: 'progress'; value: ProcessedOffset }
  | { kind: 'done'; value: BatchDone }
  | { kind: 'commit'; value: CommitOffsets }
  | { kind: 'seek'; value: SeekPartition }
  | { kind: 'pause'; value: PausePartitions }
  | { kind: 'resume'; value: ResumePartitions }
  | { kind: 'released'; value: PartitionsReleased }
  | { kind: 'alive' }
  | { kind: 'leave' }

export class InMemoryTransport implements ConsumeTransport {
  readonly sent: Sent[] = []
  listener: ConsumeListener | null = null
  /** What `joined` grants: 0 plays a sidecar that does not pipeline (no rewinds on batches). */
  pipeline = 0
  /** Commits are answered as committed unless a test sets this. */
  autoAnswerCommits = true
  closedCount = 0
  describe: DescribeGroupResponse = {
    groupId: 'g',
    members: [],
    protocol: 'RoundRobinAssigner',
    protocolType: 'consumer',
    state: 'Stable',
    errorCode: 0,
  }
  private batchId = 0

  ready = async () => true
  join(join: JoinGroup, listener: ConsumeListener): void {
    this.listener = listener
    this.sent.push({ kind: 'join', value: join })
  }
  progress = (value: ProcessedOffset) => void this.sent.push({ kind: 'progress', value })
  done = (value: BatchDone) => void this.sent.push({ kind: 'done', value })
  commit = (value: CommitOffsets) => {
    this.sent.push({ kind: 'commit', value })
    if (this.autoAnswerCommits)
      queueMicrotask(() =>
        this.listener?.commitResult({ requestId: value.requestId, committed: value.offsets, refused: [] }),
      )
  }
  seek = (value: SeekPartition) => void this.sent.push({ kind: 'seek', value })
  pause = (value: PausePartitions) => void this.sent.push({ kind: 'pause', value })
  resume = (value: ResumePartitions) => void this.sent.push({ kind: 'resume', value })
  released = (value: PartitionsReleased) => void this.sent.push({ kind: 'released', value })
  alive = () => void this.sent.push({ kind: 'alive' })
  async leave(): Promise<void> {
    this.sent.push({ kind: 'leave' })
    const listener = this.listener
    this.listener = null
    listener?.closed(null, false)
  }
  clusterClient = () => null
  describeGroup = async () => this.describe
  close = () => void this.closedCount++

  of<K extends Sent['kind']>(kind: K): Array<Extract<Sent, { kind: K }>> {
    return this.sent.filter((s): s is Extract<Sent, { kind: K }> => s.kind === kind)
  }

  // The sidecar's side.
  assign(partitions: OwnedPartition[], extra: Partial<Assigned> = {}): void {
    this.listener!.joined({ memberId: 'pod-member', warnings: [], maxBatchesPerPartition: this.pipeline })
    this.listener!.assigned({
      partitions,
      memberId: 'pod-member',
      leaderId: 'pod-member',
      isLeader: true,
      groupProtocol: 'RoundRobinAssigner',
      joinDurationMs: 12,
      afterRebalance: false,
      ...extra,
    })
  }

  /** Delivers records (offsets from `first`) of an owned partition; returns the batch id. */
  deliver(owned: OwnedPartition, records: Array<Partial<ConsumedRecord>>, batch: Partial<Batch> = {}): number {
    const batchId = ++this.batchId
    const full = records.map((r, i) => record({ offset: i, ...r }))
    const last = full.length > 0 ? full[full.length - 1]!.offset : 0
    this.listener!.batch({
      batchId,
      topic: owned.topic,
      partition: owned.partition,
      assignmentId: owned.assignmentId,
      highWatermark: last + 1,
      records: full,
      lastOffset: last,
      redelivered: 0,
      rewinds: 0,
      ...batch,
    })
    return batchId
  }

  async doneFor(batchId: number): Promise<BatchDone> {
    await waitFor(`done for batch ${batchId}`, () => this.of('done').some((d) => d.value.batchId === batchId), 5_000)
    return this.of('done').find((d) => d.value.batchId === batchId)!.value
  }
}

export function record(fields: Partial<ConsumedRecord>): ConsumedRecord {
  return {
    offset: 0,
    key: Buffer.from('k'),
    value: Buffer.from('v'),
    headers: [],
    timestampMs: 1_700_000_000_000,
    attributes: 0,
    sizeBytes: 0,
    magicByte: 2,
    ...fields,
  }
}

/** A sidecar consumer over an in-memory transport; KafkaJS's consumer beside it is never connected. */
export function sidecarConsumer(
  config: Partial<ConsumerConfig> = {},
  retry: RetryOptions & { restartOnFailure?: (e: Error) => Promise<boolean> } = { retries: 2, initialRetryTime: 10 },
  options: Partial<ResolvedConsumerOptions> = {},
) {
  const transport = new InMemoryTransport()
  const full: ConsumerConfig = { groupId: 'g', ...config }
  const kafka = new kafkajs.Kafka({ clientId: 'test', brokers: ['127.0.0.1:9'], logLevel: kafkajs.logLevel.NOTHING })
  const consumer = new SidecarConsumer({
    kafkajsConsumer: kafka.consumer(full),
    config: full,
    transport,
    cluster: new ConsumerCluster(
      { policy: 'warn', token: null, timeoutMs: 1_000, applicationBrokers: ['127.0.0.1:9'] },
      kafka.logger(),
      () => transport.clusterClient(),
    ),
    options: {
      mode: 'sidecar',
      processTimeoutMs: 30_000,
      maxRecordsInFlight: 0,
      maxBytesInFlight: 0,
      fallbackAfterMs: 0,
      ...options,
    },
    clientId: 'test',
    appName: 'test',
    connectTimeoutMs: 1_000,
    createDirect: () => kafka.consumer(full),
    retry,
    metrics: createConsumerMetrics(undefined, 'test', full.groupId),
  })
  return { consumer, transport }
}

/** Starts `consumer.run(config)` and plays the sidecar's first assignment, so run() resolves. */
export async function runAssigned(
  consumer: SidecarConsumer,
  transport: InMemoryTransport,
  config: Parameters<SidecarConsumer['run']>[0],
  partitions: OwnedPartition[],
): Promise<void> {
  const running = consumer.run(config)
  await waitFor('the join', () => transport.listener !== null, 2_000)
  transport.assign(partitions)
  await running
}
