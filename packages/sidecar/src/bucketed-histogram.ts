/**
 * A Prometheus histogram counted in plain arrays. prom-client's Histogram validates and hashes
 * the labels, builds a closure and searches the buckets on every observe (four a send, about 8 µs
 * of every serial send on the benchmark machine); here an observe is a lookup by label value
 * (label-tree.ts) and a bucket count. What it reports is prom-client's to the byte: it registers
 * in a prom-client Registry like any metric and gives the values a prom-client Histogram would
 * (cumulative buckets, +Inf, _sum, _count per label set, in the order the sets were first seen;
 * metric-tallies.test.ts compares the two).
 */
import type { LabelValues, Metric, MetricObjectWithValues, MetricValueWithName, Registry } from 'prom-client'
import { LabelTree } from './label-tree.js'

interface Series<L extends string> {
  readonly labels: LabelValues<L>
  /** Observations per bucket (not cumulative); above the last bound only in `count`. */
  readonly buckets: Float64Array
  sum: number
  count: number
}

export interface BucketedHistogramConfiguration<L extends string> {
  readonly name: string
  readonly help: string
  readonly labelNames?: readonly L[]
  /** Upper bounds, ascending. */
  readonly buckets: readonly number[]
  readonly registers: readonly Registry[]
}

interface ValuePair<L extends string> extends MetricValueWithName<L | 'le'> {
  readonly sharedLabels: LabelValues<L>
  readonly exemplar?: null
}

export class BucketedHistogram<L extends string = never> {
  readonly name: string
  readonly help: string
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly labelNames: readonly L[]
  private readonly bounds: readonly number[]
  /** Labelled series; null for a histogram without labels, which has its one series from the start. */
  private readonly tree: LabelTree<L, Series<L>> | null
  private unlabelled: Series<L> | null

  constructor(config: BucketedHistogramConfiguration<L>) {
    this.name = config.name
    this.help = config.help
    this.bounds = [...config.buckets]
    const labelNames = config.labelNames ?? []
    this.labelNames = labelNames
    this.tree = labelNames.length > 0 ? new LabelTree(labelNames, (labels) => this.series(labels)) : null
    this.unlabelled = this.tree ? null : this.series({} as Record<L, string>)
    for (const registry of config.registers) registry.registerMetric(this as unknown as Metric<L>)
  }

  observe(labels: Record<L, string>, value: number): void
  observe(value: number): void
  observe(labelsOrValue: Record<L, string> | number, value?: number): void {
    const labelled = typeof labelsOrValue === 'object'
    const v = labelled ? value! : labelsOrValue
    if (!Number.isFinite(v)) throw new TypeError(`Value is not a valid number: ${String(v)}`)
    const series = labelled ? this.tree!.of(labelsOrValue) : (this.unlabelled ??= this.series({} as Record<L, string>))
    const bucket = this.bucketOf(v)
    if (bucket >= 0) series.buckets[bucket]!++
    series.sum += v
    series.count++
  }

  reset(): void {
    this.tree?.clear()
    this.unlabelled = null
  }

  /** As prom-client's Histogram: labels `le` and the series' labels apart (the registry formats them so). */
  async getForPromString(): Promise<MetricObjectWithValues<ValuePair<L>>> {
    const values: Array<ValuePair<L>> = []
    const all = this.tree ? this.tree.values : this.unlabelled ? [this.unlabelled] : []
    for (const series of all) this.export(series, values)
    const data = { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
    return data as unknown as MetricObjectWithValues<ValuePair<L>>
  }

  /** As prom-client's Histogram: each value's labels with its series' labels merged in. */
  async get(): Promise<MetricObjectWithValues<MetricValueWithName<L | 'le'>>> {
    const data = await this.getForPromString()
    const values = data.values.map(({ sharedLabels, labels, ...rest }) => ({
      ...rest,
      labels: { ...labels, ...sharedLabels },
    }))
    return { ...data, values }
  }

  private series(labels: Record<L, string>): Series<L> {
    return { labels: labels as LabelValues<L>, buckets: new Float64Array(this.bounds.length), sum: 0, count: 0 }
  }

  private bucketOf(value: number): number {
    const bounds = this.bounds
    for (let i = 0; i < bounds.length; i++) if (value <= bounds[i]!) return i
    return -1
  }

  private export(series: Series<L>, values: Array<ValuePair<L>>): void {
    const bucketName = `${this.name}_bucket`
    const shared = series.labels
    let cumulative = 0
    this.bounds.forEach((bound, i) => {
      cumulative += series.buckets[i]!
      values.push(pair({ le: bound }, cumulative, bucketName, null, shared))
    })
    values.push(
      pair({ le: '+Inf' }, series.count, bucketName, null, shared),
      pair({}, series.sum, `${this.name}_sum`, undefined, shared),
      pair({}, series.count, `${this.name}_count`, undefined, shared),
    )
  }
}

function pair<L extends string>(
  labels: LabelValues<'le'>,
  value: number,
  metricName: string,
  exemplar: null | undefined,
  sharedLabels: LabelValues<L>,
): ValuePair<L> {
  return { labels, sharedLabels, value, metricName, exemplar } as ValuePair<L>
}
