/**
 * Runs every consumer group of the cluster. Group state is cluster-wide (brokers are front ends),
 * but requests must reach the group's coordinator broker, chosen by hashing the group id over the
 * live brokers, as Kafka maps a group to a __consumer_offsets partition leader.
 */
import { randomUUID } from 'node:crypto'
import { ErrorCode } from '../protocol/error-codes.js'
import { Group, type CommittedOffset, type JoinOutcome, type Member, type SyncOutcome } from './group.js'

export interface GroupSettings {
  /** group.min.session.timeout.ms */
  readonly minSessionTimeoutMs: number
  /** group.max.session.timeout.ms */
  readonly maxSessionTimeoutMs: number
  /** group.initial.rebalance.delay.ms: lets several consumers starting together join one generation. */
  readonly initialRebalanceDelayMs: number
}

export interface JoinRequest {
  readonly groupId: string
  readonly memberId: string
  readonly groupInstanceId: string | null
  readonly clientId: string
  readonly clientHost: string
  readonly sessionTimeoutMs: number
  readonly rebalanceTimeoutMs: number
  readonly protocolType: string
  readonly protocols: ReadonlyArray<{ name: string; metadata: Buffer }>
  /** JoinGroup v4+: a new member must first be given an id and come back with it. */
  readonly requireKnownMemberId: boolean
}

export interface GroupDescription {
  readonly errorCode: number
  readonly groupId: string
  readonly groupState: string
  readonly protocolType: string
  readonly protocolData: string
  readonly members: ReadonlyArray<{
    memberId: string
    groupInstanceId: string | null
    clientId: string
    clientHost: string
    memberMetadata: Buffer
    memberAssignment: Buffer
  }>
}

const EMPTY = Buffer.alloc(0)

function joinError(errorCode: number, memberId = ''): JoinOutcome {
  return { errorCode, generationId: -1, protocolType: null, protocolName: null, leaderId: '', memberId, members: [] }
}

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>()

  constructor(private readonly settings: GroupSettings) {}

  /** The broker coordinating `key` among `brokerIds` (live ones), or -1 when none is alive. */
  static coordinatorFor(key: string, brokerIds: readonly number[]): number {
    if (brokerIds.length === 0) return -1
    let hash = 0
    for (let i = 0; i < key.length; i++) hash = (Math.imul(hash, 31) + key.charCodeAt(i)) | 0
    return brokerIds[Math.abs(hash) % brokerIds.length]!
  }

  group(groupId: string): Group | undefined {
    return this.groups.get(groupId)
  }

  private groupFor(groupId: string): Group {
    let group = this.groups.get(groupId)
    if (!group) this.groups.set(groupId, (group = new Group(groupId)))
    return group
  }

  join(request: JoinRequest): JoinOutcome | Promise<JoinOutcome> {
    const { groupId, memberId } = request
    if (groupId === '') return joinError(ErrorCode.INVALID_GROUP_ID)
    const { minSessionTimeoutMs, maxSessionTimeoutMs } = this.settings
    if (request.sessionTimeoutMs < minSessionTimeoutMs || request.sessionTimeoutMs > maxSessionTimeoutMs) {
      return joinError(ErrorCode.INVALID_SESSION_TIMEOUT, memberId)
    }
    const group = this.groupFor(groupId)
    if (
      request.protocols.length === 0 ||
      (group.protocolType !== null && group.members.size > 0 && group.protocolType !== request.protocolType)
    ) {
      return joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, memberId)
    }
    if (group.members.size > 0 && !request.protocols.some((p) => group.commonProtocols().includes(p.name))) {
      return joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, memberId)
    }

    let member = group.members.get(memberId)
    if (memberId === '') {
      const assigned = `${request.clientId}-${randomUUID()}`
      if (request.requireKnownMemberId) {
        group.pendingMemberIds.add(assigned)
        return joinError(ErrorCode.MEMBER_ID_REQUIRED, assigned)
      }
      member = this.addMember(group, assigned, request)
    } else if (!member) {
      if (!group.pendingMemberIds.delete(memberId)) return joinError(ErrorCode.UNKNOWN_MEMBER_ID, memberId)
      member = this.addMember(group, memberId, request)
    } else {
      member.protocols = request.protocols
      member.sessionTimeoutMs = request.sessionTimeoutMs
      member.rebalanceTimeoutMs = request.rebalanceTimeoutMs
    }
    group.protocolType = request.protocolType

    const joined = new Promise<JoinOutcome>((resolve) => {
      member.awaitingJoin = resolve
    })
    this.clearSessionTimer(member)
    if (group.state !== 'PreparingRebalance') this.prepareRebalance(group)
    else this.completeJoinIfReady(group)
    return joined
  }

  private addMember(group: Group, memberId: string, request: JoinRequest): Member {
    const member: Member = {
      memberId,
      groupInstanceId: request.groupInstanceId,
      clientId: request.clientId,
      clientHost: request.clientHost,
      sessionTimeoutMs: request.sessionTimeoutMs,
      // v0 has no rebalance timeout; Kafka uses the session timeout for it.
      rebalanceTimeoutMs: request.rebalanceTimeoutMs > 0 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs,
      protocols: request.protocols,
      assignment: EMPTY,
      awaitingJoin: null,
      awaitingSync: null,
      sessionTimer: null,
    }
    group.members.set(memberId, member)
    return member
  }

  private prepareRebalance(group: Group): void {
    const wasEmpty = group.state === 'Empty'
    // Followers still waiting for an assignment of the old generation must rejoin.
    for (const member of group.members.values()) {
      member.awaitingSync?.({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY })
      member.awaitingSync = null
    }
    group.state = 'PreparingRebalance'
    if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer)
    const rebalanceTimeout = Math.max(0, ...[...group.members.values()].map((m) => m.rebalanceTimeoutMs))
    const delay = wasEmpty ? this.settings.initialRebalanceDelayMs : rebalanceTimeout
    group.rebalanceTimer = setTimeout(() => this.completeJoin(group), delay).unref()
    if (!wasEmpty || this.settings.initialRebalanceDelayMs === 0) this.completeJoinIfReady(group)
  }

  private completeJoinIfReady(group: Group): void {
    if (group.state === 'PreparingRebalance' && group.allMembersJoined()) {
      // With an initial delay pending, keep waiting so later starters join the same generation.
      if (group.generationId === 0 && this.settings.initialRebalanceDelayMs > 0) return
      this.completeJoin(group)
    }
  }

  private completeJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance') return
    if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer)
    group.rebalanceTimer = null
    // Members that did not rejoin within the rebalance timeout are out of the group.
    for (const member of [...group.members.values()]) if (!member.awaitingJoin) this.removeMember(group, member)
    if (group.members.size === 0) {
      this.becomeEmpty(group)
      return
    }
    group.generationId++
    group.protocolName = group.electProtocol()
    if (group.leaderId === null || !group.members.has(group.leaderId))
      group.leaderId = group.members.keys().next().value!
    group.state = 'CompletingRebalance'
    const everyone = [...group.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: m.protocols.find((p) => p.name === group.protocolName)?.metadata ?? EMPTY,
    }))
    for (const member of group.members.values()) {
      const answer = member.awaitingJoin!
      member.awaitingJoin = null
      member.assignment = EMPTY
      this.scheduleSessionExpiry(group, member)
      answer({
        errorCode: ErrorCode.NONE,
        generationId: group.generationId,
        protocolType: group.protocolType,
        protocolName: group.protocolName,
        leaderId: group.leaderId,
        memberId: member.memberId,
        members: member.memberId === group.leaderId ? everyone : [],
      })
    }
  }

  private becomeEmpty(group: Group): void {
    group.state = 'Empty'
    group.leaderId = null
    group.protocolName = null
    group.generationId++
  }

  sync(
    groupId: string,
    generationId: number,
    memberId: string,
    assignments: ReadonlyArray<{ memberId: string; assignment: Buffer }>,
  ): SyncOutcome | Promise<SyncOutcome> {
    const group = this.groups.get(groupId)
    const member = group?.members.get(memberId)
    if (!group || !member) return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY }
    if (generationId !== group.generationId) return { errorCode: ErrorCode.ILLEGAL_GENERATION, assignment: EMPTY }
    this.scheduleSessionExpiry(group, member)
    if (group.state === 'PreparingRebalance') return { errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY }
    if (group.state === 'Stable') return { errorCode: ErrorCode.NONE, assignment: member.assignment }
    const synced = new Promise<SyncOutcome>((resolve) => {
      member.awaitingSync = resolve
    })
    if (memberId === group.leaderId) {
      for (const m of group.members.values())
        m.assignment = assignments.find((a) => a.memberId === m.memberId)?.assignment ?? EMPTY
      group.state = 'Stable'
      for (const m of group.members.values()) {
        m.awaitingSync?.({ errorCode: ErrorCode.NONE, assignment: m.assignment })
        m.awaitingSync = null
      }
    }
    return synced
  }

  heartbeat(groupId: string, generationId: number, memberId: string): number {
    const group = this.groups.get(groupId)
    const member = group?.members.get(memberId)
    if (!group || !member) return ErrorCode.UNKNOWN_MEMBER_ID
    if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION
    this.scheduleSessionExpiry(group, member)
    return group.state === 'PreparingRebalance' ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE
  }

  leave(
    groupId: string,
    memberIds: readonly string[],
  ): { errorCode: number; members: Array<{ memberId: string; errorCode: number }> } {
    const group = this.groups.get(groupId)
    if (!group)
      return {
        errorCode: ErrorCode.UNKNOWN_MEMBER_ID,
        members: memberIds.map((memberId) => ({ memberId, errorCode: ErrorCode.UNKNOWN_MEMBER_ID })),
      }
    const results = memberIds.map((memberId) => {
      const member = group.members.get(memberId)
      if (!member) return { memberId, errorCode: ErrorCode.UNKNOWN_MEMBER_ID }
      this.removeMember(group, member)
      return { memberId, errorCode: ErrorCode.NONE }
    })
    if (results.some((r) => r.errorCode === ErrorCode.NONE)) this.afterMembershipLoss(group)
    const errorCode = memberIds.length === 1 ? results[0]!.errorCode : ErrorCode.NONE
    return { errorCode, members: results }
  }

  private removeMember(group: Group, member: Member): void {
    this.clearSessionTimer(member)
    member.awaitingJoin?.(joinError(ErrorCode.UNKNOWN_MEMBER_ID, member.memberId))
    member.awaitingSync?.({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY })
    member.awaitingJoin = null
    member.awaitingSync = null
    group.members.delete(member.memberId)
  }

  private afterMembershipLoss(group: Group): void {
    if (group.members.size === 0) {
      if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer)
      group.rebalanceTimer = null
      if (group.state !== 'Empty') this.becomeEmpty(group)
    } else if (group.state === 'Stable' || group.state === 'CompletingRebalance') {
      this.prepareRebalance(group)
    } else {
      this.completeJoinIfReady(group)
    }
  }

  private scheduleSessionExpiry(group: Group, member: Member): void {
    this.clearSessionTimer(member)
    member.sessionTimer = setTimeout(() => {
      member.sessionTimer = null
      // A member parked in JoinGroup is bounded by the rebalance timeout instead.
      if (member.awaitingJoin || group.members.get(member.memberId) !== member) return
      this.removeMember(group, member)
      this.afterMembershipLoss(group)
    }, member.sessionTimeoutMs).unref()
  }

  private clearSessionTimer(member: Member): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer)
    member.sessionTimer = null
  }

  /**
   * Validates who commits: a simple (non-member) commit uses generation -1 and is only allowed
   * while the group has no members; a member's commit must match the current generation. As in
   * Kafka's GroupCoordinator, a member of the current generation may still commit while the group
   * prepares a rebalance (so it commits what it processed before it rejoins); only between the
   * joins and the sync (CompletingRebalance) is a commit answered REBALANCE_IN_PROGRESS.
   */
  commitCheck(groupId: string, generationId: number, memberId: string): number {
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID
    const group = this.groupFor(groupId)
    if (generationId < 0 && memberId === '')
      return group.members.size === 0 ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID
    const member = group.members.get(memberId)
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID
    if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION
    if (group.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS
    this.scheduleSessionExpiry(group, member)
    return ErrorCode.NONE
  }

  /**
   * Validates a TxnOffsetCommit's member fields (v3+, KIP-447). Older versions, and KafkaJS, send
   * no member id and generation -1: those commits are accepted whatever the group's state, since
   * the transaction, not the group generation, guards them.
   */
  transactionalCommitCheck(groupId: string, generationId: number, memberId: string): number {
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID
    if (memberId === '' && generationId < 0) return ErrorCode.NONE
    const group = this.groups.get(groupId)
    if (!group?.members.has(memberId)) return ErrorCode.UNKNOWN_MEMBER_ID
    if (generationId >= 0 && generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION
    return ErrorCode.NONE
  }

  commitTransactional(
    groupId: string,
    producerId: number,
    topic: string,
    partition: number,
    offset: CommittedOffset,
  ): void {
    this.groupFor(groupId).commitTransactional(producerId, topic, partition, offset)
  }

  /** The transaction coordinator's marker for this group (Kafka writes it to __consumer_offsets). */
  completeTransaction(groupId: string, producerId: number, committed: boolean): void {
    this.groups.get(groupId)?.completeTransaction(producerId, committed)
  }

  hasPendingTransactionalOffset(groupId: string, topic: string, partition: number): boolean {
    return this.groups.get(groupId)?.hasPendingTransactionalOffset(topic, partition) ?? false
  }

  commit(groupId: string, topic: string, partition: number, offset: CommittedOffset): void {
    this.groupFor(groupId).commit(topic, partition, offset)
  }

  committed(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.groups.get(groupId)?.offsets.get(topic)?.get(partition)
  }

  committedTopics(groupId: string): Map<string, Map<number, CommittedOffset>> {
    return this.groups.get(groupId)?.offsets ?? new Map()
  }

  describe(groupId: string): GroupDescription {
    const group = this.groups.get(groupId)
    if (!group)
      return { errorCode: ErrorCode.NONE, groupId, groupState: 'Dead', protocolType: '', protocolData: '', members: [] }
    return {
      errorCode: ErrorCode.NONE,
      groupId,
      groupState: group.state,
      protocolType: group.protocolType ?? '',
      protocolData: group.state === 'Stable' || group.state === 'CompletingRebalance' ? (group.protocolName ?? '') : '',
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        memberMetadata: m.protocols.find((p) => p.name === group.protocolName)?.metadata ?? EMPTY,
        memberAssignment: m.assignment,
      })),
    }
  }

  list(): Array<{ groupId: string; protocolType: string; groupState: string }> {
    return [...this.groups.values()].map((g) => ({
      groupId: g.groupId,
      protocolType: g.protocolType ?? '',
      groupState: g.state,
    }))
  }

  /**
   * DeleteGroups: an empty group is forgotten with its committed offsets; one with members is
   * NON_EMPTY_GROUP, an unknown (or already dead) one GROUP_ID_NOT_FOUND, as Kafka answers.
   */
  delete(groupId: string): number {
    const group = this.groups.get(groupId)
    if (!group || group.state === 'Dead') return ErrorCode.GROUP_ID_NOT_FOUND
    if (group.state !== 'Empty') return ErrorCode.NON_EMPTY_GROUP
    this.groups.delete(groupId)
    return ErrorCode.NONE
  }

  /** Forgets offsets of a deleted topic, as Kafka does. */
  forgetTopic(topic: string): void {
    for (const group of this.groups.values()) {
      group.offsets.delete(topic)
      for (const pending of group.pendingTransactionalOffsets.values()) pending.delete(topic)
    }
  }

  /** Cancels every timer so a stopped cluster leaves nothing running. */
  shutdown(): void {
    for (const group of this.groups.values()) {
      if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer)
      for (const member of group.members.values()) this.clearSessionTimer(member)
    }
  }
}
