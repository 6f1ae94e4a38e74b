/**
 * The client's consumer metrics, opt-in with the producers' (`new Kafka({ sidecarMetrics })`), in
 * the same registry, loaded the same way (metrics.ts). A consumer in sidecar mode counts what it
 * does with what the sidecar gives it: records processed, handler time, records in flight
 * (delivered by the sidecar, their batch not over), commits through the sidecar and their round
 * trip; the sidecar's per-group metrics see the same from its side. A direct consumer is KafkaJS's
 * own, untouched: it only sets the mode gauge, so a rollout's consumers can be counted per mode.
 *
 * Several consumers of one process share the metric objects (and, for one group, the series).
 */
import type * as PromClient from 'prom-client'
import {
  getOrCreate,
  LATENCY_BUCKETS,
  loadPromClient,
  PREFIX,
  type MetricsOption,
  type PromClientModule,
} from '../metrics.js'
import type { ConsumerMode } from '../options.js'

export type CommitOutcome = 'ok' | 'refused' | 'failed'
export type HandlerKind = 'eachMessage' | 'eachBatch'

export interface ConsumerMetrics {
  /** False for the no-op set (and until prom-client is loaded): callers skip timing what they would record. */
  readonly enabled: boolean
  /** Settles once the metrics are registered; rejects when prom-client cannot be loaded. */
  readonly ready: Promise<void>
  /** Records whose handler finished (eachMessage returned; eachBatch: those resolved when it returned). */
  processed(topic: string, records: number): void
  handlerSeconds(handler: HandlerKind, seconds: number): void
  /** Records delivered (+) or whose batch is over or dropped (-). */
  inFlight(delta: number): void
  committed(result: CommitOutcome, seconds: number): void
  mode(mode: ConsumerMode): void
}

const NO_METRICS: ConsumerMetrics = {
  enabled: false,
  ready: Promise.resolve(),
  processed() {},
  handlerSeconds() {},
  inFlight() {},
  committed() {},
  mode() {},
}

const C = `${PREFIX}consumer_`

export function createConsumerMetrics(
  option: MetricsOption | undefined,
  clientId: string,
  groupId: string,
): ConsumerMetrics {
  if (!option) return NO_METRICS
  return new LoadingConsumerMetrics(option, clientId, groupId)
}

/** The metrics while prom-client loads, then the registered ones; the mode and in-flight records so far are applied on load. */
class LoadingConsumerMetrics implements ConsumerMetrics {
  readonly ready: Promise<void>
  private target: ConsumerMetrics = NO_METRICS
  private lastMode: ConsumerMode | null = null
  private pendingInFlight = 0

  constructor(option: Exclude<MetricsOption, false>, clientId: string, groupId: string) {
    const registry = typeof option === 'object' ? option.registry : undefined
    this.ready = loadPromClient().then((prom) => {
      const target = registered(prom, (registry as PromClient.Registry | undefined) ?? prom.register, clientId, groupId)
      if (this.lastMode !== null) target.mode(this.lastMode)
      target.inFlight(this.pendingInFlight)
      this.target = target
    })
    // connect() (or, for a direct consumer, the log) reports the failure.
    void this.ready.catch(() => {})
  }

  get enabled(): boolean {
    return this.target.enabled
  }

  processed = (topic: string, n: number) => this.target.processed(topic, n)
  handlerSeconds = (handler: HandlerKind, seconds: number) => this.target.handlerSeconds(handler, seconds)
  committed = (result: CommitOutcome, seconds: number) => this.target.committed(result, seconds)

  inFlight(delta: number): void {
    if (this.target.enabled) this.target.inFlight(delta)
    else this.pendingInFlight += delta
  }

  mode(mode: ConsumerMode): void {
    this.lastMode = mode
    this.target.mode(mode)
  }
}

function registered(
  client: PromClientModule,
  registry: PromClient.Registry,
  clientId: string,
  group: string,
): ConsumerMetrics {
  const registers = [registry]
  const counter = (name: string, help: string, labelNames: string[]) =>
    getOrCreate(registry, C + name, () => new client.Counter({ name: C + name, help, labelNames, registers }))
  const histogram = (name: string, help: string, labelNames: string[]) =>
    getOrCreate(
      registry,
      C + name,
      () => new client.Histogram({ name: C + name, help, labelNames, buckets: LATENCY_BUCKETS, registers }),
    )
  const gauge = (name: string, help: string, labelNames: string[]) =>
    getOrCreate(registry, C + name, () => new client.Gauge({ name: C + name, help, labelNames, registers }))
  const processed = counter(
    'records_processed_total',
    'Records whose handler finished: eachMessage returned, or eachBatch returned with them resolved',
    ['client_id', 'group', 'topic'],
  )
  const handler = histogram('handler_duration_seconds', 'Duration of each eachMessage or eachBatch call', [
    'client_id',
    'group',
    'handler',
  ])
  const inFlight = gauge('records_in_flight', 'Records the sidecar delivered whose batch is not over yet', [
    'client_id',
    'group',
  ])
  const commits = counter(
    'commits_total',
    'Commits through the sidecar by result: ok, refused (partitions moved to another process), failed',
    ['client_id', 'group', 'result'],
  )
  const commitDuration = histogram('commit_duration_seconds', 'Commits through the sidecar: until its answer', [
    'client_id',
    'group',
  ])
  const mode = gauge('mode', 'The mode in force: 1 for the configured mode (direct or sidecar), 0 for the other', [
    'client_id',
    'group',
    'mode',
  ])
  const labels = { client_id: clientId, group }
  return {
    enabled: true,
    ready: Promise.resolve(),
    processed: (topic, n) => processed.inc({ ...labels, topic }, n),
    handlerSeconds: (kind, seconds) => handler.observe({ ...labels, handler: kind }, seconds),
    inFlight: (delta) => inFlight.inc(labels, delta),
    committed: (result, seconds) => {
      commits.inc({ ...labels, result })
      commitDuration.observe(labels, seconds)
    },
    mode: (m) => {
      mode.set({ ...labels, mode: m }, 1)
      mode.set({ ...labels, mode: m === 'sidecar' ? 'direct' : 'sidecar' }, 0)
    },
  }
}
