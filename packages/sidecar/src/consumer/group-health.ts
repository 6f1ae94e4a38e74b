/**
 * Whether each consumer group's member holds its session with the group: joining (made, restarted
 * or recreated, no GROUP_JOIN yet), joined, or crashed (KafkaJS's CRASH, or a start that failed:
 * coordinator unreachable past KafkaJS's retries, the group refused, the session lost for good).
 * A crashed group stays crashed until a member of it joins again; a member made again after a
 * failure does not clear it by merely joining, so the health does not flap while each new member
 * fails in turn.
 *
 * This is the consumer service's health (gRPC health of kafka_sidecar.v1.ConsumerSidecar,
 * /readyz/consumers) and the kafka_sidecar_consumer_member_in_group gauge; the producer side's
 * readiness does not depend on it (docs/consumers.md, "Health").
 */

export type SessionState = 'joining' | 'joined' | 'crashed'

/** What a crashed group's reason says of the error (no secret may be in it: it goes to health and /readyz). */
export interface DescribedError {
  readonly kafkaError: string
  readonly message: string
}

interface GroupSessionRecord {
  readonly state: SessionState
  /** The reason, for a crashed group. */
  readonly reason?: string
}

/** How many crashed groups a reason names before "and N more". */
const MAX_GROUPS_NAMED = 5
/** Longest error message kept in a reason. */
const MAX_MESSAGE_LENGTH = 300

export class GroupHealth {
  private readonly groups = new Map<string, GroupSessionRecord>()

  constructor(
    private readonly describe: (error: unknown) => DescribedError,
    /** Told when a group's state changed (the consumer service's health watchers). */
    private readonly changed: () => void,
  ) {}

  joining(groupId: string): void {
    // A crash is cleared by a join, not by another attempt.
    if (this.groups.get(groupId)?.state === 'crashed') return
    this.set(groupId, { state: 'joining' })
  }

  joined(groupId: string): void {
    this.set(groupId, { state: 'joined' })
  }

  crashed(groupId: string, error: unknown, restarting: boolean): void {
    const { kafkaError, message } = this.describe(error)
    const next = restarting
      ? 'KafkaJS restarts the member'
      : 'the member failed: a new one is made when a process of the group joins again'
    const text = message.length > MAX_MESSAGE_LENGTH ? `${message.slice(0, MAX_MESSAGE_LENGTH)}…` : message
    this.set(groupId, { state: 'crashed', reason: `group "${groupId}": ${kafkaError}: ${text} (${next})` })
  }

  /** The group has no member any more (left after its idle grace, or its failure expired). */
  forget(groupId: string): void {
    if (this.groups.delete(groupId)) this.changed()
  }

  /** Every group with a member (or a recent failure) and whether its member is in the group. */
  sessions(): Array<{ groupId: string; inGroup: boolean }> {
    return [...this.groups].map(([groupId, r]) => ({ groupId, inGroup: r.state === 'joined' }))
  }

  /** Why the consumer service is unhealthy (the crashed groups, named), or null when none is. */
  problem(): string | null {
    const reasons = [...this.groups.values()].flatMap((r) => (r.state === 'crashed' ? [r.reason!] : []))
    if (reasons.length === 0) return null
    const named = reasons.slice(0, MAX_GROUPS_NAMED)
    const more = reasons.length - named.length
    const list = named.join('; ') + (more > 0 ? `; and ${more} more` : '')
    return `consumer group member not in its group: ${list}`
  }

  private set(groupId: string, record: GroupSessionRecord): void {
    const before = this.groups.get(groupId)
    this.groups.set(groupId, record)
    if (before?.state !== record.state || before?.reason !== record.reason) this.changed()
  }
}
