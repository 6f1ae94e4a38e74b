/**
 * The differential harness (issue 12): the corpus runs on plain KafkaJS, on the built client in
 * direct mode and in sidecar mode (a real sidecar), in a CommonJS and an ESM application
 * process each, traced by OpenTelemetry's kafkajs instrumentation, on the same embedded
 * clusters. Every difference from plain KafkaJS must be on the list in
 * deliberate-differences.ts, and everything on the list must happen. See README.md.
 *
 * Set DIFF_REPORT=/path/file.json to write every observation difference found (listed or not).
 */
import { writeFileSync } from 'node:fs'
import { describe, expect, it, onTestFinished } from 'vitest'
import { expectFreshBuild } from '../built-package.js'
import { describeDifference, differences, learnStability, groupsAt, weakest, type Difference } from './compare.js'
import { covers, DELIBERATE_DIFFERENCES, unmet } from './deliberate-differences.js'
import { preparePlan, readKafka, runChild, startEnvironment, type ChildRun, type Environment } from './harness.js'
import { observeRun, type Observation } from './normalise.js'
import { corpus, MODES, MODULE_SYSTEMS, ONLY, type Mode, type ModuleSystem, type Plan } from './plan.js'

/** Baseline passes per module system: enough that a group varying by itself is seen to vary. */
const BASELINE_PASSES = 4
/** Application processes at a time (two cores). */
const PARALLEL = 2

async function inPool<T>(jobs: ReadonlyArray<() => Promise<T>>, width: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length)
  let next = 0
  const lane = async () => {
    while (next < jobs.length) {
      const i = next++
      results[i] = await jobs[i]!()
    }
  }
  await Promise.all(Array.from({ length: width }, lane))
  return results
}

interface Observed {
  readonly run: ChildRun
  readonly passes: Array<Map<string, Observation>>
}

async function observe(env: Environment, mode: Mode, system: ModuleSystem, plan: Plan): Promise<Observed> {
  const run = await runChild(env, mode, system, plan)
  const kafka = await readKafka(env, plan)
  return { run, passes: observeRun(env, plan.passes, run.result?.passes ?? null, kafka, run.process) }
}

function sidecarRequests(env: Environment): Promise<number> {
  return Promise.all(
    Object.values(env.sidecars).map(async (s) =>
      (await s.metrics.registry.getSingleMetric('kafka_sidecar_requests_total')!.get()).values.reduce(
        (n, v) => n + v.value,
        0,
      ),
    ),
  ).then((counts) => counts.reduce((a, b) => a + b, 0))
}

describe('differential: plain KafkaJS vs the client (direct, sidecar) in CommonJS and ESM applications', () => {
  it(
    'every difference is a listed deliberate difference, and every listed one happens',
    { timeout: 240_000 },
    async () => {
      expectFreshBuild()
      const started = Date.now()
      const env = await startEnvironment()
      onTestFinished(() => env.stop())

      const runs: Array<[Mode, ModuleSystem]> = [
        ...MODULE_SYSTEMS.map((s) => ['plain', s] as [Mode, ModuleSystem]),
        ...MODES.flatMap((m) => MODULE_SYSTEMS.map((s) => [m, s] as [Mode, ModuleSystem])),
      ]
      const plans: Plan[] = []
      for (const [mode] of runs) plans.push(await preparePlan(env, mode, mode === 'plain' ? BASELINE_PASSES : 1))
      const observed = await inPool(
        runs.map(
          ([mode, system], i) =>
            () =>
              observe(env, mode, system, plans[i]!),
        ),
        PARALLEL,
      )
      const find = (mode: Mode, system: ModuleSystem) =>
        observed[runs.findIndex(([m, s]) => m === mode && s === system)]!

      // The harness itself works: every process ran the whole corpus, the baseline is traced, the sidecar was used.
      for (const { run } of observed) {
        expect(run.result, `${run.mode}/${run.system} wrote no result; stderr:\n${run.process.stderr}`).not.toBeNull()
        expect(run.result!.passes.map((pass) => pass.length)).toEqual(run.plan.passes.map(() => corpus.length))
      }
      const tracedBaseline = find('plain', 'cjs').run.result!.passes[0]!.find((p) => p.name === 'send-keyed')
      if (!ONLY || tracedBaseline)
        expect(tracedBaseline?.spans.length, 'the kafkajs instrumentation traced plain KafkaJS').toBe(20)
      expect(await sidecarRequests(env), 'the sidecar served the sidecar-mode runs').toBeGreaterThan(0)

      const stability = MODULE_SYSTEMS.map((system) => learnStability(find('plain', system).passes)).reduce(weakest)
      const found: Difference[] = []
      for (const mode of MODES) {
        for (const system of MODULE_SYSTEMS)
          found.push(
            ...differences(find('plain', system).passes[0]!, find(mode, system).passes[0]!, stability, mode, system),
          )
      }
      if (process.env.DIFF_REPORT) {
        // What varied by itself: the distinct baseline values of every group not compared exactly.
        const varying = [
          ...groupsAt(stability, 'weak'),
          ...groupsAt(stability, 'presence'),
          ...groupsAt(stability, 'unstable'),
        ]
        const baselineValues = Object.fromEntries(
          varying.map((group) => {
            const [program, path] = group.split(': ') as [string, string]
            const values = MODULE_SYSTEMS.flatMap((system) =>
              find('plain', system).passes.map((pass) => JSON.stringify(pass.get(program)?.get(path) ?? null)),
            )
            return [group, [...new Set(values)].map((v) => JSON.parse(v) as unknown)]
          }),
        )
        const levels = {
          weak: groupsAt(stability, 'weak'),
          presence: groupsAt(stability, 'presence'),
          unstable: groupsAt(stability, 'unstable'),
        }
        writeFileSync(process.env.DIFF_REPORT, JSON.stringify({ found, levels, baselineValues }, null, 2))
      }

      const unlisted = found.filter((d) => !DELIBERATE_DIFFERENCES.some((entry) => covers(entry, d)))
      // A partial corpus (DIFF_ONLY) cannot show what every entry promises.
      const stale = ONLY ? [] : DELIBERATE_DIFFERENCES.flatMap((entry) => unmet(entry, found))
      const comparedGroups = observed
        .filter((o) => o.run.mode !== 'plain')
        .reduce((n, o) => n + [...o.passes[0]!.values()].reduce((m, obs) => m + obs.size, 0), 0)
      const summary = `${corpus.length} programs, ${MODES.length} modes x ${MODULE_SYSTEMS.length} module systems, ${comparedGroups} observation groups compared, ${found.length} differences (${unlisted.length} unlisted), ${stale.length} listed but not seen; compared weakly: ${groupsAt(stability, 'weak').length + groupsAt(stability, 'presence').length}, not compared (unstable in the baseline): ${groupsAt(stability, 'unstable').join(', ') || 'none'}; ${Math.round((Date.now() - started) / 1000)} s`
      expect(
        unlisted.map(describeDifference).join('\n\n'),
        `${summary}\nDifferences not on the list (add them to deliberate-differences.ts with a reason, or fix them):`,
      ).toBe('')
      expect(stale, `${summary}\nListed differences that no longer happen (remove or narrow them):`).toEqual([])
    },
  )
})
