/**
 * The partitions this consumer owns now, each an ownership the sidecar named with an assignment id
 * (consumer.proto, rule 1): its batches, its offsets, and whether the batch in hand must stop. An
 * ownership ends when the sidecar revokes it, leaves it out of a new assignment, or the stream is
 * lost; a partition given back later is a new ownership, with offsets of its own.
 */
import type { OwnedPartition } from '@kafka-sidecar/proto'
import type { IMemberAssignment, TopicPartitions } from 'kafkajs'
import type { SidecarBatch } from './sidecar-batch.js'

/** A batch as delivered: the Batch the handler sees, and what the sidecar needs to hear back. */
export interface DeliveredBatch {
  readonly batchId: number
  readonly batch: SidecarBatch
}

export class Ownership {
  /** The next offset to process, as KafkaJS's resolveOffset(o) leaves it (o + 1); null: none yet. */
  resolved: bigint | null = null
  /** What was last committed for this ownership (or where it started); null: unknown. */
  committed: bigint | null = null
  /** The resolved offset last reported as progress. */
  reported: bigint | null = null
  /** consumer.seek() waiting for the batch in hand to end: KafkaJS's hasSeekOffset. */
  seekTo: string | null = null
  /** Revoked, left out of an assignment, or lost with the stream: no batch of it runs any more. */
  ended = false
  /** Ended by `revoke`: the sidecar waits for `released` once its batch is over. */
  revoked = false
  busy = false
  readonly pending: DeliveredBatch[] = []

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly assignmentId: number,
  ) {}

  /** KafkaJS's isStale(): a seek, or (beyond KafkaJS's) the partition is no longer this process's. */
  get stale(): boolean {
    return this.seekTo !== null || this.ended
  }

  /** The offset processing stands at, for `done` and `released`: resolved, or where the batch began. */
  position(batch: SidecarBatch | null): bigint | null {
    if (this.resolved !== null) return this.resolved
    const first = batch?.firstOffset()
    return first == null ? this.committed : BigInt(first)
  }

  end(): void {
    this.ended = true
    this.pending.length = 0
  }
}

function keyOf(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`
}

export class Ownerships {
  private readonly byKey = new Map<string, Ownership>()
  /** Revoked, and not yet released: their offsets may still be committed. */
  private readonly releasing = new Set<Ownership>()

  get size(): number {
    return this.byKey.size
  }

  all(): Ownership[] {
    return [...this.byKey.values()]
  }

  /** The ownerships whose offsets count: the current ones, and those revoked but not yet released. */
  withOffsets(): Ownership[] {
    return [...this.byKey.values(), ...this.releasing]
  }

  /** A revoked ownership was given up (`released` sent). */
  released(owned: Ownership): void {
    this.releasing.delete(owned)
  }

  get(topic: string, partition: number): Ownership | undefined {
    return this.byKey.get(keyOf(topic, partition))
  }

  /** The ownership a batch or report is about, unless it has ended since. */
  current(topic: string, partition: number, assignmentId: number): Ownership | undefined {
    const owned = this.get(topic, partition)
    return owned && owned.assignmentId === assignmentId && !owned.ended ? owned : undefined
  }

  /**
   * Takes a new assignment (this process's partitions now). Returns the ownerships it ended: those
   * left out, and those given again under a new id.
   */
  assign(partitions: readonly OwnedPartition[]): Ownership[] {
    const next = new Map<string, Ownership>()
    for (const { topic, partition, assignmentId } of partitions) {
      const key = keyOf(topic, partition)
      const owned = this.byKey.get(key)
      next.set(
        key,
        owned && owned.assignmentId === assignmentId && !owned.ended
          ? owned
          : new Ownership(topic, partition, assignmentId),
      )
    }
    const ended = [...this.byKey.entries()].filter(([key, owned]) => next.get(key) !== owned).map(([, o]) => o)
    for (const owned of ended) owned.end()
    this.byKey.clear()
    for (const [key, owned] of next) this.byKey.set(key, owned)
    return ended
  }

  /** Ends the named ownerships (those still current) and forgets them; returns them. */
  revoke(partitions: readonly OwnedPartition[]): Ownership[] {
    const revoked: Ownership[] = []
    for (const { topic, partition, assignmentId } of partitions) {
      const owned = this.current(topic, partition, assignmentId)
      if (!owned) continue
      owned.end()
      owned.revoked = true
      this.byKey.delete(keyOf(topic, partition))
      this.releasing.add(owned)
      revoked.push(owned)
    }
    return revoked
  }

  /** Ends every ownership at once: the stream is gone, and the sidecar has given them away. */
  dropAll(): Ownership[] {
    const dropped = this.withOffsets()
    for (const owned of dropped) owned.end()
    this.byKey.clear()
    this.releasing.clear()
    return dropped
  }

  /** By topic in assignment order, partitions ascending: KafkaJS's consumerGroup.assigned(). */
  assigned(): TopicPartitions[] {
    const byTopic = new Map<string, number[]>()
    for (const { topic, partition } of this.byKey.values()) {
      const list = byTopic.get(topic) ?? []
      list.push(partition)
      byTopic.set(topic, list)
    }
    return [...byTopic].map(([topic, partitions]) => ({ topic, partitions: partitions.sort((a, b) => a - b) }))
  }

  /** GROUP_JOIN's memberAssignment: this process's own partitions. */
  memberAssignment(): IMemberAssignment {
    return Object.fromEntries(this.assigned().map(({ topic, partitions }) => [topic, partitions]))
  }
}
