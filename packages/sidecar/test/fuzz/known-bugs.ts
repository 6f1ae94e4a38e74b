/**
 * Open bugs the fuzzer finds, fixed on another branch (h1-sidecar). The CI property skips the
 * scenarios that reach them, and only those, so it stays green meanwhile; FUZZ_INCLUDE_KNOWN_BUGS=1
 * generates them again. Remove an entry (and its predicate) when its fix lands: the property then
 * covers the case again.
 */
import { expectationOf, FUZZ_LIMITS, type World } from './oracle.js'
import { ALLOWED_PREFIX, plan, PROTOTYPE_KEYS, runNames, type Scenario } from './scenario.js'

export interface KnownBug {
  readonly id: string
  readonly issue: string
  /** Whether the scenario has a request that reaches the bug. */
  readonly reaches: (scenario: Scenario) => boolean
}

/** The expectation of every request that decodes, with placeholder names (existence follows from the topic references). */
function dryRun(scenario: Scenario) {
  const names = runNames(scenario)
  const partitions = new Map<string, number>(names.existing.map((name, i) => [name, scenario.topics[i]!]))
  partitions.set(names.longest, 1)
  const world: World = { partitions, allowedPrefix: ALLOWED_PREFIX }
  return plan(scenario, names).flatMap((p) => (p.seen.ok && p.bytes.length <= FUZZ_LIMITS.maxRequestBytes ? [expectationOf(p.seen.request, world)] : []))
}

export const KNOWN_OPEN_BUGS: readonly KnownBug[] = [
  {
    id: 'prototype-header-names',
    issue:
      'A header named like an Object.prototype key (constructor, toString, __proto__, hasOwnProperty...) makes record-pipeline.ts throw while it queues a ' +
      'request, after part of the request was queued and its memory reserved: the request is refused INTERNAL, the reservation leaks, and the records ' +
      'queued before the throw are written anyway (a second time once the client falls back).',
    // Only a request that passes every check reaches the queueing loop.
    reaches: (scenario) => dryRun(scenario).some((e) => e.certain.length === 0 && e.records.some((r) => r.record.headers.some((h) => PROTOTYPE_KEYS.includes(h.key)))),
  },
  {
    id: 'sidecar-creates-unknown-topics',
    issue:
      'The sidecar creates an unknown topic itself (admin CreateTopics) when allow_auto_topic_creation is true or unset, even though the brokers do not ' +
      'auto-create topics: a KafkaJS producer in direct mode would get UNKNOWN_TOPIC_OR_PARTITION and create nothing.',
    reaches: (scenario) =>
      dryRun(scenario).some((e) => e.decoded!.allowAutoTopicCreation !== false && e.certain.some((p) => p.stage === 'metadata') && e.certain.every((p) => p.stage === 'metadata' || p.stage === 'admit')),
  },
]

/** The first known open bug the scenario reaches, among those not `included` (generated again on purpose). */
export function knownOpenBug(scenario: Scenario, included: readonly string[] = []): KnownBug | undefined {
  return KNOWN_OPEN_BUGS.find((bug) => !included.includes(bug.id) && bug.reaches(scenario))
}
