/**
 * One Consume stream: one consumer instance of a process. The first message must be `join`; then
 * the instance's reports go to its group member, and the member's events come back on the stream.
 * The instance is gone when its stream ends or is cancelled, or when nothing was heard from it for
 * its process_timeout_ms; a protocol error (a message that cannot be, or names what was never
 * given) ends the stream with INVALID_ARGUMENT naming it. Other streams are not affected.
 */
import type { ServerDuplexStream } from '@grpc/grpc-js'
import type { ConsumeEvent, ConsumeRequest, JoinGroup } from '@kafka-sidecar/proto'
import { invalidArgument, type SidecarError } from '../errors.js'
import { asSidecarError, toServiceError } from '../grpc/convert.js'
import type { OpenStreams } from '../grpc/open-streams.js'
import { checkDecoded } from '../grpc/request-checks.js'
import { joinTimedOut, processTimedOut, sidecarStopping } from './consumer-errors.js'
import type { ConsumerGroups } from './consumer-groups.js'
import { ConsumerProcess, type FlowLimits } from './consumer-process.js'
import type { GroupMember } from './group-member.js'
import { parseSubscriptions } from './subscriptions.js'

export interface ConsumeSessionDeps {
  readonly groups: ConsumerGroups
  /** Flow-control limits of instances that leave them 0. */
  readonly defaults: Omit<FlowLimits, 'maxBatchesPerPartition'>
  /** How long a stream may stay open without its join. */
  readonly joinTimeoutMs: number
}

/** process_timeout_ms 0 means this (the contract's default). */
export const DEFAULT_PROCESS_TIMEOUT_MS = 30_000
/** Longest a process may stay silent; a longer timeout would keep partitions of a dead process for hours. */
const MAX_PROCESS_TIMEOUT_MS = 10 * 60_000

/** The deepest pipeline granted: the in-flight records and bytes bound a process anyway; this bounds a rewind's waste. */
const MAX_BATCHES_PER_PARTITION = 16

let nextSession = 1

export class ConsumeSession {
  private process: ConsumerProcess | null = null
  private member: GroupMember | null = null
  private closed = false
  private lastHeard = Date.now()
  private liveness: NodeJS.Timeout | null = null
  /**
   * Events the member sends while the process is being added (its `assigned`, its first batches)
   * wait until `joined` went out: the contract promises `joined` first, and the client re-sends
   * its pauses when it hears `joined`.
   */
  private beforeJoined: ConsumeEvent[] | null = []
  private readonly forget: () => void

  constructor(
    private readonly call: ServerDuplexStream<ConsumeRequest, ConsumeEvent>,
    private readonly deps: ConsumeSessionDeps,
    streams: OpenStreams,
  ) {
    this.forget = streams.add({ end: () => this.fail(sidecarStopping()) })
    // A stream that never joins would hold its slot for ever: liveness only starts with the join.
    this.liveness = setTimeout(() => {
      if (!this.process) this.fail(joinTimedOut(deps.joinTimeoutMs))
    }, deps.joinTimeoutMs)
    this.liveness.unref()
    call.on('data', (message: ConsumeRequest) => this.read(message))
    call.on('end', () => this.finish())
    call.on('cancelled', () => this.close())
    call.on('error', () => this.close())
  }

  private read(message: ConsumeRequest): void {
    if (this.closed) return
    this.lastHeard = Date.now()
    try {
      this.handle(message)
    } catch (error) {
      this.fail(asSidecarError(error))
    }
  }

  private handle(message: ConsumeRequest): void {
    checkDecoded(message)
    const request = message.request
    if (!request)
      throw invalidArgument(
        'empty ConsumeRequest: set one of join, progress, done, commit, seek, pause, resume, released, alive, leave',
      )
    const { process, member } = this
    if (!process || !member) {
      if (request.$case !== 'join')
        throw invalidArgument(`the first message of a Consume stream must be join, not ${request.$case}`)
      return this.join(request.value)
    }
    switch (request.$case) {
      case 'join':
        throw invalidArgument(
          `duplicate join: this stream joined group "${member.groupId}" already; a second consumer opens a stream of its own`,
        )
      case 'progress':
        return member.progress(process, request.value)
      case 'done':
        return member.done(process, request.value)
      case 'commit':
        return void member
          .commit(process, request.value)
          .then((result) => this.send({ event: { $case: 'commitResult', value: result } }))
      case 'seek':
        return member.seek(process, request.value)
      case 'pause':
        process.pause(request.value.topics)
        // KafkaJS's pause of some partitions ends a whole-topic pause: others may be deliverable now.
        return member.pump()
      case 'resume':
        process.resume(request.value.topics)
        return member.pump()
      case 'released':
        return member.released(process, request.value.partitions)
      case 'alive':
        return
      case 'leave':
        return member.leave(process)
    }
  }

  private join(join: JoinGroup): void {
    if (join.groupId === '')
      throw invalidArgument('join.group_id is empty: a consumer group id is required, as KafkaJS requires')
    if (join.instanceId === '')
      throw invalidArgument('join.instance_id is empty: each consumer instance sends an id of its own')
    const subscriptions = parseSubscriptions(join.subscriptions)
    const timeoutMs = join.processTimeoutMs === 0 ? DEFAULT_PROCESS_TIMEOUT_MS : join.processTimeoutMs
    if (timeoutMs > MAX_PROCESS_TIMEOUT_MS)
      throw invalidArgument(
        `join.process_timeout_ms ${timeoutMs} is longer than the most allowed, ${MAX_PROCESS_TIMEOUT_MS}`,
      )
    const limits: FlowLimits = {
      maxRecordsInFlight: join.maxRecordsInFlight || this.deps.defaults.maxRecordsInFlight,
      maxBytesInFlight: join.maxBytesInFlight || this.deps.defaults.maxBytesInFlight,
      maxBatchesPerPartition: Math.min(join.maxBatchesPerPartition, MAX_BATCHES_PER_PARTITION),
    }
    const process = new ConsumerProcess(
      {
        id: `${join.instanceId}#${nextSession++}`,
        instanceId: join.instanceId,
        clientId: join.clientId,
        appName: join.appName,
      },
      subscriptions,
      join.settings,
      limits,
      { send: (event) => this.send(event), end: (error) => this.fail(error), left: () => this.finish() },
    )
    this.process = process
    const { member, warnings } = this.deps.groups.join(process, join, subscriptions)
    this.member = member
    const early = this.beforeJoined ?? []
    this.beforeJoined = null
    this.send({
      event: {
        $case: 'joined',
        value: { memberId: member.memberId, warnings, maxBatchesPerPartition: limits.maxBatchesPerPartition },
      },
    })
    for (const event of early) this.send(event)
    this.watchLiveness(timeoutMs)
  }

  /** Nothing heard for `timeoutMs`: the instance is gone, its partitions move. */
  private watchLiveness(timeoutMs: number): void {
    if (this.liveness) clearTimeout(this.liveness)
    this.liveness = setInterval(
      () => {
        if (Date.now() - this.lastHeard > timeoutMs) this.fail(processTimedOut(timeoutMs))
      },
      Math.max(10, Math.min(1_000, timeoutMs / 4)),
    )
    this.liveness.unref()
  }

  private send(event: ConsumeEvent): void {
    if (this.beforeJoined) this.beforeJoined.push(event)
    else if (!this.closed && !this.call.cancelled) this.call.write(event)
  }

  /** Ends the stream with an error status; the instance is gone. */
  private fail(error: SidecarError): void {
    if (this.closed) return
    this.close()
    this.call.emit('error', toServiceError(error))
  }

  /** Ends the stream normally (the client ended its side, or left). */
  private finish(): void {
    if (this.closed) return
    this.close()
    this.call.end()
  }

  private close(): void {
    if (this.closed) return
    this.closed = true
    this.forget()
    if (this.liveness) clearInterval(this.liveness)
    if (this.process && this.member) this.member.remove(this.process)
  }
}
