/**
 * Prometheus metrics of one sidecar, on its own registry (several sidecars in one process, as in
 * tests, never collide). Names follow Prometheus conventions; every histogram yields
 * p50/p95/p99/p99.9 through histogram_quantile. Labels are app and topic, both bounded in practice.
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

const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
const SIZE_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]

export interface GaugeSources {
  queuedRecords(): number
  queuedBytes(): number
  batchesInFlight(): number
  connectedClients(): number
  reportSubscribers(): number
  kafkaConnected(): boolean
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

  constructor(sources: GaugeSources) {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry, prefix: 'kafka_sidecar_process_' })
    this.requests = new Counter({ name: 'kafka_sidecar_requests_total', help: 'Emit requests by method and outcome (gRPC status name)', labelNames: ['method', 'code'], registers })
    this.records = new Counter({
      name: 'kafka_sidecar_records_total',
      help: 'Records by stage: attempted (received), accepted (queued), acked (broker confirmed), failed (reported failed), rejected (refused at admission)',
      labelNames: ['app', 'topic', 'stage'],
      registers,
    })
    this.bytes = new Counter({ name: 'kafka_sidecar_accepted_bytes_total', help: 'Record bytes accepted into the queue', labelNames: ['app', 'topic'], registers })
    this.errors = new Counter({ name: 'kafka_sidecar_errors_total', help: 'Refusals and delivery failures by gRPC status and Kafka error name', labelNames: ['code', 'kafka_error'], registers })
    this.batchRecords = new Histogram({ name: 'kafka_sidecar_batch_records', help: 'Records per sendBatch call', buckets: SIZE_BUCKETS, registers })
    this.batchBytes = new Histogram({ name: 'kafka_sidecar_batch_bytes', help: 'Bytes per sendBatch call', buckets: SIZE_BUCKETS.map((b) => b * 1000), registers })
    this.batchDuration = new Histogram({ name: 'kafka_sidecar_batch_duration_seconds', help: 'sendBatch call duration (broker round trip incl. KafkaJS retries)', buckets: LATENCY_BUCKETS, registers })
    this.deliveryLatency = new Histogram({
      name: 'kafka_sidecar_delivery_latency_seconds',
      help: 'From accepting a request to every record of it being acked or failed',
      labelNames: ['app'],
      buckets: LATENCY_BUCKETS,
      registers,
    })
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read())
        },
      })
    gauge('kafka_sidecar_queue_records', 'Records queued and not yet sent', sources.queuedRecords)
    gauge('kafka_sidecar_queue_bytes', 'Bytes held (queued or in flight), the quantity the memory bound limits', sources.queuedBytes)
    gauge('kafka_sidecar_batches_in_flight', 'sendBatch calls awaiting the brokers', sources.batchesInFlight)
    gauge('kafka_sidecar_connected_clients', 'Client producer instances with an open stream', sources.connectedClients)
    gauge('kafka_sidecar_report_subscribers', 'Open delivery-report streams', sources.reportSubscribers)
    gauge('kafka_sidecar_kafka_connected', '1 while the Kafka producer is connected', () => (sources.kafkaConnected() ? 1 : 0))
  }
}
