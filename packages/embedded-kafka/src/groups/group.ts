/**
 * One consumer group's state, following the classic (pre-KIP-848) group protocol that Kafka's
 * GroupCoordinator implements: members join, the coordinator waits for every known member to
 * rejoin (or the rebalance timeout), picks a leader and a protocol, hands the leader the member
 * list, and distributes the leader's assignment on SyncGroup.
 */
export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead'

export interface JoinOutcome {
  readonly errorCode: number
  readonly generationId: number
  readonly protocolType: string | null
  readonly protocolName: string | null
  readonly leaderId: string
  readonly memberId: string
  readonly members: ReadonlyArray<{ memberId: string; groupInstanceId: string | null; metadata: Buffer }>
}

export interface SyncOutcome {
  readonly errorCode: number
  readonly assignment: Buffer
}

export interface Member {
  readonly memberId: string
  readonly groupInstanceId: string | null
  readonly clientId: string
  readonly clientHost: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  protocols: ReadonlyArray<{ name: string; metadata: Buffer }>
  assignment: Buffer
  /** Set while the member waits in JoinGroup for the rebalance to complete. */
  awaitingJoin: ((outcome: JoinOutcome) => void) | null
  /** Set while a follower waits in SyncGroup for the leader's assignment. */
  awaitingSync: ((outcome: SyncOutcome) => void) | null
  sessionTimer: NodeJS.Timeout | null
}

export interface CommittedOffset {
  readonly offset: number
  readonly leaderEpoch: number
  readonly metadata: string | null
}

export class Group {
  state: GroupState = 'Empty'
  generationId = 0
  protocolType: string | null = null
  protocolName: string | null = null
  leaderId: string | null = null
  readonly members = new Map<string, Member>()
  /** Member ids handed out with MEMBER_ID_REQUIRED, accepted on the member's next join (KIP-394). */
  readonly pendingMemberIds = new Set<string>()
  readonly offsets = new Map<string, Map<number, CommittedOffset>>()
  /**
   * TxnOffsetCommit offsets per producer id, held back until the producer's transaction ends:
   * a commit marker makes them the committed offsets, an abort marker drops them.
   */
  readonly pendingTransactionalOffsets = new Map<number, Map<string, Map<number, CommittedOffset>>>()
  rebalanceTimer: NodeJS.Timeout | null = null

  constructor(readonly groupId: string) {}

  /** Protocols every member supports, in the order the first member prefers them. */
  commonProtocols(): string[] {
    const all = [...this.members.values()]
    if (all.length === 0) return []
    return all[0]!.protocols
      .map((p) => p.name)
      .filter((name) => all.every((m) => m.protocols.some((p) => p.name === name)))
  }

  /** Kafka's vote: each member picks its most preferred common protocol; most votes wins. */
  electProtocol(): string | null {
    const candidates = this.commonProtocols()
    const votes = new Map<string, number>()
    for (const member of this.members.values()) {
      const choice = member.protocols.find((p) => candidates.includes(p.name))?.name
      if (choice) votes.set(choice, (votes.get(choice) ?? 0) + 1)
    }
    let best: string | null = null
    for (const name of candidates) if (best === null || (votes.get(name) ?? 0) > (votes.get(best) ?? 0)) best = name
    return best
  }

  allMembersJoined(): boolean {
    for (const member of this.members.values()) if (!member.awaitingJoin) return false
    return true
  }

  commit(topic: string, partition: number, offset: CommittedOffset): void {
    setOffset(this.offsets, topic, partition, offset)
  }

  commitTransactional(producerId: number, topic: string, partition: number, offset: CommittedOffset): void {
    let pending = this.pendingTransactionalOffsets.get(producerId)
    if (!pending) this.pendingTransactionalOffsets.set(producerId, (pending = new Map()))
    setOffset(pending, topic, partition, offset)
  }

  /** The producer's transaction ended: its pending offsets become committed, or are dropped. */
  completeTransaction(producerId: number, committed: boolean): void {
    const pending = this.pendingTransactionalOffsets.get(producerId)
    this.pendingTransactionalOffsets.delete(producerId)
    if (!pending || !committed) return
    for (const [topic, partitions] of pending)
      for (const [partition, offset] of partitions) this.commit(topic, partition, offset)
  }

  /** Whether an open transaction may still change this partition's offset (OffsetFetch requireStable). */
  hasPendingTransactionalOffset(topic: string, partition: number): boolean {
    for (const pending of this.pendingTransactionalOffsets.values()) if (pending.get(topic)?.has(partition)) return true
    return false
  }
}

function setOffset(
  offsets: Map<string, Map<number, CommittedOffset>>,
  topic: string,
  partition: number,
  offset: CommittedOffset,
): void {
  let partitions = offsets.get(topic)
  if (!partitions) offsets.set(topic, (partitions = new Map()))
  partitions.set(partition, offset)
}
