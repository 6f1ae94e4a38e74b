/**
 * Prometheus metrics of one sidecar, on its own registry (several sidecars in one process, as in
 * tests, never collide). Names follow Prometheus conventions; every histogram yields
 * p50/p95/p99/p99.9 through histogram_quantile. Labels are app and topic: client-supplied values
 * are bounded in length (boundedLabel) and in number (LabelValues).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'

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

export class SidecarMetrics {
  readonly registry = new Registry()
  readonly requests: Counter<'method' | 'code'>
  readonly records: Counter<'app' | 'topic' | 'stage'>
  readonly bytes: Counter<'app' | 'topic'>
  readonly errors: Counter<'code' | 'kafka_error'>
  readonly batchRecords: Histogram
  readonly batchBytes: Histogram
  readonly batchDuration: Histogram
  readonly deliveryLatency: Histogram<'app'>
  /** App names as labels: the first MAX_CLIENT_LABEL_VALUES, then "(other apps)". */
  readonly apps = new LabelValues('(other apps)')
  /** Topic names of refused requests (anything a client sent) as labels, bounded the same way. */
  readonly refusedTopics = new LabelValues('(other refused topics)')

  private readonly registers = [this.registry]

  /**
   * The counters and histograms. The gauges read the parts they describe, so they come with
   * `sources`, or later from watch() once those parts exist.
   */
  constructor(sources?: GaugeSources) {
    const { registers } = this
    collectDefaultMetrics({ register: this.registry, prefix: 'kafka_sidecar_process_' })
    this.requests = new Counter({
      name: 'kafka_sidecar_requests_total',
      help: 'Emit requests by method and outcome (gRPC status name)',
      labelNames: ['method', 'code'],
      registers,
    })
    this.records = new Counter({
      name: 'kafka_sidecar_records_total',
      help: 'Records by stage: attempted (received), accepted (queued), acked (broker confirmed), failed (reported failed), rejected (refused at admission)',
      labelNames: ['app', 'topic', 'stage'],
      registers,
    })
    this.bytes = new Counter({
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
    this.batchRecords = new Histogram({
      name: 'kafka_sidecar_batch_records',
      help: 'Records per sendBatch call',
      buckets: SIZE_BUCKETS,
      registers,
    })
    this.batchBytes = new Histogram({
      name: 'kafka_sidecar_batch_bytes',
      help: 'Bytes per sendBatch call',
      buckets: SIZE_BUCKETS.map((b) => b * 1000),
      registers,
    })
    this.batchDuration = new Histogram({
      name: 'kafka_sidecar_batch_duration_seconds',
      help: 'sendBatch call duration (broker round trip incl. KafkaJS retries)',
      buckets: LATENCY_BUCKETS,
      registers,
    })
    this.deliveryLatency = new Histogram({
      name: 'kafka_sidecar_delivery_latency_seconds',
      help: 'From accepting a request to every record of it being acked or failed',
      labelNames: ['app'],
      buckets: LATENCY_BUCKETS,
      registers,
    })
    if (sources) this.watch(sources)
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
