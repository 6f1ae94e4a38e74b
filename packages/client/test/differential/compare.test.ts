/**
 * The harness's own rules, on made-up observations: what varies by itself is learned from the
 * baseline and compared weakly, anything else exactly; an entry of the list covers only what it
 * names and must keep happening.
 */
import { describe, expect, it } from 'vitest'
import { describeDifference, differences, groupsAt, learnStability, weakest, type Difference } from './compare.js'
import { covers, unmet, type DeliberateDifference } from './deliberate-differences.js'
import type { Observation } from './normalise.js'

const record = (value: string) => ({ key: null, value, headers: [] })

function run(groups: Record<string, unknown>): Map<string, Observation> {
  return new Map([['program', new Map(Object.entries(groups))]])
}

describe('learning what varies by itself', () => {
  const baselines = [
    run({
      'steps.send': { ok: true, value: [{ partition: 0 }] },
      'records.t': { 0: [record('a')], 1: [] },
      'notes.n': 1,
    }),
    run({
      'steps.send': { ok: true, value: [{ partition: 0 }] },
      'records.t': { 0: [], 1: [record('a')] },
      'notes.n': 2,
    }),
  ]
  const stability = learnStability(baselines)

  it('a group equal in every baseline run is exact; a round-robin is weak; a varying note is compared by shape', () => {
    expect(stability.get('program')).toEqual(
      new Map([
        ['steps.send', 'exact'],
        ['records.t', 'weak'],
        ['notes.n', 'weak'],
      ]),
    )
    expect(groupsAt(stability, 'weak')).toEqual(['program: records.t', 'program: notes.n'])
  })

  it('a weak group still fails on a different record or count; an exact one on any change', () => {
    const same = run({
      'steps.send': { ok: true, value: [{ partition: 0 }] },
      'records.t': { 0: [], 1: [record('a')] },
      'notes.n': 7,
    })
    expect(differences(baselines[0]!, same, stability, 'sidecar', 'cjs')).toEqual([])
    const other = run({
      'steps.send': { ok: true, value: [{ partition: 1 }] },
      'records.t': { 0: [record('b')], 1: [] },
      'notes.n': 'seven',
    })
    expect(differences(baselines[0]!, other, stability, 'sidecar', 'cjs').map((d) => `${d.path} ${d.level}`)).toEqual([
      'steps.send exact',
      'records.t weak',
      'notes.n weak',
    ])
  })

  it('a group missing from a run, or only in it, is a difference', () => {
    const extra = run({
      'steps.send': { ok: true, value: [{ partition: 0 }] },
      'records.t': { 0: [record('a')], 1: [] },
      'events.x': { count: 1 },
    })
    expect(
      differences(baselines[0]!, extra, stability, 'direct', 'esm')
        .map((d) => d.path)
        .sort(),
    ).toEqual(['events.x', 'notes.n'])
  })

  it('merging two module systems keeps the weaker level', () => {
    const a = new Map([
      [
        'p',
        new Map([
          ['x', 'exact' as const],
          ['y', 'weak' as const],
        ]),
      ],
    ])
    const b = new Map([
      [
        'p',
        new Map([
          ['x', 'presence' as const],
          ['y', 'exact' as const],
        ]),
      ],
    ])
    expect(weakest(a, b).get('p')).toEqual(
      new Map([
        ['x', 'presence'],
        ['y', 'weak'],
      ]),
    )
  })

  it('a difference reads as program, mode, system, path and each differing leaf', () => {
    const d: Difference = {
      program: 'p',
      mode: 'sidecar',
      system: 'esm',
      path: 'steps.send',
      level: 'exact',
      baseline: { ok: true, value: [] },
      actual: { ok: false, error: { name: 'E' } },
    }
    expect(describeDifference(d)).toBe(
      [
        'p | sidecar | esm | steps.send (compared exact)',
        '    (baseline: plain KafkaJS  ->  actual)',
        '    ok: true  ->  false',
        '    value: []  ->  <absent>',
        '    error.name: <absent>  ->  "E"',
      ].join('\n'),
    )
  })
})

describe('the list', () => {
  const difference = (
    program: string,
    path: string,
    mode: 'direct' | 'sidecar' = 'sidecar',
    system: 'cjs' | 'esm' = 'cjs',
  ): Difference => ({
    program,
    mode,
    system,
    path,
    level: 'exact',
    baseline: 1,
    actual: 2,
  })
  const entry: DeliberateDifference = {
    id: 'X',
    modes: ['sidecar'],
    systems: ['cjs'],
    programs: ['a', 'b'],
    paths: ['steps.*', 'spans'],
    reason: 'r',
    instead: 'i',
  }

  it('covers only its modes, systems, programs and paths', () => {
    expect(covers(entry, difference('a', 'steps.send'))).toBe(true)
    expect(covers(entry, difference('a', 'records.t'))).toBe(false)
    expect(covers(entry, difference('c', 'spans'))).toBe(false)
    expect(covers(entry, difference('a', 'spans', 'direct'))).toBe(false)
    expect(covers(entry, difference('a', 'spans', 'sidecar', 'esm'))).toBe(false)
  })

  it('must happen for every program it names and match a difference with every path', () => {
    expect(unmet(entry, [difference('a', 'steps.send'), difference('b', 'spans')])).toEqual([])
    expect(unmet(entry, [difference('a', 'steps.send')])).toEqual([
      'X: no difference for b in sidecar/cjs',
      'X: path spans matches no difference',
    ])
    expect(unmet({ ...entry, programs: '*' }, [])).toEqual([
      'X: no difference in sidecar/cjs',
      'X: path steps.* matches no difference',
      'X: path spans matches no difference',
    ])
    expect(unmet({ ...entry, intermittent: true }, [])).toEqual([])
  })
})
