/**
 * A prom-client Counter counted in plain numbers between scrapes. prom-client hashes and
 * validates the labels of every inc (about 2 µs each on the benchmark machine, and each send is
 * counted four times); here an inc is a lookup by label value (label-tree.ts), and the counts are
 * added to the Counter whenever it is collected (every scrape, every get()), so what /metrics
 * shows is the same (metric-tallies.test.ts). The label sets are those prom-client would keep (as
 * bounded by the callers).
 */
import {
  Counter,
  type CounterConfiguration,
  type LabelValues,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client'
import { LabelTree } from './label-tree.js'

interface Tally<L extends string> {
  readonly labels: LabelValues<L>
  value: number
  /** Not yet in the Counter: an inc of 0 still makes the series, as in prom-client. */
  fresh: boolean
}

/** prom-client's Counter, whose reset (a registry's resetMetrics too) also drops what is not yet added. */
class ResettableCounter<L extends string> extends Counter<L> {
  constructor(
    config: CounterConfiguration<L>,
    private readonly onReset: () => void,
  ) {
    super(config)
  }

  override reset(): void {
    // prom-client's constructor resets too, before onReset is set.
    this.onReset?.()
    super.reset()
  }
}

export class TalliedCounter<L extends string> {
  readonly counter: Counter<L>
  readonly labelNames: readonly L[]
  private readonly tallies: LabelTree<L, Tally<L>>

  constructor(config: Omit<CounterConfiguration<L>, 'collect'> & { readonly labelNames: readonly L[] }) {
    this.labelNames = config.labelNames
    this.tallies = new LabelTree(config.labelNames, (labels) => ({
      labels: labels as LabelValues<L>,
      value: 0,
      fresh: true,
    }))
    this.counter = new ResettableCounter({ ...config, collect: () => this.flush() }, () => this.tallies.clear())
  }

  /** As prom-client's inc, refusing what it refuses at once (not at the next scrape). */
  inc(labels: Record<L, string>, value = 1): void {
    // prom-client 15's own checks, word for word (NaN passes them: it turns the series into NaN).
    if (value && !Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${String(value)}`)
    if (value < 0) throw new Error('It is not possible to decrease a counter')
    this.tallies.of(labels).value += value
  }

  /** What prom-client reports, the counts so far included. */
  get(): Promise<MetricObjectWithValues<MetricValue<L>>> {
    return this.counter.get()
  }

  private flush(): void {
    for (const tally of this.tallies.values) {
      if (tally.value === 0 && !tally.fresh) continue
      this.counter.inc(tally.labels, tally.value)
      tally.value = 0
      tally.fresh = false
    }
  }
}
