/**
 * Prometheus metrics of one sidecar, on its own registry (several sidecars in one process, as in
 * tests, never collide). Names follow Prometheus conventions; every histogram yields
 * p50/p95/p99/p99.9 through histogram_quantile. Labels are app and topic: client-supplied values
 * are bounded in length (boundedLabel) and in number (LabelValues).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { BucketedHistogram } from './bucketed-histogram.js'
import { TalliedCounter } from './tallied-counter.js'

/** Longest label value kept as sent: Kafka's limit on topic names. */
export const MAX_LABEL_LENGTH = 249

/**
 * A client-supplied label value (app name, or the topic of a refused request) as it may enter the
 * registry. A series lives as long as the process, so a client sending megabyte-long invalid topic
 * names or app names would otherwise grow memory and /metrics by megabytes per request.
 */
export function boundedLabel(value: string): string {
  return value.length <= MAX_LABEL_LENGTH ? value : `${value.slice(0, 64)}…(truncated)`
}

/** Distinct client-supplied values kept per label before the rest share one series. */
export const MAX_CLIENT_LABEL_VALUES = 200

/**
 * Bounds how many distinct values a client-supplied label takes. Each value is a series for the
 * life of the process, so a client sending a new app name, or a new invalid topic, per request
 * would grow memory and /metrics without end; past the bound they share `overflow`.
 */
export class LabelValues {
  private readonly seen = new Set<string>()

  constructor(
    private readonly overflow: string,
    private readonly max = MAX_CLIENT_LABEL_VALUES,
  ) {}

  admit(value: string): string {
    if (this.seen.has(value)) return value
    if (this.seen.size >= this.max) return this.overflow
    this.seen.add(value)
    return value
  }
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
const SIZE_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]

export interface GaugeSources {
  queuedRecords(): number
  queuedBytes(): number
  batchesInFlight(): number
  connectedClients(): number
  reportSubscribers(): number
  kafkaConnected(): boolean
  /** Whether requests asking for idempotence can be written now (its producer connected, or the sidecar idempotent throughout). */
  idempotentProducerReady(): boolean
}

/** What the consumer gauges show of one group member. */
export interface ConsumerGroupGauges {
  readonly groupId: string
  readonly processes: number
  readonly ownedPartitions: number
  readonly bufferedBytes: number
  /** Per process (consumer instance): records and bytes delivered and not reported processed. */
  readonly inFlight: ReadonlyArray<{ readonly instanceId: string; readonly records: number; readonly bytes: number }>
}

/** What the consumer gauges read at each scrape. */
export interface ConsumerGaugeSources {
  groups(): ReadonlyArray<ConsumerGroupGauges>
  /** Every group with a member (or a recent failure) and whether that member is in the group. */
  sessions(): ReadonlyArray<{ readonly groupId: string; readonly inGroup: boolean }>
  /** The lag of the members' assigned partitions (may ask the brokers: awaited within a bound). */
  lag(): Promise<
    ReadonlyArray<{
      readonly groupId: string
      readonly topic: string
      readonly partition: number
      readonly lag: number
    }>
  >
}

/**
 * Series per sidecar of the per-partition and per-process gauges; past it the smallest share one
 * series, so a pod assigned thousands of partitions (or running hundreds of processes) does not
 * flood /metrics. The lag keeps the partitions furthest behind as their own series.
 */
export const MAX_PARTITION_SERIES = 1_000
export const MAX_PROCESS_SERIES = 200
const OTHER_PARTITIONS = '(other partitions)'
const OTHER_PROCESSES = '(other processes)'

export class SidecarMetrics {
  readonly registry = new Registry()
  // Counted per send: kept in plain numbers (tallied-counter.ts, bucketed-histogram.ts), the
  // exposition prom-client's. What is counted rarely stays a prom-client metric.
  readonly requests: TalliedCounter<'method' | 'code'>
  readonly records: TalliedCounter<'app' | 'topic' | 'stage'>
  readonly bytes: TalliedCounter<'app' | 'topic'>
  readonly errors: Counter<'code' | 'kafka_error'>
  readonly batchRecords: BucketedHistogram
  readonly batchBytes: BucketedHistogram
  readonly batchDuration: BucketedHistogram
  readonly deliveryLatency: BucketedHistogram<'app'>
  /** App names as labels: the first MAX_CLIENT_LABEL_VALUES, then "(other apps)". */
  readonly apps = new LabelValues('(other apps)')
  /** Topic names of refused requests (anything a client sent) as labels, bounded the same way. */
  readonly refusedTopics = new LabelValues('(other refused topics)')
  /** Consumer group ids (anything a client sent) as labels, bounded the same way. */
  readonly groups = new LabelValues('(other groups)')
  readonly consumerDelivered: Counter<'group' | 'topic'>
  readonly consumerRedelivered: Counter<'group' | 'topic'>
  readonly consumerCommits: Counter<'group' | 'result'>
  readonly consumerLocalMoves: Counter<'group'>
  readonly consumerRebalances: Counter<'group'>
  readonly consumerCommitDuration: Histogram<'group'>

  private readonly registers = [this.registry]

  /**
   * The counters and histograms. The gauges read the parts they describe, so they come with
   * `sources`, or later from watch() once those parts exist.
   */
  constructor(sources?: GaugeSources) {
    const { registers } = this
    collectDefaultMetrics({ register: this.registry, prefix: 'kafka_sidecar_process_' })
    this.requests = new TalliedCounter({
      name: 'kafka_sidecar_requests_total',
      help: 'Emit requests by method and outcome (gRPC status name)',
      labelNames: ['method', 'code'],
      registers,
    })
    this.records = new TalliedCounter({
      name: 'kafka_sidecar_records_total',
      help: 'Records by stage: attempted (received), accepted (queued), acked (broker confirmed), failed (reported failed), rejected (refused at admission)',
      labelNames: ['app', 'topic', 'stage'],
      registers,
    })
    this.bytes = new TalliedCounter({
      name: 'kafka_sidecar_accepted_bytes_total',
      help: 'Record bytes accepted into the queue',
      labelNames: ['app', 'topic'],
      registers,
    })
    this.errors = new Counter({
      name: 'kafka_sidecar_errors_total',
      help: 'Refusals and delivery failures by gRPC status and Kafka error name',
      labelNames: ['code', 'kafka_error'],
      registers,
    })
    this.batchRecords = new BucketedHistogram({
      name: 'kafka_sidecar_batch_records',
      help: 'Records per sendBatch call',
      buckets: SIZE_BUCKETS,
      registers,
    })
    this.batchBytes = new BucketedHistogram({
      name: 'kafka_sidecar_batch_bytes',
      help: 'Bytes per sendBatch call',
      buckets: SIZE_BUCKETS.map((b) => b * 1000),
      registers,
    })
    this.batchDuration = new BucketedHistogram({
      name: 'kafka_sidecar_batch_duration_seconds',
      help: 'sendBatch call duration (broker round trip incl. KafkaJS retries)',
      buckets: LATENCY_BUCKETS,
      registers,
    })
    this.deliveryLatency = new BucketedHistogram({
      name: 'kafka_sidecar_delivery_latency_seconds',
      help: 'From accepting a request to every record of it being acked or failed',
      labelNames: ['app'],
      buckets: LATENCY_BUCKETS,
      registers,
    })
    this.consumerDelivered = new Counter({
      name: 'kafka_sidecar_consumer_records_delivered_total',
      help: "Records delivered to the pod's consumer processes (redeliveries included)",
      labelNames: ['group', 'topic'],
      registers,
    })
    this.consumerRedelivered = new Counter({
      name: 'kafka_sidecar_consumer_records_redelivered_total',
      help: 'Records delivered again: delivered to an earlier owner of their partition that did not report them processed',
      labelNames: ['group', 'topic'],
      registers,
    })
    this.consumerCommits = new Counter({
      name: 'kafka_sidecar_consumer_commits_total',
      help: 'Commit requests of consumer processes by result: ok, refused (names a partition the process does not own), failed (Kafka refused or unreachable)',
      labelNames: ['group', 'result'],
      registers,
    })
    this.consumerLocalMoves = new Counter({
      name: 'kafka_sidecar_consumer_local_moves_total',
      help: "Partitions moved between the pod's processes of a group (revoked from one to give to another), without a Kafka rebalance",
      labelNames: ['group'],
      registers,
    })
    this.consumerRebalances = new Counter({
      name: 'kafka_sidecar_consumer_kafka_rebalances_total',
      help: "Kafka rebalances the sidecar's member of a group went through (joins after its first)",
      labelNames: ['group'],
      registers,
    })
    this.consumerCommitDuration = new Histogram({
      name: 'kafka_sidecar_consumer_commit_duration_seconds',
      help: "Commits of a group's offsets: the round trip to Kafka (OffsetCommit), answered or failed",
      labelNames: ['group'],
      buckets: LATENCY_BUCKETS,
      registers,
    })
    if (sources) this.watch(sources)
  }

  /** The group label of a group id (bounded). */
  groupLabel(groupId: string): string {
    return this.groups.admit(boundedLabel(groupId))
  }

  /** The consumer gauges, read at each scrape. Series of a group, partition or process gone go with it. */
  watchConsumers(sources: ConsumerGaugeSources): void {
    const group = (groupId: string) => this.groupLabel(groupId)
    const stats = () => sources.groups()
    const perGroup = (name: string, help: string, read: (g: ConsumerGroupGauges) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['group'],
        registers: this.registers,
        collect() {
          this.reset()
          for (const g of stats()) this.inc({ group: group(g.groupId) }, read(g))
        },
      })
    perGroup(
      'kafka_sidecar_consumer_processes',
      "The pod's consumer processes (instances) joined to a group",
      (g) => g.processes,
    )
    perGroup(
      'kafka_sidecar_consumer_partitions_owned',
      'Partitions of a group owned by one of its processes',
      (g) => g.ownedPartitions,
    )
    perGroup(
      'kafka_sidecar_consumer_buffered_bytes',
      'Bytes of fetched records a group member holds, not yet reported processed',
      (g) => g.bufferedBytes,
    )
    new Gauge({
      name: 'kafka_sidecar_consumer_member_in_group',
      help: "1 while the sidecar's member of a group is in the group (joined), 0 while it joins or after a crash",
      labelNames: ['group'],
      registers: this.registers,
      collect() {
        this.reset()
        for (const s of sources.sessions()) this.set({ group: group(s.groupId) }, s.inGroup ? 1 : 0)
      },
    })
    this.watchInFlight(stats)
    this.watchLag(sources.lag)
  }

  /** The lag per partition; past MAX_PARTITION_SERIES the partitions least behind share one series. */
  private watchLag(read: ConsumerGaugeSources['lag']): void {
    const group = (groupId: string) => this.groupLabel(groupId)
    new Gauge({
      name: 'kafka_sidecar_consumer_lag',
      help: "Records of a partition the group has not committed: the high watermark less the group's committed offset",
      labelNames: ['group', 'topic', 'partition'],
      registers: this.registers,
      async collect() {
        const lags = [...(await read())].sort((a, b) => b.lag - a.lag)
        this.reset()
        lags.forEach((l, i) => {
          const own = i < MAX_PARTITION_SERIES - 1 || lags.length <= MAX_PARTITION_SERIES
          const labels = own
            ? { group: group(l.groupId), topic: l.topic, partition: String(l.partition) }
            : { group: group(l.groupId), topic: OTHER_PARTITIONS, partition: OTHER_PARTITIONS }
          this.inc(labels, l.lag)
        })
      },
    })
  }

  /** Records and bytes in flight per process: a series per connected consumer instance, gone when it leaves. */
  private watchInFlight(stats: () => ReadonlyArray<ConsumerGroupGauges>): void {
    const group = (groupId: string) => this.groupLabel(groupId)
    const perProcess = (name: string, help: string, read: (p: ConsumerGroupGauges['inFlight'][number]) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['group', 'process'],
        registers: this.registers,
        collect() {
          this.reset()
          let series = 0
          for (const g of stats())
            for (const p of g.inFlight) {
              const process = series++ < MAX_PROCESS_SERIES ? boundedLabel(p.instanceId) : OTHER_PROCESSES
              this.inc({ group: group(g.groupId), process }, read(p))
            }
        },
      })
    perProcess(
      'kafka_sidecar_consumer_process_records_in_flight',
      'Records delivered to a consumer process (instance) and not reported processed',
      (p) => p.records,
    )
    perProcess(
      'kafka_sidecar_consumer_process_bytes_in_flight',
      'Bytes (keys, values, headers) delivered to a consumer process (instance) and not reported processed',
      (p) => p.bytes,
    )
  }

  /** Registers the gauges, read at each scrape from `sources`. */
  watch(sources: GaugeSources): void {
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: this.registers,
        collect() {
          this.set(read())
        },
      })
    gauge('kafka_sidecar_queue_records', 'Records queued and not yet sent', sources.queuedRecords)
    gauge(
      'kafka_sidecar_queue_bytes',
      'Bytes held (queued or in flight), the quantity the memory bound limits',
      sources.queuedBytes,
    )
    gauge('kafka_sidecar_batches_in_flight', 'sendBatch calls awaiting the brokers', sources.batchesInFlight)
    gauge('kafka_sidecar_connected_clients', 'Client producer instances with an open stream', sources.connectedClients)
    gauge('kafka_sidecar_report_subscribers', 'Open delivery-report streams', sources.reportSubscribers)
    gauge('kafka_sidecar_kafka_connected', '1 while the Kafka producer is connected', () =>
      sources.kafkaConnected() ? 1 : 0,
    )
    gauge(
      'kafka_sidecar_idempotent_producer_ready',
      '1 while requests asking for idempotence can be written (the idempotent producer, made on first need, has a producer id; or KAFKA_SIDECAR_IDEMPOTENT)',
      () => (sources.idempotentProducerReady() ? 1 : 0),
    )
  }
}
