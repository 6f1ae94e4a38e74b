/**
 * The partitions this consumer owns now, each an ownership the sidecar named with an assignment id
 * (consumer.proto, rule 1): its batches, its offsets, and whether the batch in hand must stop. An
 * ownership ends when the sidecar revokes it, leaves it out of a new assignment, or the stream is
 * lost; a partition given back later is a new ownership, with offsets of its own.
 *
 * Each ownership belongs to the stream (its epoch) that gave it: once that stream is lost, what is
 * said about the ownership (done, progress, released, commits) is dropped, never written on the
 * next stream, whose sidecar did not give it (or, after a sidecar restart, gave the id to another).
 */
import type { OwnedPartition } from '@kafka-sidecar/proto'
import type { IMemberAssignment, TopicPartitions } from 'kafkajs'
import type { SidecarBatch } from './sidecar-batch.js'

/** A batch as delivered: the Batch the handler sees, and what the sidecar needs to hear back. */
export interface DeliveredBatch {
  readonly batchId: number
  readonly batch: SidecarBatch
  /**
   * Sent by the sidecar before it heard a seek: stale on arrival, handed back unprocessed (`done` at
   * its first offset), as KafkaJS drops a fetch response of a partition sought meanwhile.
   */
  readonly staleOnArrival?: boolean
  /** The ownership's rewinds the sidecar had heard when it sent the batch (Batch.rewinds). */
  readonly rewinds: number
}

export class Ownership {
  /** The next offset to process, as KafkaJS's resolveOffset(o) leaves it (o + 1); null: none yet. */
  resolved: bigint | null = null
  /** What was last committed for this ownership (or where it started); null: unknown. */
  committed: bigint | null = null
  /** The offset a background auto-commit is committing now (background-commits.ts); null: none in flight. */
  committing: bigint | null = null
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
  /** Batches received and not yet said `done` (the seek fence, with a sidecar that does not pipeline). */
  batchesOut = 0
  /**
   * `done`s short of their batch's end and seeks sent for this ownership: the sidecar counts the
   * same, and stamps each batch with its count; a batch with fewer is stale (sent before it heard).
   */
  rewinds = 0
  /**
   * A seek the sidecar heard while no batch of it was out here: the batch it may have sent before
   * hearing it can still arrive. The first batch to arrive is stale unless it starts at this offset
   * (always for -1 and -2, whose offset is not known here).
   */
  seekFence: bigint | null = null

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly assignmentId: number,
    /** The stream that gave it (Ownerships.epoch). */
    readonly epoch: number,
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

export function keyOf(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`
}

export class Ownerships {
  private readonly byKey = new Map<string, Ownership>()
  /** Counts the streams: a lost stream ends every ownership it gave. */
  private streamEpoch = 0
  /**
   * Assignment ids this stream gave and that ended here (revoked, left out, refused): an `assigned`
   * that still lists one (a revoked partition whose batch is not over) does not make it owned again.
   */
  private readonly endedIds = new Set<number>()

  get size(): number {
    return this.byKey.size
  }

  get epoch(): number {
    return this.streamEpoch
  }

  /** Whether reports about this ownership may still be written: its stream is the current one. */
  inEpoch(owned: Ownership): boolean {
    return owned.epoch === this.streamEpoch
  }

  /** The partitions owned now: the only ones whose offsets are committed with others. */
  all(): Ownership[] {
    return [...this.byKey.values()]
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
   * left out, and those given again under a new id. An id that already ended here is not owned again.
   */
  assign(partitions: readonly OwnedPartition[]): Ownership[] {
    const next = new Map<string, Ownership>()
    for (const { topic, partition, assignmentId } of partitions) {
      if (this.endedIds.has(assignmentId)) continue
      const key = keyOf(topic, partition)
      const owned = this.byKey.get(key)
      next.set(
        key,
        owned && owned.assignmentId === assignmentId && !owned.ended
          ? owned
          : new Ownership(topic, partition, assignmentId, this.streamEpoch),
      )
    }
    const ended = [...this.byKey.entries()].filter(([key, owned]) => next.get(key) !== owned).map(([, o]) => o)
    for (const owned of ended) this.endOne(owned)
    this.byKey.clear()
    for (const [key, owned] of next) this.byKey.set(key, owned)
    return ended
  }

  /** Ends the named ownerships (those still current) and forgets them; returns them. */
  revoke(partitions: readonly OwnedPartition[]): Ownership[] {
    const revoked = this.forget(partitions)
    for (const owned of revoked) owned.revoked = true
    return revoked
  }

  /** The sidecar refused offsets of these ownerships: it took them already; they end without `released`. */
  lose(partitions: readonly OwnedPartition[]): Ownership[] {
    return this.forget(partitions)
  }

  /** Ends every ownership at once: the stream is gone, and the sidecar has given them away. */
  dropAll(): Ownership[] {
    const dropped = this.all()
    for (const owned of dropped) owned.end()
    this.byKey.clear()
    this.endedIds.clear()
    this.streamEpoch++
    return dropped
  }

  private forget(partitions: readonly OwnedPartition[]): Ownership[] {
    const forgotten: Ownership[] = []
    for (const { topic, partition, assignmentId } of partitions) {
      const owned = this.current(topic, partition, assignmentId)
      if (!owned) continue
      this.endOne(owned)
      this.byKey.delete(keyOf(topic, partition))
      forgotten.push(owned)
    }
    return forgotten
  }

  private endOne(owned: Ownership): void {
    owned.end()
    this.endedIds.add(owned.assignmentId)
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

  /** GROUP_JOIN's memberAssignment: this process's own partitions, only those owned now. */
  memberAssignment(): IMemberAssignment {
    return Object.fromEntries(this.assigned().map(({ topic, partitions }) => [topic, partitions]))
  }
}
