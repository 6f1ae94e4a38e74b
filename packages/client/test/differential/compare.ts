/**
 * Comparing observations. Plain KafkaJS is the baseline, run several times: a group whose value
 * differs between two baseline runs of the same module system varies by itself (null keys
 * round-robin from a random partition, timings), so it is compared by a weaker, stated rule:
 *
 *   exact     the normalised JSON is equal
 *   weak      records.*, traceparent.*: the multiset of per-partition record counts, and the records as a
 *               multiset (partition and order left out)
 *             events.*: the event shapes and request api names (count left out)
 *             spans: name, kind, parent and status code of every span, as a multiset
 *             handles: the set of handle types
 *             anything else: the shape (keys and value types, error class/name/retriable)
 *   presence  only whether the group is there
 *
 * Each group is compared at the strictest level on which all baseline runs agreed. A group the
 * baseline runs disagree on even by presence is not compared at all (and reported as such).
 */
import type { ComparedMode, ModuleSystem } from './plan.js'
import { shape, type Observation } from './normalise.js'

export type Level = 'exact' | 'weak' | 'presence' | 'unstable'
const LEVELS: readonly Level[] = ['exact', 'weak', 'presence']

export const ABSENT = '<absent>'

function canonical(value: unknown): string {
  return JSON.stringify(value === undefined ? ABSENT : value)
}

function sortedJson(values: readonly unknown[]): unknown[] {
  return values.map((v) => JSON.stringify(v)).sort()
}

/** The weak form of a group's value, by the rule its path names (see above). */
export function weakForm(path: string, value: unknown): unknown {
  if (value === undefined) return ABSENT
  if (path.startsWith('records.') || path.startsWith('traceparent.')) {
    if (typeof value !== 'object' || value === null) return value
    const partitions = Object.values(value as Record<string, unknown[]>)
    return {
      counts: partitions.map((records) => records.length).sort((a, b) => a - b),
      records: sortedJson(partitions.flat()),
    }
  }
  if (path.startsWith('events.')) {
    const { count: _count, ...rest } = value as Record<string, unknown>
    return rest
  }
  if (path === 'spans')
    return sortedJson(
      (value as Array<Record<string, unknown>>).map(({ name, kind, parent, status }) => ({
        name,
        kind,
        parent,
        status: (status as { code: unknown }).code,
      })),
    )
  if (path === 'handles') return [...new Set(value as string[])].sort()
  return shape(value)
}

function formAt(level: Level, path: string, value: unknown): string {
  if (level === 'exact') return canonical(value)
  if (level === 'weak') return canonical(weakForm(path, value))
  return value === undefined ? 'absent' : 'present'
}

/** Program -> path -> the level all baseline observations of that group agree on. */
export type Stability = Map<string, Map<string, Level>>

/**
 * Learns, from baseline observations of one module system (each a run of the whole corpus:
 * program name -> observation), the level each group is stable at. Call once per module system
 * and merge with `weakest`: a group unstable in either is unstable.
 */
export function learnStability(baselines: ReadonlyArray<Map<string, Observation>>): Stability {
  const stability: Stability = new Map()
  const programs = new Set(baselines.flatMap((b) => [...b.keys()]))
  for (const program of programs) {
    const paths = new Set(baselines.flatMap((b) => [...(b.get(program)?.keys() ?? [])]))
    const levels = new Map<string, Level>()
    for (const path of paths) {
      const values = baselines.filter((b) => b.has(program)).map((b) => b.get(program)!.get(path))
      levels.set(
        path,
        LEVELS.find((level) => new Set(values.map((v) => formAt(level, path, v))).size === 1) ?? 'unstable',
      )
    }
    stability.set(program, levels)
  }
  return stability
}

export function weakest(a: Stability, b: Stability): Stability {
  const merged: Stability = new Map()
  for (const program of new Set([...a.keys(), ...b.keys()])) {
    const levels = new Map<string, Level>()
    for (const path of new Set([...(a.get(program)?.keys() ?? []), ...(b.get(program)?.keys() ?? [])])) {
      const order: readonly Level[] = [...LEVELS, 'unstable']
      const la = a.get(program)?.get(path) ?? 'exact'
      const lb = b.get(program)?.get(path) ?? 'exact'
      levels.set(path, order[Math.max(order.indexOf(la), order.indexOf(lb))]!)
    }
    merged.set(program, levels)
  }
  return merged
}

export interface Difference {
  readonly program: string
  readonly mode: ComparedMode
  readonly system: ModuleSystem
  readonly path: string
  readonly level: Level
  readonly baseline: unknown
  readonly actual: unknown
}

/** Every group of `actual` (one run: program -> observation) that differs from `baseline` at its learned level. */
export function differences(
  baseline: Map<string, Observation>,
  actual: Map<string, Observation>,
  stability: Stability,
  mode: ComparedMode,
  system: ModuleSystem,
): Difference[] {
  const found: Difference[] = []
  for (const program of new Set([...baseline.keys(), ...actual.keys()])) {
    const want = baseline.get(program) ?? new Map<string, unknown>()
    const got = actual.get(program) ?? new Map<string, unknown>()
    for (const path of new Set([...want.keys(), ...got.keys()])) {
      // A group no baseline run had is a difference at any level; so is one missing from this run.
      const level = stability.get(program)?.get(path) ?? 'exact'
      if (level === 'unstable') continue
      if (formAt(level, path, want.get(path)) !== formAt(level, path, got.get(path))) {
        found.push({ program, mode, system, path, level, baseline: want.get(path), actual: got.get(path) })
      }
    }
  }
  return found
}

/** The groups learned at `level`, as `program: path` (e.g. the unstable ones, shown so nobody mistakes them for compared). */
export function groupsAt(stability: Stability, level: Level): string[] {
  return [...stability].flatMap(([program, levels]) =>
    [...levels].filter(([, l]) => l === level).map(([path]) => `${program}: ${path}`),
  )
}

// --- showing a difference --------------------------------------------------------------------

function leaves(value: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value)
      ? value.map((v, i) => [String(i), v] as const)
      : Object.entries(value as Record<string, unknown>)
    if (entries.length === 0) out.set(prefix || '(value)', Array.isArray(value) ? '[]' : '{}')
    for (const [k, v] of entries) leaves(v, prefix ? `${prefix}.${k}` : k, out)
    return out
  }
  const text = JSON.stringify(value === undefined ? ABSENT : value)
  out.set(prefix || '(value)', text.length > 160 ? `${text.slice(0, 160)}...` : text)
  return out
}

const MAX_LINES = 12

/** A difference as lines a person can read: where, by which rule, and each differing leaf, baseline vs actual. */
export function describeDifference(d: Difference): string {
  const header = `${d.program} | ${d.mode} | ${d.system} | ${d.path} (compared ${d.level})`
  const [want, got] =
    d.level === 'weak' ? [weakForm(d.path, d.baseline), weakForm(d.path, d.actual)] : [d.baseline, d.actual]
  const a = leaves(want)
  const b = leaves(got)
  const lines: string[] = []
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    if (a.get(key) === b.get(key)) continue
    lines.push(`    ${key}: ${a.get(key) ?? ABSENT}  ->  ${b.get(key) ?? ABSENT}`)
  }
  const shown = lines.slice(0, MAX_LINES)
  if (lines.length > MAX_LINES) shown.push(`    ... ${lines.length - MAX_LINES} more`)
  return [header, '    (baseline: plain KafkaJS  ->  actual)', ...shown].join('\n')
}
