/**
 * Property-based fuzzing of a real sidecar (grpc-js on a Unix socket, KafkaJS, embedded-kafka
 * over TCP) with arbitrary requests over unary Emit, EmitStream and raw bytes, fired at once, a
 * stream sometimes cancelled midway. For every run: each request is answered within a bound, by
 * an ack or by a refusal naming its problem (the stream's order barrier included); the cluster
 * holds exactly the acked records, each once, in the acked place, and no topic appears; every
 * accepted record is reported delivered or failed; the sidecar returns to idle (memory gauges at
 * zero), stays healthy and serves a good request. The model of a correct answer is in
 * fuzz/oracle.ts, the generators in fuzz/scenario.ts.
 *
 * FUZZ_RUNS (default 100, about 15 s) sets the number of runs, FUZZ_TIME_LIMIT_MS stops starting
 * new ones after that long (and shrinking 3 minutes later); FUZZ_SEED and FUZZ_PATH replay a failure (the
 * failure message prints both); FUZZ_INCLUDE_KNOWN_BUGS=all (or a comma-separated list of ids)
 * also generates the scenarios of KNOWN_OPEN_BUGS; FUZZ_STATS=1 prints what the runs were answered.
 */
import fc from 'fast-check'
import { describe, it, onTestFinished } from 'vitest'
import { knownOpenBug } from './fuzz/known-bugs.js'
import { runScenario, type RunStats } from './fuzz/run.js'
import { scenarioArb, type Scenario } from './fuzz/scenario.js'
import { FuzzTarget } from './fuzz/target.js'

const RUNS = Number(process.env.FUZZ_RUNS ?? 100)
/** Stop starting runs after this long (a long local run: as many runs as fit). */
const TIME_LIMIT_MS = process.env.FUZZ_TIME_LIMIT_MS === undefined ? undefined : Number(process.env.FUZZ_TIME_LIMIT_MS)
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED)
const PATH = process.env.FUZZ_PATH
/** 'all', or comma-separated ids of KNOWN_OPEN_BUGS to generate again. */
const INCLUDE_KNOWN_BUGS = (process.env.FUZZ_INCLUDE_KNOWN_BUGS ?? '').split(',').filter(Boolean)
const skipped = (scenario: Scenario) => {
  const bug = knownOpenBug(scenario, INCLUDE_KNOWN_BUGS.includes('all') ? [] : INCLUDE_KNOWN_BUGS)
  return bug !== undefined
}

describe('sidecar under arbitrary requests (fast-check)', () => {
  it(
    'answers every request within a bound, writes exactly what it acked, reports every accepted record, and returns to idle',
    async () => {
      const target = await FuzzTarget.start()
      onTestFinished(() => target.close())
      const stats: RunStats = { answers: new Map(), recordsWritten: 0 }
      const scenarios = scenarioArb.filter((s) => !skipped(s))
      const property = fc.asyncProperty(scenarios, async (scenario) => {
        // A failed run may leave state behind (a leaked reservation, a stuck queue): each run,
        // shrinking runs included, starts from a sidecar that passed every run before it.
        if (target.dirty) await target.restart()
        try {
          await runScenario(target, scenario, stats)
        } catch (error) {
          target.dirty = true
          throw error
        }
      })
      const started = Date.now()
      const result = await fc.check(property, {
        numRuns: RUNS,
        seed: SEED,
        path: PATH,
        endOnFailure: PATH !== undefined,
        interruptAfterTimeLimit: TIME_LIMIT_MS,
        markInterruptAsFailure: false,
        skipAllAfterTimeLimit: TIME_LIMIT_MS === undefined ? undefined : TIME_LIMIT_MS + 180_000,
      })
      if (process.env.FUZZ_STATS === '1') {
        process.stderr.write(
          `fuzz: ${result.numRuns} runs (${result.numSkips} skipped${result.interrupted ? ', stopped at the time limit' : ''}), seed ${result.seed}, ${Date.now() - started} ms; answers ${JSON.stringify(Object.fromEntries(stats.answers))}; ${stats.recordsWritten} records read back\n`,
        )
      }
      if (result.failed) {
        const bug = result.counterexample ? knownOpenBug(result.counterexample[0]) : undefined
        throw new Error(
          `${fc.defaultReportMessage(result)}\n\n${result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance)}\n\nreplay: FUZZ_SEED=${result.seed} FUZZ_PATH=${result.counterexamplePath} FUZZ_RUNS=${RUNS}${INCLUDE_KNOWN_BUGS.length > 0 ? ` FUZZ_INCLUDE_KNOWN_BUGS=${INCLUDE_KNOWN_BUGS.join(',')}` : ''}` +
            (bug ? `\nthis counterexample reaches known open bug "${bug.id}": ${bug.issue}` : ''),
        )
      }
    },
    (TIME_LIMIT_MS ?? RUNS * 3_000) + 120_000,
  )
})
