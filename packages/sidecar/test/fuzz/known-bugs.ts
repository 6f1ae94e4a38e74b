/**
 * Open bugs the fuzzer finds, fixed on another branch (h1-sidecar). The CI property skips the
 * scenarios that reach them, and only those, so it stays green meanwhile; FUZZ_INCLUDE_KNOWN_BUGS=1
 * generates them again. Remove an entry (and its predicate) when its fix lands: the property then
 * covers the case again.
 */
import { expectationOf, FUZZ_LIMITS, type World } from './oracle.js'
import { ALLOWED_PREFIX, plan, runNames, type Scenario } from './scenario.js'

export interface KnownBug {
  readonly id: string
  readonly issue: string
  /** Whether the scenario has a request that reaches the bug. */
  readonly reaches: (scenario: Scenario) => boolean
}

/** The expectation of every request that decodes, with placeholder names (existence follows from the topic references). */
export function dryRun(scenario: Scenario) {
  const names = runNames(scenario)
  const partitions = new Map<string, number>(names.existing.map((name, i) => [name, scenario.topics[i]!]))
  partitions.set(names.longest, 1)
  const world: World = { partitions, allowedPrefix: ALLOWED_PREFIX }
  return plan(scenario, names).flatMap((p) =>
    p.seen.ok && p.bytes.length <= FUZZ_LIMITS.maxRequestBytes ? [expectationOf(p.seen.request, world)] : [],
  )
}

// Both bugs found while this list was kept (prototype header names, sidecar-created topics) are
// fixed; the property covers them again. Add an entry here only while a fix is on its way.
export const KNOWN_OPEN_BUGS: readonly KnownBug[] = []

/** The first known open bug the scenario reaches, among those not `included` (generated again on purpose). */
export function knownOpenBug(scenario: Scenario, included: readonly string[] = []): KnownBug | undefined {
  return KNOWN_OPEN_BUGS.find((bug) => !included.includes(bug.id) && bug.reaches(scenario))
}
