/**
 * How the group member's partitions are divided among the pod's processes of the group: each
 * partition to one process subscribed to its topic, balanced by count, and sticky (a partition
 * stays with its current owner unless moving it evens the counts). Pure: the GroupMember calls it
 * whenever a process comes or goes, or Kafka changes the member's assignment.
 */

export interface AssignablePartition {
  /** Unique per partition (topic and partition number). */
  readonly key: string
  readonly topic: string
}

export interface AssignableProcess {
  readonly id: string
  /** Whether the process subscribed to this topic (by name or by pattern). */
  accepts(topic: string): boolean
}

/**
 * Partition key -> process id for every partition some process accepts. `current` holds each
 * partition's current owner (or the owner it had last, as a hint); an owner not among `processes`
 * is ignored. `excluded` names, per partition, a process it must not go to (one that still works
 * on an ownership of it that was taken away). Deterministic: the same input gives the same answer.
 *
 * Steps: keep every partition with its current owner when that owner still accepts it; give the
 * others, most constrained first, to the least loaded process that accepts them; then move one
 * partition at a time from a process to one that accepts it and holds at least two fewer, until no
 * such move is left. Each move narrows the spread, so the loop ends, and no partition moves that
 * the balance does not need.
 */
export function assignLocally(
  partitions: readonly AssignablePartition[],
  processes: readonly AssignableProcess[],
  current: ReadonlyMap<string, string>,
  excluded: ReadonlyMap<string, string> = new Map(),
): Map<string, string> {
  const sortedProcesses = [...processes].sort((a, b) => compare(a.id, b.id))
  const eligible = new Map<string, AssignableProcess[]>()
  for (const partition of partitions) {
    const accepting = sortedProcesses.filter((p) => p.accepts(partition.topic) && excluded.get(partition.key) !== p.id)
    if (accepting.length > 0) eligible.set(partition.key, accepting)
  }
  const owned = new Map<string, string[]>(sortedProcesses.map((p) => [p.id, []]))
  const result = new Map<string, string>()
  const give = (key: string, processId: string) => {
    result.set(key, processId)
    owned.get(processId)!.push(key)
  }

  const unowned: AssignablePartition[] = []
  for (const partition of [...partitions].sort((a, b) => compare(a.key, b.key))) {
    if (!eligible.has(partition.key)) continue
    const owner = current.get(partition.key)
    if (owner !== undefined && eligible.get(partition.key)!.some((p) => p.id === owner)) give(partition.key, owner)
    else unowned.push(partition)
  }
  // The partitions with the fewest candidates first, so the flexible ones fill the gaps after.
  unowned.sort((a, b) => eligible.get(a.key)!.length - eligible.get(b.key)!.length || compare(a.key, b.key))
  for (const partition of unowned) give(partition.key, leastLoaded(eligible.get(partition.key)!, owned).id)

  balance(eligible, owned, result)
  return result
}

/** Moves single partitions from heavier to lighter processes while one is two or more lighter. */
function balance(
  eligible: ReadonlyMap<string, readonly AssignableProcess[]>,
  owned: Map<string, string[]>,
  result: Map<string, string>,
): void {
  for (;;) {
    const move = bestMove(eligible, owned)
    if (!move) return
    const from = owned.get(move.from)!
    from.splice(from.indexOf(move.key), 1)
    owned.get(move.to)!.push(move.key)
    result.set(move.key, move.to)
  }
}

/** The move that takes from the heaviest process to the lightest that accepts one of its partitions. */
function bestMove(
  eligible: ReadonlyMap<string, readonly AssignableProcess[]>,
  owned: ReadonlyMap<string, readonly string[]>,
): { key: string; from: string; to: string } | null {
  const heaviestFirst = [...owned.entries()].sort((a, b) => b[1].length - a[1].length || compare(a[0], b[0]))
  for (const [from, keys] of heaviestFirst) {
    let best: { key: string; to: string; load: number } | null = null
    // The partition taken last is moved first: the ones held longest stay.
    for (const key of [...keys].reverse()) {
      for (const candidate of eligible.get(key)!) {
        const load = owned.get(candidate.id)!.length
        if (load <= keys.length - 2 && (best === null || load < best.load)) best = { key, to: candidate.id, load }
      }
    }
    if (best) return { key: best.key, from, to: best.to }
  }
  return null
}

function leastLoaded(candidates: readonly AssignableProcess[], owned: ReadonlyMap<string, readonly string[]>) {
  let best = candidates[0]!
  for (const candidate of candidates) if (owned.get(candidate.id)!.length < owned.get(best.id)!.length) best = candidate
  return best
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
