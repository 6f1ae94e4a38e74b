/**
 * Client metrics, opt-in: `new Kafka({ ..., sidecarMetrics: true })` registers them in
 * prom-client's default registry (or `{ registry }` in one of yours). The library never starts
 * a server; the application exposes its registry as it already does.
 *
 * prom-client is an optional peer dependency: the application's own copy is used, so its default
 * registry (the one it exposes) is the one that gets the metrics. It is loaded only when metrics
 * are asked for, so an application without prom-client never needs it; one that asks for
 * metrics without it fails at connect, naming the package.
 *
 * Several producers in one process share the same metric objects (registered once per registry),
 * told apart by the `client_id` label where it matters.
 */
import type * as PromClient from 'prom-client'
import kafkajs from 'kafkajs'

/**
 * A prom-client Registry, as far as this package needs to know it (the application's prom-client
 * types are then not needed to compile against this package's).
 */
export interface MetricsRegistry {
  getSingleMetric(name: string): unknown
  registerMetric(metric: never): void
}

export type MetricsOption = boolean | { readonly registry?: MetricsRegistry }

export const PREFIX = 'kafka_sidecar_client_'

export type PromClientModule = typeof PromClient
let promClient: Promise<PromClientModule> | null = null

/** The application's prom-client, loaded once, on first need. */
export function loadPromClient(): Promise<PromClientModule> {
  promClient ??= import('prom-client').then(
    // CommonJS seen from ESM: the module object is the default export (in both builds).
    (loaded: unknown) => ((loaded as { default?: PromClientModule }).default ?? loaded) as PromClientModule,
    (error: unknown) => {
      promClient = null
      throw new kafkajs.KafkaJSNonRetriableError(
        `kafka-sidecar client: sidecarMetrics needs the prom-client package in the application (npm install prom-client): ${error instanceof Error ? error.message : String(error)}`,
      )
    },
  )
  return promClient
}

export interface ProducerMetrics {
  /** False for the no-op set (and until prom-client is loaded): callers skip computing what they would record. */
  readonly enabled: boolean
  /** Settles once the metrics are registered; rejects when prom-client cannot be loaded. */
  readonly ready: Promise<void>
  attempted(topic: string, records: number): void
  accepted(topic: string, records: number): void
  acked(topic: string, path: string, records: number): void
  failed(topic: string, path: string, records: number): void
  fallback(topic: string, records: number): void
  sendSeconds(path: string, seconds: number): void
  breakerState(state: 'closed' | 'half_open' | 'open'): void
  mode(mode: string): void
  /** Whether the sidecar writes to the application's cluster, as last checked. */
  clusterCheck(result: ClusterCheckResult): void
}

export type ClusterCheckResult = 'match' | 'mismatch' | 'unknown'
const CLUSTER_CHECK_RESULTS: readonly ClusterCheckResult[] = ['match', 'mismatch', 'unknown']

const NO_METRICS: ProducerMetrics = {
  enabled: false,
  ready: Promise.resolve(),
  attempted() {},
  accepted() {},
  acked() {},
  failed() {},
  fallback() {},
  sendSeconds() {},
  breakerState() {},
  mode() {},
  clusterCheck() {},
}

const BREAKER_STATES = { closed: 0, half_open: 1, open: 2 } as const

/** Seconds, 0.5 ms to 10 s: sends, handlers and commits. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** The metric registered under `name` in `registry` (by another producer or consumer), or a new one. */
export function getOrCreate<T>(registry: PromClient.Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create()
}

export function createProducerMetrics(option: MetricsOption | undefined, clientId: string): ProducerMetrics {
  if (!option) return NO_METRICS
  return new LoadingMetrics(option, clientId)
}

/**
 * The metrics while prom-client loads, then the registered ones. Nothing is sent before connect(),
 * which waits for `ready`; the gauges set at construction (mode, breaker state) are applied on load.
 */
class LoadingMetrics implements ProducerMetrics {
  readonly ready: Promise<void>
  private target: ProducerMetrics = NO_METRICS
  private lastMode: string | null = null
  private lastBreakerState: 'closed' | 'half_open' | 'open' | null = null
  private lastClusterCheck: ClusterCheckResult | null = null

  constructor(option: Exclude<MetricsOption, false>, clientId: string) {
    const registry = typeof option === 'object' ? option.registry : undefined
    this.ready = loadPromClient().then((prom) => {
      this.target = registeredMetrics(prom, (registry as PromClient.Registry | undefined) ?? prom.register, clientId)
      if (this.lastMode !== null) this.target.mode(this.lastMode)
      if (this.lastBreakerState !== null) this.target.breakerState(this.lastBreakerState)
      if (this.lastClusterCheck !== null) this.target.clusterCheck(this.lastClusterCheck)
    })
    // connect() reports the failure; a producer never connected must not leave it unhandled.
    void this.ready.catch(() => {})
  }

  get enabled(): boolean {
    return this.target.enabled
  }

  attempted = (topic: string, n: number) => this.target.attempted(topic, n)
  accepted = (topic: string, n: number) => this.target.accepted(topic, n)
  acked = (topic: string, path: string, n: number) => this.target.acked(topic, path, n)
  failed = (topic: string, path: string, n: number) => this.target.failed(topic, path, n)
  fallback = (topic: string, n: number) => this.target.fallback(topic, n)
  sendSeconds = (path: string, seconds: number) => this.target.sendSeconds(path, seconds)

  breakerState(state: 'closed' | 'half_open' | 'open'): void {
    this.lastBreakerState = state
    this.target.breakerState(state)
  }

  mode(mode: string): void {
    this.lastMode = mode
    this.target.mode(mode)
  }

  clusterCheck(result: ClusterCheckResult): void {
    this.lastClusterCheck = result
    this.target.clusterCheck(result)
  }
}

function registeredMetrics(client: PromClientModule, registry: PromClient.Registry, clientId: string): ProducerMetrics {
  const registers = [registry]
  const counter = (name: string, help: string, labelNames: string[]) =>
    getOrCreate(registry, PREFIX + name, () => new client.Counter({ name: PREFIX + name, help, labelNames, registers }))
  const attempted = counter('records_attempted_total', 'Records passed to send/sendBatch', ['client_id', 'topic'])
  const accepted = counter('records_accepted_total', 'Records the sidecar took into its queue', ['client_id', 'topic'])
  const acked = counter('records_acked_total', 'Records a broker acknowledged, by the path that wrote them', [
    'client_id',
    'topic',
    'path',
  ])
  const failed = counter('records_failed_total', 'Records whose send failed, by the path that failed', [
    'client_id',
    'topic',
    'path',
  ])
  const fallback = counter(
    'fallback_records_total',
    'Records sent directly to Kafka because the sidecar path was unavailable',
    ['client_id', 'topic'],
  )
  const latency = getOrCreate(
    registry,
    PREFIX + 'send_duration_seconds',
    () =>
      new client.Histogram({
        name: PREFIX + 'send_duration_seconds',
        help: 'send/sendBatch duration until the broker acknowledged, by path',
        labelNames: ['client_id', 'path'],
        buckets: LATENCY_BUCKETS,
        registers,
      }),
  )
  const breaker = getOrCreate(
    registry,
    PREFIX + 'breaker_state',
    () =>
      new client.Gauge({
        name: PREFIX + 'breaker_state',
        help: 'Sidecar circuit breaker: 0 closed, 1 half-open, 2 open',
        labelNames: ['client_id'],
        registers,
      }),
  )
  const mode = getOrCreate(
    registry,
    PREFIX + 'mode',
    () =>
      new client.Gauge({
        name: PREFIX + 'mode',
        help: 'The mode in force: 1 for the configured mode (direct or sidecar)',
        labelNames: ['client_id', 'mode'],
        registers,
      }),
  )
  const clusterCheck = getOrCreate(
    registry,
    PREFIX + 'cluster_check',
    () =>
      new client.Gauge({
        name: PREFIX + 'cluster_check',
        help: "Whether the sidecar writes to the cluster of the application's own brokers, as last checked: 1 for the result (match, mismatch or unknown), 0 for the others",
        labelNames: ['client_id', 'result'],
        registers,
      }),
  )
  return {
    enabled: true,
    ready: Promise.resolve(),
    attempted: (topic, n) => attempted.inc({ client_id: clientId, topic }, n),
    accepted: (topic, n) => accepted.inc({ client_id: clientId, topic }, n),
    acked: (topic, path, n) => acked.inc({ client_id: clientId, topic, path }, n),
    failed: (topic, path, n) => failed.inc({ client_id: clientId, topic, path }, n),
    fallback: (topic, n) => fallback.inc({ client_id: clientId, topic }, n),
    sendSeconds: (path, seconds) => latency.observe({ client_id: clientId, path }, seconds),
    breakerState: (state) => breaker.set({ client_id: clientId }, BREAKER_STATES[state]),
    mode: (m) => {
      mode.set({ client_id: clientId, mode: m }, 1)
      mode.set({ client_id: clientId, mode: m === 'sidecar' ? 'direct' : 'sidecar' }, 0)
    },
    clusterCheck: (result) => {
      for (const r of CLUSTER_CHECK_RESULTS) clusterCheck.set({ client_id: clientId, result: r }, r === result ? 1 : 0)
    },
  }
}

/** Counts per topic in one pass, so a send of many records costs one increment per topic. */
export function countByTopic(items: ReadonlyArray<{ topic: string }>): Map<string, number> {
  const counts = new Map<string, number>()
  for (const { topic } of items) counts.set(topic, (counts.get(topic) ?? 0) + 1)
  return counts
}
