/**
 * The sidecar's group members, one per group id: made when the first process of a group joins
 * (with its settings), stopped a grace time after the last one left (so a rolling restart of the
 * pod's last worker does not rebalance the group), and all stopped at shutdown.
 */
import { randomInt } from 'node:crypto'
import { status } from '@grpc/grpc-js'
import type { JoinGroup } from '@kafka-sidecar/proto'
import type { Consumer, ConsumerConfig, GroupDescription, Logger } from 'kafkajs'
import { SidecarError } from '../errors.js'
import type { ConsumerProcess } from './consumer-process.js'
import { BufferBudget } from './buffer-budget.js'
import { GroupMember, type ConsumerMeter } from './group-member.js'
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
}

export interface GroupStats {
  readonly groupId: string
  readonly processes: number
  readonly ownedPartitions: number
  readonly bufferedBytes: number
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
  private closed = false

  constructor(private readonly options: ConsumerGroupsOptions) {
    this.budget = new BufferBudget(options.bufferBytes)
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
    }))
  }

  /** At shutdown: no new joins; every member revokes, waits up to `graceMs` for its processes, and leaves. */
  async stopAll(graceMs: number): Promise<void> {
    this.closed = true
    for (const timer of this.idle.values()) clearTimeout(timer)
    this.idle.clear()
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
      onEmpty: (m) => this.emptied(m),
      onFailed: (m) => this.forget(m),
    })
    this.members.set(join.groupId, member)
    member.start()
    return member
  }

  private emptied(member: GroupMember): void {
    if (this.closed || this.members.get(member.groupId) !== member) return
    const timer = setTimeout(() => {
      this.idle.delete(member)
      this.forget(member)
      this.options.log.info('group member leaves: no process of the group joined within the grace time', {
        groupId: member.groupId,
        groupIdleMs: this.options.groupIdleMs,
      })
      void member.stop(0)
    }, this.options.groupIdleMs)
    timer.unref()
    this.idle.set(member, timer)
  }

  private forget(member: GroupMember): void {
    if (this.members.get(member.groupId) === member) this.members.delete(member.groupId)
  }
}

/** Ids start below 2^40 and count up: far from 2^53, JavaScript's largest exact integer. */
const ID_BASE_RANGE = 2 ** 40
