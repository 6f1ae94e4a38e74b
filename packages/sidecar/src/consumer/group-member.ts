/**
 * The pod's one member of a consumer group: one KafkaJS consumer, the feeds of the partitions
 * Kafka assigned it, and the pod's processes of the group, among which it divides those
 * partitions (locally, without a Kafka rebalance). It delivers batches within each process's
 * flow-control limits, takes their reports and commits only what the partition's current owner
 * reported processed.
 */
import type { Batch, Consumer, ConsumerConfig, GroupDescription, Logger } from 'kafkajs'
import type {
  BatchDone,
  CommitOffsets,
  CommitResult,
  GroupSettings,
  OwnedPartition,
  ProcessedOffset,
  SeekPartition,
} from '@kafka-sidecar/proto'
import { fromKafkaJSError, invalidArgument, type SidecarError } from '../errors.js'
import { asSidecarError } from '../grpc/convert.js'
import type { BufferBudget } from './buffer-budget.js'
import { memberFailed, notInGroup, notOwned, sidecarStopping } from './consumer-errors.js'
import type { ConsumerProcess } from './consumer-process.js'
import { fetchedChunk } from './fetched-records.js'
import { KafkaGroupConsumer, type GroupJoin } from './kafka-group-consumer.js'
import type { AssignedPartition } from './partition-lag.js'
import { assignLocally } from './local-assignment.js'
import { assignedEvent, batchEvent, groupErrorEvent, owned, revokeEvent } from './member-events.js'
import { feedKey, PartitionFeed } from './partition-feed.js'
import { settingsDifferences, unionOf, type SubscriptionSet } from './subscriptions.js'

/** What a group member counts (the sidecar's metrics). */
export interface ConsumerMeter {
  delivered(groupId: string, topic: string, records: number, redelivered: number): void
  committed(groupId: string, result: 'ok' | 'refused' | 'failed'): void
  /** A commit's round trip to Kafka (OffsetCommit through KafkaJS), answered or failed. */
  commitSeconds(groupId: string, seconds: number): void
  localMove(groupId: string): void
  kafkaRebalance(groupId: string): void
}

export interface GroupMemberDeps {
  readonly createConsumer: (config: ConsumerConfig) => Consumer
  readonly log: Logger
  /** Sidecar-wide counters: assignment ids and batch ids are unique per sidecar. */
  readonly ids: { next(): number }
  readonly bufferBytesPerPartition: number
  /** The sidecar-wide bound on buffered bytes, shared by its members. */
  readonly budget: BufferBudget
  /** How long the member keeps subscriptions no process needs any more before it drops them. */
  readonly shrinkAfterMs: number
  readonly meter: ConsumerMeter
  /** Told how the member's session with the group goes (the consumer service's health). */
  readonly session: MemberSession
  /** The member has no process left, or failed for good. */
  readonly onEmpty: (member: GroupMember) => void
  readonly onFailed: (member: GroupMember) => void
}

/** What a member says of its session with the group. */
export interface MemberSession {
  joining(member: GroupMember): void
  joined(member: GroupMember): void
  crashed(member: GroupMember, error: unknown, restarting: boolean): void
}

/** Records and bytes a process has in flight (delivered, not reported processed). */
export interface ProcessInFlight {
  readonly instanceId: string
  readonly records: number
  readonly bytes: number
}

type MemberState = 'starting' | 'joined' | 'rebalancing' | 'stopping' | 'stopped' | 'failed'

/** KafkaJS's default rebalanceTimeout: how long a revoked partition waits for `released` unless the group sets it. */
const DEFAULT_REVOKE_TIMEOUT_MS = 60_000

export class GroupMember {
  private readonly processes = new Map<string, ConsumerProcess>()
  private readonly feeds = new Map<string, PartitionFeed>()
  private consumer: KafkaGroupConsumer
  private subscriptions: SubscriptionSet
  private state: MemberState = 'starting'
  private lastJoin: GroupJoin | null = null
  private joins = 0
  /** The next `assigned` events follow a Kafka rebalance: every process hears, with the join's duration. */
  private announceRebalance = false
  private rotation = 0
  /** A timer per partition whose revoke is unanswered: at its end the partition is taken. */
  private readonly revokeTimers = new Map<string, NodeJS.Timeout>()
  /** Runs when the processes need less than the member subscribes to: the member is recreated smaller. */
  private shrinkTimer: NodeJS.Timeout | null = null
  private readonly leaveBudget: () => void

  constructor(
    readonly groupId: string,
    readonly settings: GroupSettings | undefined,
    private readonly config: ConsumerConfig,
    subscriptions: SubscriptionSet,
    private readonly deps: GroupMemberDeps,
  ) {
    this.subscriptions = subscriptions
    this.consumer = this.newConsumer()
    this.leaveBudget = deps.budget.hold(this)
  }

  get memberId(): string {
    return this.lastJoin?.memberId ?? ''
  }

  get processCount(): number {
    return this.processes.size
  }

  get ownedPartitions(): number {
    return [...this.feeds.values()].filter((f) => f.owner !== null).length
  }

  get bufferedBytes(): number {
    let sum = 0
    for (const feed of this.feeds.values()) sum += feed.bufferedBytes
    return sum
  }

  /** What each process has in flight now. */
  inFlight(): ProcessInFlight[] {
    return [...this.processes.values()].map((p) => ({
      instanceId: p.identity.instanceId,
      records: p.inFlightRecords,
      bytes: p.inFlightBytes,
    }))
  }

  /** The partitions Kafka assigned the member, with what it knows of their offsets (for the lag). */
  assigned(): AssignedPartition[] {
    return [...this.feeds.values()].map((f) => ({
      topic: f.topic,
      partition: f.partition,
      highWatermark: f.highWatermarkSeen,
      committed: f.committedOffset,
      startOffset: f.startOffset,
    }))
  }

  /** The sidecar-wide buffer has room again: partitions paused for it resume (those drained enough). */
  budgetRoom(): void {
    for (const feed of this.feeds.values()) this.resumeIfDrained(feed)
  }

  /** Starts the KafkaJS consumer; a failure fails the member (its processes are told). */
  start(): void {
    const consumer = this.consumer
    this.deps.session.joining(this)
    consumer.start().catch((error: unknown) => {
      if (consumer === this.consumer) this.fail(error as Error)
    })
  }

  /** Adds a process; the warnings name its settings and subscriptions that differ from the member's. */
  add(process: ConsumerProcess): string[] {
    const warnings = [
      ...settingsDifferences(this.settings, process.settings),
      ...this.subscriptions.fromBeginningDifferences(process.subscriptions),
    ]
    this.processes.set(process.id, process)
    if (!this.subscriptions.covers(process.subscriptions))
      this.resubscribe(this.subscriptions.union(process.subscriptions))
    else this.distribute()
    this.shrinkIfUnneeded()
    return warnings
  }

  /** The process is gone (stream ended, timed out, or left): its partitions go to the others. */
  remove(process: ConsumerProcess): void {
    if (!this.processes.delete(process.id)) return
    for (const feed of this.feedsOf(process)) {
      this.endOwnership(feed, process)
      this.resumeIfDrained(feed)
    }
    for (const feed of this.feeds.values()) if (feed.lateOwnerId === process.id) feed.lateOwnerId = null
    process.gaveBack({ records: process.inFlightRecords, bytes: process.inFlightBytes })
    this.distribute()
    if (this.processes.size === 0) this.deps.onEmpty(this)
    else this.shrinkIfUnneeded()
  }

  /** The process said `leave`: no new batches; it goes once its batches in flight are done. */
  leave(process: ConsumerProcess): void {
    process.leaving = true
    this.leftIfIdle(process)
  }

  released(process: ConsumerProcess, partitions: readonly OwnedPartition[]): void {
    for (const p of partitions) {
      const feed = this.ownedFeed(process, p.topic, p.partition, p.assignmentId)
      if (!feed) {
        this.lateOwnerFinished(process, p.topic, p.partition)
        continue
      }
      process.gaveBack(this.endOwnership(feed, process))
    }
    this.distribute(new Set([process]))
  }

  progress(process: ConsumerProcess, processed: ProcessedOffset): void {
    const feed = this.ownedFeed(process, processed.topic, processed.partition, processed.assignmentId)
    if (!feed) return
    process.gaveBack(feed.progress(this.delivered(feed, process, processed.nextOffset)))
    this.freed(feed)
    this.pump()
  }

  done(process: ConsumerProcess, done: BatchDone): void {
    const processed = done.processed
    if (!processed) throw invalidArgument(`done for batch ${done.batchId} has no processed offset`)
    const feed = this.ownedFeed(process, processed.topic, processed.partition, processed.assignmentId)
    if (!feed) return this.lateOwnerFinished(process, processed.topic, processed.partition)
    if (feed.inFlight?.batchId !== done.batchId)
      throw invalidArgument(
        `batch ${done.batchId} of ${name(feed)} is not the oldest in flight (done twice, out of order, taken back by a rewind, or never delivered)`,
      )
    process.gaveBack(feed.done(this.delivered(feed, process, processed.nextOffset)))
    this.freed(feed)
    this.leftIfIdle(process)
    this.pump()
  }

  /**
   * Commits offsets of partitions the process owns, each also a report of what it processed.
   * Offsets of ownerships it does not hold (any more) are refused and named in the result; the
   * rest is committed. Only when it holds none of them is the whole request refused.
   */
  async commit(process: ConsumerProcess, request: CommitOffsets): Promise<CommitResult> {
    const { requestId, offsets } = request
    const ownedOffsets: ProcessedOffset[] = []
    const refused: ProcessedOffset[] = []
    for (const o of offsets) {
      const feed = this.feeds.get(feedKey(o.topic, o.partition))
      const owns = feed?.owner?.ownerId === process.id && feed.owner.assignmentId === o.assignmentId
      ;(owns ? ownedOffsets : refused).push(o)
    }
    const answer = (error: SidecarError | undefined, committed: ProcessedOffset[] = []): CommitResult => {
      const result = error ? (refused.length > 0 ? 'refused' : 'failed') : refused.length > 0 ? 'refused' : 'ok'
      this.deps.meter.committed(this.groupId, result)
      return { requestId, error: error?.toDetail(), committed, refused: error ? [] : refused }
    }
    if (refused.length > 0 && ownedOffsets.length === 0)
      return answer(notOwned(refused.map((o) => `${o.topic}[${o.partition}] (assignment ${o.assignmentId})`)))
    if (this.state !== 'joined' && this.state !== 'rebalancing' && this.state !== 'stopping')
      return answer(notInGroup(this.groupId))
    let toCommit: ProcessedOffset[]
    try {
      toCommit = ownedOffsets.flatMap((o) => this.committable(process, o))
    } catch (error) {
      return answer(asSidecarError(error))
    }
    if (toCommit.length === 0) return answer(undefined)
    const started = performance.now()
    try {
      await this.consumer.commit(
        toCommit.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.nextOffset })),
      )
      this.noteCommitted(toCommit)
      return answer(undefined, toCommit)
    } catch (error) {
      return answer(fromKafkaJSError(error))
    } finally {
      this.deps.meter.commitSeconds(this.groupId, (performance.now() - started) / 1000)
    }
  }

  /** The lag counts from what the member committed (the feed of a partition lost meanwhile is gone). */
  private noteCommitted(offsets: readonly ProcessedOffset[]): void {
    for (const o of offsets) {
      const feed = this.feeds.get(feedKey(o.topic, o.partition))
      // The latest commit is the group's offset, lower than before after a seek back too.
      if (feed) feed.committedOffset = o.nextOffset
    }
  }

  /**
   * KafkaJS's seek, of a partition this process owns: its next batch starts at `offset`. A seek of
   * a partition it does not own is ignored (KafkaJS seeks only partitions its member is assigned;
   * the client keeps such a seek until it is given the partition).
   */
  seek(process: ConsumerProcess, seek: SeekPartition): void {
    if (seek.offset < -2)
      throw invalidArgument(
        `seek offset ${seek.offset} of ${seek.topic}[${seek.partition}] is negative (only -1 latest and -2 earliest are)`,
      )
    const feed = this.feeds.get(feedKey(seek.topic, seek.partition))
    const ownership = feed?.owner
    // A seek naming an ownership that ended (the client sent it before hearing so) must not rewind the next one.
    const named = seek.assignmentId === 0 || ownership?.assignmentId === seek.assignmentId
    if (!feed || ownership?.ownerId !== process.id || !named) {
      this.deps.log.debug('seek ignored: the instance does not own the partition', {
        groupId: this.groupId,
        partition: `${seek.topic}[${seek.partition}]`,
        instance: process.identity.instanceId,
      })
      return
    }
    process.gaveBack(feed.seek(seek.offset >= 0 ? seek.offset : null))
    this.consumer.seek(seek.topic, seek.partition, seek.offset)
    this.freed(feed)
    this.pump()
  }

  /** Delivers what can be delivered: per partition up to the owner's pipelining depth, within its limits. */
  pump(): void {
    if (this.state !== 'joined' && this.state !== 'rebalancing') return
    const feeds = [...this.feeds.values()]
    // A different partition goes first each time, so none waits behind the others for room.
    this.rotation = (this.rotation + 1) % Math.max(1, feeds.length)
    for (let i = 0; i < feeds.length; i++) this.deliverFrom(feeds[(this.rotation + i) % feeds.length]!)
  }

  describe(): Promise<GroupDescription> {
    return this.consumer.describe()
  }

  /**
   * Stops: revokes every partition from the processes, waits up to `graceMs` for them to finish
   * their batches, commit and release, then leaves the group. The processes' streams end.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return
    this.revokeAll(false)
    // From here no partition is given out again, whatever Kafka does meanwhile.
    this.state = 'stopping'
    if (this.shrinkTimer) clearTimeout(this.shrinkTimer)
    await this.releases(graceMs)
    this.state = 'stopped'
    this.leaveBudget()
    for (const timer of this.revokeTimers.values()) clearTimeout(timer)
    this.revokeTimers.clear()
    await this.consumer.stop()
    for (const process of this.processes.values()) process.stream.end(sidecarStopping())
    this.processes.clear()
  }

  private deliverFrom(feed: PartitionFeed): void {
    while (this.deliverOne(feed));
  }

  /** Delivers the feed's next batch if it may go now; whether it did. */
  private deliverOne(feed: PartitionFeed): boolean {
    if (!feed.deliverable) return false
    const owner = this.processes.get(feed.owner!.ownerId)!
    if (owner.leaving || owner.isPaused(feed.topic, feed.partition)) return false
    const room = owner.room()
    if (!room) return false
    const fits = owner.inFlightRecords === 0 || feed.nextRecordBytes <= room.bytes
    if (!fits) return false
    const most = owner.batchLimits()
    const batch = feed.deliver(
      this.deps.ids.next(),
      Math.min(room.records, most.records),
      Math.min(room.bytes, most.bytes),
    )
    owner.took(batch.records.length, batch.bytes)
    this.deps.meter.delivered(this.groupId, feed.topic, batch.records.length, batch.redelivered)
    owner.stream.send(batchEvent(feed, batch))
    return true
  }

  /**
   * Divides the partitions among the processes: partitions without an owner are given out at
   * once; a partition that should move is revoked first and given out once released (or its
   * owner gone). `changed`: processes whose partitions changed already and must hear of it.
   */
  private distribute(changed = new Set<ConsumerProcess>()): void {
    if (this.state !== 'joined') return this.announce(changed)
    const active = [...this.processes.values()].filter((p) => !p.leaving)
    const current = new Map<string, string>()
    const excluded = new Map<string, string>()
    for (const feed of this.feeds.values()) {
      const hint = feed.owner?.ownerId ?? feed.lastOwnerId
      if (hint !== null) current.set(feed.key, hint)
      if (feed.lateOwnerId !== null) excluded.set(feed.key, feed.lateOwnerId)
    }
    const target = assignLocally([...this.feeds.values()], active, current, excluded)
    const revokes = new Map<ConsumerProcess, PartitionFeed[]>()
    for (const feed of this.feeds.values()) {
      const want = target.get(feed.key)
      const owner = feed.owner ? this.processes.get(feed.owner.ownerId)! : null
      if (owner) {
        if (owner.id === want || feed.revoking || owner.leaving) continue
        feed.revoking = true
        revokes.set(owner, [...(revokes.get(owner) ?? []), feed])
        this.deps.meter.localMove(this.groupId)
        this.takeIfNotReleased(feed)
      } else if (want !== undefined) {
        const process = this.processes.get(want)!
        const assignmentId = this.deps.ids.next()
        process.issue(assignmentId, feed.key)
        feed.startOwnership({ assignmentId, ownerId: process.id, pipeline: process.limits.maxBatchesPerPartition })
        changed.add(process)
      }
    }
    for (const [process, feeds] of revokes) process.stream.send(revokeEvent(feeds, false))
    this.announce(changed)
    this.pump()
  }

  /**
   * Tells processes their partitions when they changed (every process, after a Kafka rebalance).
   * A process never told hears once the member is in the group, even with no partition (KafkaJS's
   * run() and GROUP_JOIN come with an empty assignment too).
   */
  private announce(changed: ReadonlySet<ConsumerProcess>): void {
    const afterRebalance = this.announceRebalance && this.state === 'joined'
    if (afterRebalance) this.announceRebalance = false
    for (const process of this.processes.values()) {
      const partitions = this.feedsOf(process).map(owned)
      const signature = partitions.map((p) => p.assignmentId).join(',')
      const firstNews = process.lastAssigned === null && this.state === 'joined'
      const unchanged = !changed.has(process) || signature === (process.lastAssigned ?? '')
      if (!afterRebalance && !firstNews && unchanged) continue
      process.lastAssigned = signature
      process.stream.send(assignedEvent(partitions, this.lastJoin, afterRebalance))
    }
  }

  private newConsumer(): KafkaGroupConsumer {
    const consumer: KafkaGroupConsumer = new KafkaGroupConsumer(
      this.deps.createConsumer,
      this.config,
      this.subscriptions,
      {
        // A replaced consumer's late events are not this member's any more.
        onBatch: (batch) => consumer === this.consumer && this.onBatch(batch),
        onJoin: (join) => consumer === this.consumer && this.onJoin(join),
        onRebalancing: () => consumer === this.consumer && this.onRebalancing(),
        beforeRejoin: (keepAlive) => (consumer === this.consumer ? this.beforeRejoin(keepAlive) : Promise.resolve()),
        onCrash: (error, restarting) => consumer === this.consumer && this.onCrash(error, restarting),
      },
      this.deps.log,
    )
    return consumer
  }

  /** The processes need other topics than the member subscribes to: a new KafkaJS consumer with `union`. */
  private resubscribe(union: SubscriptionSet, why = 'a process subscribes to more than the group member'): void {
    this.deps.log.info(`${why}: recreating its KafkaJS consumer (one Kafka rebalance)`, {
      groupId: this.groupId,
      subscriptions: union.entries.map((s) => s.id),
    })
    const old = this.consumer
    this.subscriptions = union
    this.revokeAll(true)
    this.consumer = this.newConsumer()
    const next = this.consumer
    void old.stop().then(() => {
      if (next === this.consumer && this.state !== 'stopped') this.start()
    })
  }

  private onBatch(batch: Batch): void {
    const feed = this.feeds.get(feedKey(batch.topic, batch.partition))
    if (!feed) return
    feed.append(fetchedChunk(batch))
    if (feed.reseek !== null) {
      // A batch fetched before the process's seek: KafkaJS is sent to the sought offset again.
      this.consumer.seek(feed.topic, feed.partition, feed.reseek)
      feed.reseek = null
    }
    const full = feed.bufferedBytes >= this.deps.bufferBytesPerPartition || this.deps.budget.full()
    if (!feed.pausedInKafka && full) {
      feed.pausedInKafka = true
      this.consumer.pause(feed.topic, feed.partition)
    }
    this.pump()
  }

  /** Kafka gave the member its partitions: lost ones are dropped, kept ones continue where their buffer ends. */
  private onJoin(join: GroupJoin): void {
    // Stopping: the partitions were revoked for good; a Kafka rebalance meanwhile gives nothing out.
    if (this.state === 'stopping' || this.state === 'stopped' || this.state === 'failed') return
    if (this.joins++ > 0) this.deps.meter.kafkaRebalance(this.groupId)
    this.state = 'joined'
    this.deps.session.joined(this)
    this.lastJoin = join
    this.announceRebalance = true
    const assigned = new Set<string>()
    for (const [topic, partitions] of Object.entries(join.memberAssignment))
      for (const partition of partitions) assigned.add(feedKey(topic, partition))
    for (const feed of [...this.feeds.values()]) if (!assigned.has(feed.key)) this.drop(feed)
    for (const key of assigned) {
      const feed = this.feeds.get(key)
      if (!feed) {
        const [topic, partition] = splitKey(key)
        this.feeds.set(key, new PartitionFeed(topic, partition))
        continue
      }
      // KafkaJS starts a kept partition at its committed offset: continue after the buffer instead
      // (the feed drops what it has already, should a fetch come back from earlier anyway).
      if (feed.fetchPosition !== null) this.consumer.seek(feed.topic, feed.partition, feed.fetchPosition)
      if (feed.pausedInKafka) this.consumer.pause(feed.topic, feed.partition)
    }
    this.deps.log.info('group member joined', {
      groupId: this.groupId,
      memberId: join.memberId,
      partitions: assigned.size,
    })
    this.distribute()
  }

  /** KafkaJS's REBALANCING: every process gives its partitions up, as KafkaJS's consumers do. */
  private onRebalancing(): void {
    if (this.state !== 'joined') return
    this.revokeAll(true)
  }

  /**
   * The group rebalances and KafkaJS is about to rejoin from inside eachBatch: the processes are
   * revoked first and given time to finish the message in hand, commit and release (as a KafkaJS
   * member finishes its batch and commits before it rejoins), within the group's rebalanceTimeout
   * less a margin so the member still rejoins in time.
   */
  private async beforeRejoin(keepAlive: () => Promise<void>): Promise<void> {
    if (this.state !== 'joined' && this.state !== 'rebalancing') return
    this.revokeAll(true)
    const timeoutMs = this.config.rebalanceTimeout ?? DEFAULT_REVOKE_TIMEOUT_MS
    await this.releases(timeoutMs - Math.max(REJOIN_MARGIN_MS, timeoutMs / 10), keepAlive)
  }

  /** Waits until no partition is owned by a process, or `withinMs` passed. */
  private async releases(withinMs: number, keepAlive?: () => Promise<void>): Promise<void> {
    const deadline = Date.now() + withinMs
    while (Date.now() < deadline && this.ownedPartitions > 0) {
      await new Promise((r) => setTimeout(r, 20))
      await keepAlive?.()
    }
  }

  private onCrash(error: Error, restarting: boolean): void {
    this.deps.log.error('group member crashed', { groupId: this.groupId, error: error.message, restarting })
    const groupError = memberFailed(this.groupId, error)
    for (const feed of [...this.feeds.values()]) this.drop(feed)
    for (const process of this.processes.values()) process.stream.send(groupErrorEvent(groupError, restarting))
    if (restarting) {
      this.state = 'starting'
      this.deps.session.crashed(this, error, true)
      this.announce(new Set(this.processes.values()))
    } else this.fail(error)
  }

  private fail(error: Error): void {
    if (this.state === 'failed' || this.state === 'stopped') return
    this.state = 'failed'
    this.deps.session.crashed(this, error, false)
    this.leaveBudget()
    if (this.shrinkTimer) clearTimeout(this.shrinkTimer)
    this.deps.log.error('group member failed', { groupId: this.groupId, error: error.message })
    const failure = memberFailed(this.groupId, error)
    for (const process of this.processes.values()) process.stream.end(failure)
    this.processes.clear()
    this.deps.onFailed(this)
    void this.consumer.stop()
  }

  private revokeAll(rebalance: boolean): void {
    this.state = this.state === 'joined' ? 'rebalancing' : this.state
    for (const process of this.processes.values()) {
      const feeds = this.feedsOf(process).filter((f) => !f.revoking)
      for (const feed of feeds) {
        feed.revoking = true
        this.takeIfNotReleased(feed)
      }
      if (feeds.length > 0) process.stream.send(revokeEvent(feeds, rebalance))
    }
  }

  /** The member lost the partition: its ownership ends, and its buffer goes. */
  private drop(feed: PartitionFeed): void {
    const owner = feed.owner ? this.processes.get(feed.owner.ownerId) : undefined
    owner?.gaveBack(this.endOwnership(feed, owner))
    this.feeds.delete(feed.key)
    this.deps.budget.freed()
  }

  /** Ends the feed's ownership; the owner (when known) forgets it among its live ones. */
  private endOwnership(
    feed: PartitionFeed,
    owner: ConsumerProcess | undefined,
  ): ReturnType<PartitionFeed['endOwnership']> {
    if (feed.owner) owner?.ownershipEnded(feed.owner.assignmentId)
    return feed.endOwnership()
  }

  /**
   * A process that keeps saying `alive` but never answers `revoke` would keep the partition for
   * ever: after the group's rebalanceTimeout (what KafkaJS gives a member to rejoin) the
   * partition is taken from it as from a process gone. Its records not reported processed go to
   * the next owner, counted as redelivered; the process hears its partitions without it.
   */
  private takeIfNotReleased(feed: PartitionFeed): void {
    const assignmentId = feed.owner!.assignmentId
    const timeoutMs = this.config.rebalanceTimeout ?? DEFAULT_REVOKE_TIMEOUT_MS
    clearTimeout(this.revokeTimers.get(feed.key))
    const timer = setTimeout(() => {
      this.revokeTimers.delete(feed.key)
      if (this.feeds.get(feed.key) !== feed || !feed.revoking || feed.owner?.assignmentId !== assignmentId) return
      const owner = this.processes.get(feed.owner.ownerId)
      this.deps.log.warn('a process did not release a revoked partition in time: taking it', {
        groupId: this.groupId,
        partition: name(feed),
        instance: owner?.identity.instanceId,
        timeoutMs,
      })
      owner?.gaveBack(this.endOwnership(feed, owner))
      // The late owner still works on its batch: the partition goes elsewhere, not straight back.
      if (owner) feed.lateOwnerId = owner.id
      this.resumeIfDrained(feed)
      if (owner) this.leftIfIdle(owner)
      this.distribute(new Set(owner ? [owner] : []))
    }, timeoutMs)
    timer.unref()
    this.revokeTimers.set(feed.key, timer)
  }

  private resumeIfDrained(feed: PartitionFeed): void {
    if (feed.pausedInKafka && feed.bufferedBytes <= this.deps.bufferBytesPerPartition / 2 && this.deps.budget.roomy()) {
      feed.pausedInKafka = false
      this.consumer.resume(feed.topic, feed.partition)
    }
  }

  private leftIfIdle(process: ConsumerProcess): void {
    if (!process.leaving || this.feedsOf(process).some((f) => f.inFlight !== null)) return
    this.remove(process)
    process.stream.left()
  }

  /**
   * The feed of an ownership the process holds now; null when that ownership ended (its reports
   * are ignored). An assignment id never given to this process, or naming another partition, is
   * a protocol error.
   */
  private ownedFeed(
    process: ConsumerProcess,
    topic: string,
    partition: number,
    assignmentId: number,
  ): PartitionFeed | null {
    const key = feedKey(topic, partition)
    const issued = process.issuedFor(assignmentId)
    if (issued === undefined)
      throw invalidArgument(`assignment_id ${assignmentId} (${topic}[${partition}]) was never given to this instance`)
    if (issued === 'ended-long-ago') return null
    if (issued !== key)
      throw invalidArgument(
        `assignment_id ${assignmentId} names ${issued.replace('|', '[')}], not ${topic}[${partition}]`,
      )
    const feed = this.feeds.get(key)
    return feed?.owner?.assignmentId === assignmentId ? feed : null
  }

  /**
   * A reported offset, bounded by what was delivered to the ownership: KafkaJS accepts
   * resolveOffset past its batch, so a report past it is taken as "all delivered", warned once
   * per ownership, never a reason to end the stream.
   */
  private delivered(feed: PartitionFeed, process: ConsumerProcess, nextOffset: number): number {
    const bound = feed.deliveredUpTo
    if (nextOffset <= bound) return nextOffset
    if (!feed.overshootWarned) {
      feed.overshootWarned = true
      this.deps.log.warn('an offset past what was delivered was reported: taken as the end of what was delivered', {
        groupId: this.groupId,
        partition: name(feed),
        instance: process.identity.instanceId,
        reported: nextOffset,
        deliveredUpTo: bound,
      })
    }
    return bound
  }

  /** An owned commit offset, reported as progress, bounded by what was delivered; none when nothing was. */
  private committable(process: ConsumerProcess, o: ProcessedOffset): ProcessedOffset[] {
    const feed = this.feeds.get(feedKey(o.topic, o.partition))!
    this.progress(process, o)
    const nextOffset = this.delivered(feed, process, o.nextOffset)
    return nextOffset < 0 ? [] : [{ ...o, nextOffset }]
  }

  /** The late owner of a taken partition finished its batch of it: the partition may go to it again. */
  private lateOwnerFinished(process: ConsumerProcess, topic: string, partition: number): void {
    const feed = this.feeds.get(feedKey(topic, partition))
    if (feed?.lateOwnerId !== process.id) return
    feed.lateOwnerId = null
    this.distribute()
  }

  /** Bytes left the feed's buffer: it (and the partitions paused for the sidecar-wide bound) may resume. */
  private freed(feed: PartitionFeed): void {
    this.resumeIfDrained(feed)
    this.deps.budget.freed()
  }

  /**
   * When the processes need fewer subscriptions than the member has (the last process of a topic
   * left), the member is recreated with their union after a grace (one Kafka rebalance), so other
   * pods get those partitions; a process needing them again within the grace cancels it.
   */
  private shrinkIfUnneeded(): void {
    const needed = unionOf([...this.processes.values()].map((p) => p.subscriptions))
    const shrinks = needed !== null && this.subscriptions.entries.some((s) => !needed.has(s.id))
    if (!shrinks) {
      if (this.shrinkTimer) clearTimeout(this.shrinkTimer)
      this.shrinkTimer = null
      return
    }
    if (this.shrinkTimer) return
    this.shrinkTimer = setTimeout(() => {
      this.shrinkTimer = null
      const now = unionOf([...this.processes.values()].map((p) => p.subscriptions))
      if (this.state === 'stopping' || this.state === 'stopped' || this.state === 'failed' || now === null) return
      if (this.subscriptions.entries.every((s) => now.has(s.id))) return
      this.resubscribe(now, 'the processes need fewer subscriptions than the group member has')
    }, this.deps.shrinkAfterMs)
    this.shrinkTimer.unref()
  }

  private feedsOf(process: ConsumerProcess): PartitionFeed[] {
    return [...this.feeds.values()].filter((f) => f.owner?.ownerId === process.id)
  }
}

/** How long before the group's rebalanceTimeout ends the member stops waiting for releases and rejoins. */
const REJOIN_MARGIN_MS = 1_000

function name(feed: PartitionFeed): string {
  return `${feed.topic}[${feed.partition}]`
}

function splitKey(key: string): [string, number] {
  const at = key.lastIndexOf('|')
  return [key.slice(0, at), Number(key.slice(at + 1))]
}
