/**
 * A prom-client Counter counted in plain numbers between scrapes. prom-client hashes and
 * validates the labels of every inc (about 2 µs each on the benchmark machine, and each send is
 * counted four times); here an inc is a lookup by label value (label-tree.ts), and the counts are
 * added to the Counter whenever it is collected (every scrape, every get()), so what /metrics
 * shows is the same. The label sets are those prom-client would keep (as bounded by the callers).
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

export class TalliedCounter<L extends string> {
  readonly counter: Counter<L>
  private readonly tallies: LabelTree<L, Tally<L>>

  constructor(config: CounterConfiguration<L> & { readonly labelNames: readonly L[] }) {
    this.tallies = new LabelTree(config.labelNames, (labels) => ({
      labels: labels as LabelValues<L>,
      value: 0,
      fresh: true,
    }))
    this.counter = new Counter({ ...config, collect: () => this.flush() })
  }

  inc(labels: Record<L, string | number>, value = 1): void {
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
