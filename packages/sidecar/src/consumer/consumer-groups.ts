/**
 * The sidecar's group members, one per group id: made when the first process of a group joins
 * (with its settings), stopped a grace time after the last one left (so a rolling restart of the
 * pod's last worker does not rebalance the group), and all stopped at shutdown. How each member's
 * session with its group goes is kept in a GroupHealth; a failed member's crash stays there until
 * the group joins again, or the idle grace passes with no new member of it.
 */
import { randomInt } from 'node:crypto'
import { status } from '@grpc/grpc-js'
import type { JoinGroup } from '@kafka-sidecar/proto'
import type { Consumer, ConsumerConfig, GroupDescription, Logger } from 'kafkajs'
import { SidecarError } from '../errors.js'
import type { ConsumerProcess } from './consumer-process.js'
import { BufferBudget } from './buffer-budget.js'
import { GroupHealth, type DescribedError } from './group-health.js'
import { GroupMember, type ConsumerMeter, type MemberSession, type ProcessInFlight } from './group-member.js'
import type { GroupAssignment } from './partition-lag.js'
import { consumerConfig, type SubscriptionSet } from './subscriptions.js'

export interface ConsumerGroupsOptions {
  readonly createConsumer: (config: ConsumerConfig) => Consumer
  readonly log: Logger
  readonly bufferBytesPerPartition: number
  /** How long a member with no process left stays in the group before it leaves. */
  readonly groupIdleMs: number
  /** Bytes all members together may buffer before their partitions are paused in KafkaJS. */
  readonly bufferBytes: number
  readonly meter: ConsumerMeter
  /** What a crash's reason says of its error (without secrets). */
  readonly describeError: (error: unknown) => DescribedError
  /** A group's session state changed (the consumer service's health). */
  readonly healthChanged: () => void
}

export interface GroupStats {
  readonly groupId: string
  readonly processes: number
  readonly ownedPartitions: number
  readonly bufferedBytes: number
  readonly inFlight: readonly ProcessInFlight[]
}

export class ConsumerGroups {
  private readonly members = new Map<string, GroupMember>()
  private readonly idle = new Map<GroupMember, NodeJS.Timeout>()
  /**
   * Assignment and batch ids start from a random base per sidecar process: an id a client kept
   * from before a sidecar restart then names nothing live instead of another ownership.
   */
  private nextId = randomInt(1, ID_BASE_RANGE)
  private readonly ids = { next: () => this.nextId++ }
  private readonly budget: BufferBudget
  /** Failed groups with no member: their crash is forgotten at the timer's end unless one joined. */
  private readonly failures = new Map<string, NodeJS.Timeout>()
  readonly health: GroupHealth
  private readonly session: MemberSession
  private closed = false

  constructor(private readonly options: ConsumerGroupsOptions) {
    this.budget = new BufferBudget(options.bufferBytes)
    this.health = new GroupHealth(options.describeError, options.healthChanged)
    // A replaced member's late word is not the group's any more.
    const current = (member: GroupMember) => this.members.get(member.groupId) === member
    this.session = {
      joining: (m) => current(m) && this.health.joining(m.groupId),
      joined: (m) => current(m) && this.health.joined(m.groupId),
      crashed: (m, error, restarting) => current(m) && this.health.crashed(m.groupId, error, restarting),
    }
  }

  /** Adds the process to its group's member (made now if none); the member and the join's warnings. */
  join(
    process: ConsumerProcess,
    join: JoinGroup,
    subscriptions: SubscriptionSet,
  ): { member: GroupMember; warnings: string[] } {
    if (this.closed)
      throw new SidecarError({ grpcCode: status.UNAVAILABLE, message: 'sidecar shutting down', retriable: true })
    const member = this.members.get(join.groupId) ?? this.create(join, subscriptions)
    const timer = this.idle.get(member)
    if (timer) {
      clearTimeout(timer)
      this.idle.delete(member)
    }
    return { member, warnings: member.add(process) }
  }

  /** KafkaJS's describeGroup as the group's member sees it, or null when the sidecar has none. */
  describe(groupId: string): Promise<GroupDescription> | null {
    return this.members.get(groupId)?.describe() ?? null
  }

  stats(): GroupStats[] {
    return [...this.members.values()].map((m) => ({
      groupId: m.groupId,
      processes: m.processCount,
      ownedPartitions: m.ownedPartitions,
      bufferedBytes: m.bufferedBytes,
      inFlight: m.inFlight(),
    }))
  }

  /** Every member's assigned partitions, for their lag. */
  assignments(): GroupAssignment[] {
    return [...this.members.values()].map((m) => ({ groupId: m.groupId, partitions: m.assigned() }))
  }

  /** At shutdown: no new joins; every member revokes, waits up to `graceMs` for its processes, and leaves. */
  async stopAll(graceMs: number): Promise<void> {
    this.closed = true
    for (const timer of [...this.idle.values(), ...this.failures.values()]) clearTimeout(timer)
    this.idle.clear()
    this.failures.clear()
    const members = [...this.members.values()]
    this.members.clear()
    await Promise.all(members.map((m) => m.stop(graceMs)))
  }

  private create(join: JoinGroup, subscriptions: SubscriptionSet): GroupMember {
    const config = consumerConfig(join.groupId, join.settings)
    const { createConsumer, log, bufferBytesPerPartition, meter, groupIdleMs } = this.options
    const member = new GroupMember(join.groupId, join.settings, config, subscriptions, {
      createConsumer,
      log,
      ids: this.ids,
      bufferBytesPerPartition,
      budget: this.budget,
      shrinkAfterMs: groupIdleMs,
      meter,
      session: this.session,
      onEmpty: (m) => this.emptied(m),
      onFailed: (m) => this.failed(m),
    })
    this.members.set(join.groupId, member)
    clearTimeout(this.failures.get(join.groupId))
    this.failures.delete(join.groupId)
    member.start()
    return member
  }

  private emptied(member: GroupMember): void {
    if (this.closed || this.members.get(member.groupId) !== member) return
    const timer = setTimeout(() => {
      this.idle.delete(member)
      this.forget(member)
      this.health.forget(member.groupId)
      this.options.log.info('group member leaves: no process of the group joined within the grace time', {
        groupId: member.groupId,
        groupIdleMs: this.options.groupIdleMs,
      })
      void member.stop(0)
    }, this.options.groupIdleMs)
    timer.unref()
    this.idle.set(member, timer)
  }

  /**
   * The member failed for good: the processes it ended usually join again at once, making a new
   * member. If none does within the idle grace, the group is no longer wanted here and its crash
   * is forgotten, as an idle member's session would end.
   */
  private failed(member: GroupMember): void {
    this.forget(member)
    if (this.closed) return
    const { groupId } = member
    clearTimeout(this.failures.get(groupId))
    const timer = setTimeout(() => {
      this.failures.delete(groupId)
      if (!this.members.has(groupId)) this.health.forget(groupId)
    }, this.options.groupIdleMs)
    timer.unref()
    this.failures.set(groupId, timer)
  }

  private forget(member: GroupMember): void {
    if (this.members.get(member.groupId) === member) this.members.delete(member.groupId)
  }
}

/** Ids start below 2^40 and count up: far from 2^53, JavaScript's largest exact integer. */
const ID_BASE_RANGE = 2 ** 40
