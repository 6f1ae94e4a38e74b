/**
 * The sidecar's cheap counters and histograms against prom-client's own: the same operations give
 * the same /metrics text and the same get() values, whatever the label sets and values.
 */
import fc from 'fast-check'
import { Counter, Histogram, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { BucketedHistogram } from '../src/bucketed-histogram.js'
import { TalliedCounter } from '../src/tallied-counter.js'

const BUCKETS = [0.001, 0.01, 0.1, 1, 10]
const labelValue = fc.constantFrom('a', 'b', 'c"quoted"', 'd\\n', '')
const value = fc.oneof(
  fc.double({ min: -5, max: 50, noNaN: true }),
  fc.constantFrom(...BUCKETS),
  fc.constant(0),
  fc.constant(Number.MAX_VALUE),
)

describe('BucketedHistogram', () => {
  it("reports what prom-client's Histogram reports after the same observations, labelled or not", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ app: labelValue, topic: labelValue, value }), { maxLength: 40 }),
        fc.array(value, { maxLength: 20 }),
        async (labelled, unlabelled) => {
          const ours = new Registry()
          const theirs = new Registry()
          const config = { name: 'h', help: 'help', buckets: BUCKETS }
          const mine = new BucketedHistogram({ ...config, labelNames: ['app', 'topic'], registers: [ours] })
          const reference = new Histogram({ ...config, labelNames: ['app', 'topic'], registers: [theirs] })
          const mineBare = new BucketedHistogram({ ...config, name: 'bare', registers: [ours] })
          const referenceBare = new Histogram({ ...config, name: 'bare', registers: [theirs] })
          for (const { app, topic, value } of labelled) {
            mine.observe({ app, topic }, value)
            reference.observe({ app, topic }, value)
          }
          for (const v of unlabelled) {
            mineBare.observe(v)
            referenceBare.observe(v)
          }
          expect(await ours.metrics()).toBe(await theirs.metrics())
          expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON())
          mine.reset()
          reference.reset()
          expect(await ours.getSingleMetricAsString('h')).toBe(await theirs.getSingleMetricAsString('h'))
        },
      ),
      { numRuns: 200 },
    )
  })

  it('refuses a value that is not a finite number, as prom-client does', () => {
    const histogram = new BucketedHistogram({ name: 'h', help: 'help', buckets: BUCKETS, registers: [] })
    expect(() => histogram.observe(Number.NaN)).toThrow(/not a valid number/)
    expect(() => histogram.observe(Infinity)).toThrow(/not a valid number/)
  })
})

describe('TalliedCounter', () => {
  it("reports what prom-client's Counter reports after the same increments, across scrapes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ app: labelValue, stage: labelValue, by: fc.nat({ max: 1000 }) }),
            fc.constant('scrape' as const),
            fc.constant('reset' as const),
          ),
          { maxLength: 40 },
        ),
        async (steps) => {
          const ours = new Registry()
          const theirs = new Registry()
          const config = { name: 'c_total', help: 'help', labelNames: ['app', 'stage'] as const }
          const mine = new TalliedCounter({ ...config, registers: [ours] })
          const reference = new Counter({ ...config, registers: [theirs] })
          for (const step of steps) {
            if (step === 'scrape') {
              expect(await ours.metrics()).toBe(await theirs.metrics())
              continue
            }
            if (step === 'reset') {
              ours.resetMetrics()
              theirs.resetMetrics()
              continue
            }
            mine.inc({ app: step.app, stage: step.stage }, step.by)
            reference.inc({ app: step.app, stage: step.stage }, step.by)
          }
          expect(await ours.metrics()).toBe(await theirs.metrics())
          expect(await mine.get()).toEqual(await reference.get())
        },
      ),
      { numRuns: 200 },
    )
  })

  it('refuses at once what prom-client refuses, and names its labels as prom-client does', () => {
    const counter = new TalliedCounter({ name: 'c_total', help: 'help', labelNames: ['app'] as const, registers: [] })
    expect(() => counter.inc({ app: 'a' }, Infinity)).toThrow(/not a valid number/)
    expect(() => counter.inc({ app: 'a' }, -1)).toThrow(/not possible to decrease/)
    expect(counter.labelNames).toEqual(['app'])
    const histogram = new BucketedHistogram({
      name: 'h',
      help: 'h',
      labelNames: ['app'],
      buckets: BUCKETS,
      registers: [],
    })
    expect(histogram.labelNames).toEqual(['app'])
  })
})
