import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { assignLocally, type AssignablePartition, type AssignableProcess } from '../src/consumer/local-assignment.js'

/** A pod: partitions of a few topics, processes each subscribed to some topics, and current owners (some gone). */
const pod = fc
  .record({
    topics: fc.integer({ min: 1, max: 4 }),
    partitionsPerTopic: fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 4, maxLength: 4 }),
    processes: fc.array(fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), { minLength: 0, maxLength: 8 }),
    owners: fc.array(fc.integer({ min: -1, max: 9 }), { minLength: 48, maxLength: 48 }),
  })
  .map(({ topics, partitionsPerTopic, processes, owners }) => {
    const partitions: AssignablePartition[] = []
    for (let t = 0; t < topics; t++)
      for (let p = 0; p < partitionsPerTopic[t]!; p++) partitions.push({ key: `t${t}|${p}`, topic: `t${t}` })
    const procs: AssignableProcess[] = processes.map((subscribed, i) => ({
      id: `p${i}`,
      accepts: (topic: string) => subscribed[Number(topic.slice(1))]!,
    }))
    const current = new Map<string, string>()
    partitions.forEach((partition, i) => {
      const owner = owners[i]!
      if (owner >= 0) current.set(partition.key, `p${owner}`)
    })
    return { partitions, processes: procs, current }
  })

const everyone = (n: number): AssignableProcess[] =>
  Array.from({ length: n }, (_, i) => ({ id: `p${i}`, accepts: () => true }))

function counts(result: Map<string, string>, processes: readonly AssignableProcess[]): Map<string, number> {
  const n = new Map(processes.map((p) => [p.id, 0]))
  for (const owner of result.values()) n.set(owner, n.get(owner)! + 1)
  return n
}

describe('assignLocally', () => {
  it('gives every partition some process accepts to exactly one process that accepts it', () => {
    fc.assert(
      fc.property(pod, ({ partitions, processes, current }) => {
        const result = assignLocally(partitions, processes, current)
        for (const partition of partitions) {
          const accepting = processes.filter((p) => p.accepts(partition.topic))
          const owner = result.get(partition.key)
          if (accepting.length === 0) expect(owner).toBeUndefined()
          else expect(accepting.map((p) => p.id)).toContain(owner)
        }
        expect(result.size).toBeLessThanOrEqual(partitions.length)
      }),
    )
  })

  it('leaves no partition with a process that holds two more than another process accepting it', () => {
    fc.assert(
      fc.property(pod, ({ partitions, processes, current }) => {
        const result = assignLocally(partitions, processes, current)
        const n = counts(result, processes)
        for (const partition of partitions) {
          const owner = result.get(partition.key)
          if (owner === undefined) continue
          for (const other of processes.filter((p) => p.accepts(partition.topic)))
            expect(n.get(other.id)!).toBeGreaterThanOrEqual(n.get(owner)! - 1)
        }
      }),
    )
  })

  it('balances to max - min <= 1 when every process subscribes to every topic', () => {
    fc.assert(
      fc.property(pod, fc.integer({ min: 1, max: 8 }), ({ partitions, current }, k) => {
        const processes = everyone(k)
        const n = [...counts(assignLocally(partitions, processes, current), processes).values()]
        expect(Math.max(...n) - Math.min(...n)).toBeLessThanOrEqual(1)
      }),
    )
  })

  it('moves no more partitions from their live owners than balance needs (every process subscribed to everything)', () => {
    fc.assert(
      fc.property(pod, fc.integer({ min: 1, max: 8 }), ({ partitions, current }, k) => {
        const processes = everyone(k)
        const result = assignLocally(partitions, processes, current)
        const live = new Set(processes.map((p) => p.id))
        const held = processes.map(
          (p) => [...current].filter(([key, o]) => o === p.id && partitions.some((x) => x.key === key)).length,
        )
        const moved = partitions.filter(
          (p) => live.has(current.get(p.key) ?? '') && result.get(p.key) !== current.get(p.key),
        ).length
        // The fewest moves: the r processes holding most get q + 1, the rest q; each keeps what fits.
        const q = Math.floor(partitions.length / k)
        const r = partitions.length % k
        const quotas = [...held].sort((a, b) => b - a).map((_, i) => (i < r ? q + 1 : q))
        const kept = [...held].sort((a, b) => b - a).reduce((sum, h, i) => sum + Math.min(h, quotas[i]!), 0)
        expect(moved).toBe(held.reduce((a, b) => a + b, 0) - kept)
      }),
    )
  })

  it('is stable: assigning again from its own answer moves nothing', () => {
    fc.assert(
      fc.property(pod, ({ partitions, processes, current }) => {
        const first = assignLocally(partitions, processes, current)
        expect(assignLocally(partitions, processes, first)).toEqual(first)
      }),
    )
  })

  it('gives a new process its share from the others, and takes nothing else away', () => {
    const partitions = Array.from({ length: 12 }, (_, i) => ({ key: `t|${i}`, topic: 't' }))
    const two = assignLocally(partitions, everyone(2), new Map())
    const three = assignLocally(partitions, everyone(3), two)
    expect([...counts(three, everyone(3)).values()]).toEqual([4, 4, 4])
    expect([...three].filter(([key, owner]) => owner !== two.get(key)).every(([, owner]) => owner === 'p2')).toBe(true)
  })
})
