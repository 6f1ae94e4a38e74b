/**
 * One run of a sidecar consumer in its group, from run() to stop() or a crash (KafkaJS's
 * ConsumerGroup, which KafkaJS also makes anew at each start): the partitions this process owns,
 * their resolved offsets and commits, the paused partitions, the member id, and the heartbeat.
 * What KafkaJS sends to the group coordinator goes to the sidecar instead: commits as
 * CommitOffsets, heartbeats as progress (or `alive`), pauses as they are.
 */
import { PausedPartitions, type PauseRequest, type ProcessedOffset } from '@kafka-sidecar/proto'
import type { Offsets, OffsetsByTopicPartition, TopicOffsets } from 'kafkajs'
import Long from 'kafkajs/src/utils/long.js'
import type { CommitPolicy } from './commit-policy.js'
import { BackgroundCommits } from './background-commits.js'
import { Commits, type GroupIdentity } from './commits.js'
import type { ConsumeTransport } from './consume-transport.js'
import type { ConsumerEvents } from './consumer-events.js'
import type { ConsumerMetrics } from './consumer-metrics.js'
import { asTopicOffsets, countResolved, offsetsToCommit, type OffsetToCommit } from './offsets.js'
import { HandlerProgress } from './handler-progress.js'
import { keyOf, Ownerships, type DeliveredBatch, type Ownership } from './ownerships.js'
import type { SidecarBatch } from './sidecar-batch.js'
import type { CommitRequest } from './validation.js'

/**
 * The sidecar does not pass on its member's generation: -1 says "not known" where KafkaJS's events
 * carry groupGenerationId (a deliberate difference, docs/consumers.md).
 */
export const UNKNOWN_GENERATION = -1

export interface SessionSettings {
  readonly groupId: string
  readonly heartbeatInterval: number
}

export class GroupSession {
  readonly ownerships = new Ownerships()
  readonly paused = new PausedPartitions()
  readonly progress = new HandlerProgress()
  memberId = ''
  /**
   * The sidecar pipelines (Joined.max_batches_per_partition): batches carry `rewinds`, and one
   * sent before the sidecar heard this process's last rewind of the ownership is dropped.
   */
  pipelined = false
  /** Where a failure of a background auto-commit goes (the run loop). */
  onBackgroundCommitError: (error: Error) => void = () => {}
  /**
   * Seeks of partitions this process does not own, applied when it is given them: KafkaJS keeps a
   * seek until its member is assigned the partition (consumerGroup.seekOffsets).
   */
  private readonly pendingSeeks = new Map<string, { topic: string; partition: number; offset: bigint }>()
  private readonly commits: Commits
  private readonly background: BackgroundCommits
  /** Asked to commit while their commit was in flight: committed once it is answered. */
  private readonly waitingCommits = new Set<Ownership>()
  private lastHeartbeat = Date.now()
  /** Records of the batches arrived and not over: the in-flight gauge, taken back whole when the run ends. */
  private inFlightRecords = 0
  private ended = false

  constructor(
    private readonly settings: SessionSettings,
    private readonly transport: ConsumeTransport,
    private readonly events: ConsumerEvents,
    readonly policy: CommitPolicy,
    private readonly metrics: ConsumerMetrics,
  ) {
    this.commits = new Commits(
      transport,
      events,
      () => this.identity(),
      (refused) => this.lost(refused),
      metrics,
    )
    this.background = new BackgroundCommits(
      (waiting) => this.commitIdle(waiting),
      (error) => this.onBackgroundCommitError(error),
    )
  }

  identity(): GroupIdentity {
    return { groupId: this.settings.groupId, memberId: this.memberId, groupGenerationId: UNKNOWN_GENERATION }
  }

  /** KafkaJS's resolveOffset: the next offset to process is `offset` + 1. */
  resolveOffset(owned: Ownership, offset: string | number): void {
    owned.resolved = Long.fromValue(offset).value + 1n
    this.progress.note()
  }

  /**
   * The partitions owned now. A revoked partition whose batch is not over is not among them: its
   * last commit goes alone, in release(), so a sidecar that already took it refuses that one only.
   */
  uncommittedOffsets(): OffsetsByTopicPartition {
    return asTopicOffsets(offsetsToCommit(this.ownerships.all()))
  }

  /** At a batch's end or failure, when auto-committing: everything resolved and not committed. */
  async autoCommit(): Promise<void> {
    if (!this.policy.commitsAfterBatch()) return
    await this.background.settled()
    await this.commitResolved()
  }

  /** At a batch's end, when auto-committing: a commit the run loop does not wait for (background-commits.ts). */
  autoCommitInBackground(): void {
    if (this.policy.commitsAfterBatch()) this.background.request()
  }

  /** After a message, when auto-committing and the interval or threshold says so: in the background too. */
  autoCommitIfNecessaryInBackground(): void {
    if (this.policy.commitsAfterMessage(() => countResolved(this.ownerships.all()))) this.background.request()
  }

  /** Resolves once no background commit is in flight: stop() waits for it, as KafkaJS's stop waits for its batch's commit. */
  commitsSettled(): Promise<void> {
    return this.background.settled()
  }

  /** eachBatch's commitOffsetsIfNecessary() without offsets. */
  async commitIfNecessary(): Promise<void> {
    if (this.policy.isNecessary(() => countResolved(this.ownerships.all()))) await this.commitResolved()
  }

  /**
   * The background commit: partitions resolved, not committed, and with no commit in flight. One
   * with a commit in flight waits for its answer (`waiting`: those that waited, and only them,
   * as KafkaJS commits a partition at its batch's end, not in the middle of another batch).
   */
  private commitIdle(waiting: boolean): Promise<void> | null {
    const among = waiting ? [...this.waitingCommits] : this.ownerships.all()
    if (waiting) this.waitingCommits.clear()
    const current = among.filter((owned) => this.ownerships.inEpoch(owned) && !owned.ended)
    for (const owned of current)
      if (owned.committing !== null && offsetsToCommit([owned]).length > 0) this.waitingCommits.add(owned)
    const offsets = offsetsToCommit(current.filter((owned) => owned.committing === null))
    if (offsets.length === 0) return null
    for (const { owned, offset } of offsets) owned.committing = offset
    return this.commitOwned(offsets, asTopicOffsets(offsets).topics).finally(() => {
      for (const { owned } of offsets) owned.committing = null
    })
  }

  /** Commits what is resolved and not committed, of `among` (default: every partition owned). */
  async commitResolved(among: Ownership[] = this.ownerships.all()): Promise<void> {
    const offsets = offsetsToCommit(among.filter((owned) => this.ownerships.inEpoch(owned)))
    if (offsets.length === 0) {
      this.policy.committed()
      return
    }
    await this.commitOwned(offsets, asTopicOffsets(offsets).topics)
  }

  private commitOwned(offsets: OffsetToCommit[], topics: TopicOffsets[]): Promise<void> {
    const wire = offsets.map(({ owned, offset }) => ({
      topic: owned.topic,
      partition: owned.partition,
      assignmentId: owned.assignmentId,
      nextOffset: Number(offset),
    }))
    return this.commits.send(wire, topics, (committed) => {
      for (const { owned, offset } of offsets) if (committed(owned.topic, owned.partition)) owned.committed = offset
      this.policy.committed()
    })
  }

  /**
   * Commits offsets the application named. `eventTopics` is how COMMIT_OFFSETS lists them: KafkaJS
   * puts the application's own values in the event (commitOffsets: the partition as given, the
   * offset as a Long; commitOffsetsIfNecessary(offsets): the objects as given); null for a commit
   * KafkaJS makes without the event (a seek's).
   */
  async commitGiven(requests: readonly CommitRequest[], eventTopics: TopicOffsets[] | null): Promise<void> {
    if (requests.length === 0) {
      this.policy.committed()
      return
    }
    const wire = requests.map(({ topic, partition, offset }) => this.processed(topic, partition, offset))
    await this.commits.send(wire, eventTopics, (committed) => {
      for (const { topic, partition, offset } of requests) {
        const owned = this.ownerships.get(topic, partition)
        if (owned && committed(topic, partition)) owned.committed = offset
      }
      this.policy.committed()
    })
  }

  /** eachBatch's commitOffsetsIfNecessary(offsets): KafkaJS's Offsets shape. */
  commitOffsetsGiven(offsets: Offsets): Promise<void> {
    const topics = offsets.topics ?? []
    const requests = topics.flatMap(({ topic, partitions }) =>
      partitions.map(({ partition, offset }) => ({
        topic,
        partition: Number(partition),
        offset: Long.fromValue(offset).value,
        metadata: null,
      })),
    )
    return this.commitGiven(requests, topics)
  }

  private processed(topic: string, partition: number, offset: bigint): ProcessedOffset {
    const owned = this.ownerships.get(topic, partition)
    return { topic, partition, assignmentId: owned?.assignmentId ?? 0, nextOffset: Number(offset) }
  }

  /** The sidecar refused offsets of ownerships it no longer gives this process: they are lost, as after a rebalance. */
  private lost(refused: readonly ProcessedOffset[]): void {
    this.ownerships.lose(refused)
  }

  onCommitResult: Commits['onResult'] = (result) => this.commits.onResult(result)

  failCommits(reason: string): void {
    this.commits.failAll(reason)
  }

  /**
   * KafkaJS's heartbeat, at most once per heartbeatInterval: here it tells the sidecar what this
   * process resolved since (progress, so a next owner would start there) or that it is alive, and
   * emits HEARTBEAT as KafkaJS does after a heartbeat request.
   */
  async heartbeat(): Promise<void> {
    this.progress.note()
    const now = Date.now()
    if (!this.memberId || now < this.lastHeartbeat + this.settings.heartbeatInterval) return
    this.reportProgress()
    this.lastHeartbeat = Date.now()
    this.events.emit('consumer.heartbeat', this.identity())
  }

  /** Progress for every partition resolved further since the last report, else `alive`. */
  reportProgress(): void {
    let reported = false
    for (const owned of this.ownerships.all()) {
      if (owned.resolved === null || owned.resolved === owned.reported) continue
      this.transport.progress(this.processed(owned.topic, owned.partition, owned.resolved))
      owned.reported = owned.resolved
      reported = true
    }
    if (!reported) this.transport.alive()
  }

  /**
   * A batch of `owned` arrived; whether it is stale on arrival: the first batch after a seek the
   * sidecar heard while no batch was out here may have left before the seek was heard. A batch the
   * seek produced starts at the sought offset; one from before does not (KafkaJS likewise drops a
   * fetch response of a partition sought meanwhile). For -1 and -2 the first batch goes back once.
   */
  arrived(owned: Ownership, batch: SidecarBatch): boolean {
    owned.batchesOut++
    this.countInFlight(batch.messages.length)
    // Pipelined: a batch from before the seek carries fewer rewinds and is dropped (current()).
    if (this.pipelined) return false
    const fence = owned.seekFence
    if (fence === null) return false
    owned.seekFence = null
    const first = batch.firstOffset()
    return first !== null && (fence < 0n || BigInt(first) !== fence)
  }

  /**
   * A batch is over (processed, stopped or failed): the sidecar may deliver the partition's next
   * one, from the first offset not processed. Then a revoked partition is given up, or a seek that
   * waited for the batch takes effect. Nothing is said about an ownership of a lost stream.
   */
  batchOver(owned: Ownership, delivered: DeliveredBatch, onReleaseError: (error: unknown) => void): void {
    owned.batchesOut = Math.max(0, owned.batchesOut - 1)
    this.countInFlight(-delivered.batch.messages.length)
    if (!this.ownerships.inEpoch(owned)) return
    // A batch a seek made stale while in its handler was taken back by the sidecar with the seek.
    if (this.current(owned, delivered)) this.sayDone(owned, delivered)
    if (owned.revoked) void this.release(owned).catch(onReleaseError)
    // Pipelined, batches from before the seek were dropped: what waits is from the sought offset.
    else if (owned.seekTo !== null && (this.pipelined || owned.pending.length === 0))
      this.applySeek(owned, onReleaseError)
  }

  /**
   * Whether a batch is still wanted by the sidecar: it carries as many rewinds as this process
   * sent for the ownership (always, with a sidecar that does not pipeline).
   */
  current(owned: Ownership, delivered: DeliveredBatch): boolean {
    return !this.pipelined || delivered.rewinds === owned.rewinds
  }

  /** Whether the run loop runs a batch that waited; one the sidecar took back is dropped, and no longer in flight. */
  runs(owned: Ownership, delivered: DeliveredBatch): boolean {
    if (this.current(owned, delivered)) return true
    this.countInFlight(-delivered.batch.messages.length)
    return false
  }

  /** `done` with the next offset to process; short of the batch's end it rewinds the ownership's delivery. */
  private sayDone(owned: Ownership, { batchId, batch, staleOnArrival }: DeliveredBatch): void {
    const first = batch.firstOffset()
    const handedBack = staleOnArrival && first !== null ? BigInt(first) : null
    const end = BigInt(batch.lastOffset()) + 1n
    const position = handedBack ?? owned.position(batch) ?? end
    this.transport.done({
      batchId,
      processed: {
        topic: owned.topic,
        partition: owned.partition,
        assignmentId: owned.assignmentId,
        nextOffset: Number(position),
      },
    })
    if (this.pipelined && position < end) this.rewound(owned)
  }

  /** The sidecar takes back the ownership's batches in flight when it hears this: those here are stale. */
  private rewound(owned: Ownership): void {
    owned.rewinds++
    owned.pending.length = 0
  }

  /**
   * A revoked partition whose batch is over: commit what it resolved (auto-commit), alone, then
   * give it up; unless its stream was lost meanwhile (the sidecar gave it away with the stream).
   */
  async release(owned: Ownership): Promise<void> {
    try {
      if (this.policy.commitsAfterBatch()) {
        // After the background commits in flight, so that this one, the last, lands last.
        await this.background.settled()
        await this.commitResolved([owned])
      }
    } finally {
      if (this.ownerships.inEpoch(owned))
        this.transport.released({
          partitions: [{ topic: owned.topic, partition: owned.partition, assignmentId: owned.assignmentId }],
        })
    }
  }

  /**
   * consumer.seek(): of a partition owned now, the sidecar moves it (its next batch starts there),
   * this process's batch in hand becomes stale (KafkaJS's isStale) and the seek takes effect here
   * when it is over. Of a partition not owned (not yet, or revoked and still finishing its batch):
   * kept, and made when this process is given the partition, as KafkaJS keeps it.
   */
  seek(topic: string, partition: number, offset: bigint, onCommitError: (error: unknown) => void): void {
    const owned = this.ownerships.get(topic, partition)
    if (!owned) {
      this.pendingSeeks.set(keyOf(topic, partition), { topic, partition, offset })
      return
    }
    this.transport.seek({ topic, partition, offset: Number(offset), assignmentId: owned.assignmentId })
    owned.seekTo = String(offset)
    if (this.pipelined) this.rewound(owned)
    else if (owned.batchesOut === 0) owned.seekFence = offset
    if (!owned.busy && owned.pending.length === 0) this.applySeek(owned, onCommitError)
  }

  /** After an assignment: the seeks kept for partitions this process owns now are made. */
  seekPending(onCommitError: (error: unknown) => void): void {
    for (const owned of this.ownerships.all()) {
      const key = keyOf(owned.topic, owned.partition)
      const pending = this.pendingSeeks.get(key)
      if (!pending) continue
      this.pendingSeeks.delete(key)
      this.seek(pending.topic, pending.partition, pending.offset, onCommitError)
    }
  }

  /**
   * KafkaJS's offsetManager.seek: with auto-commit the seek offset is committed (without the
   * COMMIT_OFFSETS event) and what was resolved is forgotten; without, it is resolved, so the next
   * commit commits it. KafkaJS commits "latest" and "earliest" (-1, -2) as they are; the sidecar
   * resolves those to offsets itself, so they are not committed here.
   */
  private applySeek(owned: Ownership, onCommitError: (error: unknown) => void): void {
    const offset = BigInt(owned.seekTo!)
    owned.seekTo = null
    if (!this.policy.autoCommit) {
      owned.resolved = offset
      return
    }
    owned.resolved = null
    owned.committed = null
    if (offset >= 0n)
      this.commitGiven([{ topic: owned.topic, partition: owned.partition, offset, metadata: null }], null).catch(
        onCommitError,
      )
  }

  /** The run is over: batches that never ran (their partitions dropped with it) are in flight no more. */
  end(): void {
    this.countInFlight(-this.inFlightRecords)
    this.ended = true
  }

  private countInFlight(delta: number): void {
    if (delta === 0 || this.ended) return
    this.inFlightRecords += delta
    this.metrics.inFlight(delta)
  }

  pause(requests: PauseRequest[]): void {
    // KafkaJS's pause of an empty list of partitions ends a whole-topic pause and pauses nothing;
    // on the wire an empty list is the whole topic, so that is said as a resume of the topic.
    const unpaused = requests
      .filter(({ topic, partitions }) => partitions?.length === 0 && this.paused.isWhollyPaused(topic))
      .map(({ topic }) => ({ topic, partitions: [] }))
    this.paused.pause(requests)
    const topics = onWire(requests)
    if (topics.length > 0) this.transport.pause({ topics })
    if (unpaused.length > 0) this.transport.resume({ topics: unpaused })
  }

  resume(requests: PauseRequest[]): void {
    this.paused.resume(requests)
    const topics = onWire(requests)
    if (topics.length > 0) this.transport.resume({ topics })
  }

  /** After the stream was opened again: the sidecar hears the pauses in force once more. */
  repeatPauses(): void {
    const { pause, resume } = this.paused.asRequests()
    if (pause.length > 0) this.transport.pause({ topics: onWire(pause) })
    if (resume.length > 0) this.transport.resume({ topics: onWire(resume) })
  }
}

/**
 * On the wire no partitions means the whole topic (KafkaJS's `partitions` left out); an empty list
 * names no partition, so it is not sent.
 */
function onWire(requests: readonly PauseRequest[]): Array<{ topic: string; partitions: number[] }> {
  return requests
    .filter(({ partitions }) => partitions === undefined || partitions.length > 0)
    .map(({ topic, partitions }) => ({ topic, partitions: partitions ? [...partitions] : [] }))
}
