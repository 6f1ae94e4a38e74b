/**
 * The resolved offsets of the partitions a consumer owns, read as KafkaJS's OffsetManager reads
 * them: what is resolved and not committed (uncommittedOffsets, and what a commit sends), and how
 * many offsets that is (autoCommitThreshold).
 */
import type { OffsetsByTopicPartition } from 'kafkajs'
import type { Ownership } from './ownerships.js'

/** An offset to commit for an owned partition, as the COMMIT_OFFSETS event and the wire need it. */
export interface OffsetToCommit {
  readonly owned: Ownership
  readonly offset: bigint
}

/**
 * Resolved, different from the committed offset, and not negative: KafkaJS's rule. An offset a
 * background auto-commit is committing counts as committed (KafkaJS would have awaited it); if
 * that commit fails it is uncommitted again.
 */
function uncommitted(owned: Ownership): boolean {
  return (
    owned.resolved !== null &&
    owned.resolved !== owned.committed &&
    owned.resolved !== owned.committing &&
    owned.resolved >= 0n
  )
}

export function offsetsToCommit(ownerships: readonly Ownership[]): OffsetToCommit[] {
  return ownerships.filter(uncommitted).map((owned) => ({ owned, offset: owned.resolved! }))
}

/**
 * As KafkaJS lists them: by topic, partitions ascending, the partition as a string (KafkaJS reads
 * them from an object's keys) and the offset as a string.
 */
export function asTopicOffsets(offsets: readonly OffsetToCommit[]): OffsetsByTopicPartition {
  const byTopic = new Map<string, OffsetToCommit[]>()
  for (const entry of offsets) byTopic.set(entry.owned.topic, [...(byTopic.get(entry.owned.topic) ?? []), entry])
  return {
    topics: [...byTopic].map(([topic, entries]) => ({
      topic,
      partitions: entries
        .sort((a, b) => a.owned.partition - b.owned.partition)
        .map(({ owned, offset }) => ({ partition: String(owned.partition), offset: String(offset) }) as never),
    })),
  }
}

/** How many offsets are resolved beyond the committed ones (all of them where none is known). */
export function countResolved(ownerships: readonly Ownership[]): bigint {
  let sum = 0n
  for (const owned of ownerships) {
    if (owned.resolved === null) continue
    const committed = owned.committing ?? owned.committed
    sum += committed === null || committed < 0n ? owned.resolved : owned.resolved - committed
  }
  return sum
}
