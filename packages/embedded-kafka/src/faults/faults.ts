/**
 * Faults a test arms on the cluster, to rehearse what networks and brokers do to clients:
 *
 * - a Produce whose batches the broker appends but whose answer never reaches the client (the
 *   connection drops, or the answer comes after the client gave up). The client cannot tell
 *   whether its records were written, so it retries; an idempotent producer's retry is answered
 *   as a duplicate, any other retry writes the records a second time, as with Kafka.
 * - A partition of a Produce refused with an error code, its batch not appended, while the
 *   request's other partitions are written: what a stale leader (NOT_LEADER_FOR_PARTITION) or a
 *   short ISR (NOT_ENOUGH_REPLICAS) does to one partition of a request.
 * - InitProducerId refused for idempotent producers, as Kafka refuses a principal without the
 *   IdempotentWrite permission.
 * - A consumer group's member requests (JoinGroup, SyncGroup, Heartbeat) refused, as Kafka refuses
 *   a principal without Read on the group, or as a coordinator that cannot serve the group does.
 *
 * A fault fires a set number of times and then disarms itself.
 */
import { ErrorCode } from '../protocol/error-codes.js'

export interface LoseProduceResponsesOptions {
  readonly topic: string
  /** Only Produce requests carrying this partition; any partition of `topic` when omitted. */
  readonly partition?: number
  /** How many Produce answers to lose. Default 1. */
  readonly count?: number
  /**
   * 'close' (default): the connection closes where the answer would have been written, as when
   * the network drops it. 'delay': the answer is held `delayMs` and then written, as when it
   * arrives after the client's request timeout.
   */
  readonly how?: 'close' | 'delay'
  /** With how 'delay': how long the answer is held. */
  readonly delayMs?: number
}

export interface RefuseProducePartitionOptions {
  readonly topic: string
  readonly partition: number
  /** The error the partition is answered with. */
  readonly errorCode: number
  /** How many times to refuse it. Default 1. */
  readonly count?: number
}

export interface RefuseProducerIdsOptions {
  /** The error InitProducerId answers. Default 31, CLUSTER_AUTHORIZATION_FAILED. */
  readonly errorCode?: number
  /** How many requests to refuse. Default: every one until cleared. */
  readonly count?: number
}

export interface RefuseGroupOptions {
  readonly groupId: string
  /** The error JoinGroup, SyncGroup and Heartbeat of the group answer. Default 30, GROUP_AUTHORIZATION_FAILED. */
  readonly errorCode?: number
  /** How many requests to refuse. Default: every one until cleared. */
  readonly count?: number
}

/** An armed fault. */
export interface InjectedFault {
  /** How many times it fired. */
  readonly fired: number
  /** How many more times it will fire (Infinity: until cleared). */
  readonly remaining: number
  /** Disarms it. */
  clear(): void
}

/** What the Produce handler does with its answer. */
export type ResponseLoss = { readonly how: 'close' } | { readonly how: 'delay'; readonly delayMs: number }

class Armed implements InjectedFault {
  fired = 0

  constructor(
    public remaining: number,
    private readonly disarm: (fault: Armed) => void,
  ) {}

  /** Counts one firing; false once it has none left. */
  fire(): boolean {
    if (this.remaining <= 0) return false
    this.remaining--
    this.fired++
    if (this.remaining === 0) this.disarm(this)
    return true
  }

  clear(): void {
    this.remaining = 0
    this.disarm(this)
  }
}

interface ProduceLoss {
  readonly armed: Armed
  readonly topic: string
  readonly partition: number | undefined
  readonly loss: ResponseLoss
}

interface PartitionRefusal {
  readonly armed: Armed
  readonly topic: string
  readonly partition: number
  readonly errorCode: number
}

interface ProducerIdRefusal {
  readonly armed: Armed
  readonly errorCode: number
}

interface GroupRefusal {
  readonly armed: Armed
  readonly groupId: string
  readonly errorCode: number
}

export class Faults {
  private readonly produceLosses = new Set<ProduceLoss>()
  private readonly partitionRefusals = new Set<PartitionRefusal>()
  private readonly producerIdRefusals = new Set<ProducerIdRefusal>()
  private readonly groupRefusals = new Set<GroupRefusal>()

  loseProduceResponses(options: LoseProduceResponsesOptions): InjectedFault {
    const { topic, partition, how = 'close', delayMs } = options
    if (typeof topic !== 'string' || topic === '')
      throw new TypeError('loseProduceResponses: topic must be a topic name')
    if (partition !== undefined && !(Number.isInteger(partition) && partition >= 0))
      throw new RangeError(`loseProduceResponses: partition must be an integer >= 0, got ${partition}`)
    if (how !== 'close' && how !== 'delay')
      throw new RangeError(`loseProduceResponses: how must be 'close' or 'delay', got ${String(how)}`)
    if (how === 'delay' && !(Number.isInteger(delayMs) && delayMs! > 0))
      throw new RangeError(`loseProduceResponses: how 'delay' needs delayMs, an integer > 0, got ${delayMs}`)
    const count = checkedCount('loseProduceResponses', options.count ?? 1)
    const entry: ProduceLoss = {
      armed: new Armed(count, () => this.produceLosses.delete(entry)),
      topic,
      partition,
      loss: how === 'close' ? { how } : { how, delayMs: delayMs! },
    }
    this.produceLosses.add(entry)
    return entry.armed
  }

  refuseProducePartition(options: RefuseProducePartitionOptions): InjectedFault {
    const { topic, partition } = options
    if (typeof topic !== 'string' || topic === '')
      throw new TypeError('refuseProducePartition: topic must be a topic name')
    if (!(Number.isInteger(partition) && partition >= 0))
      throw new RangeError(`refuseProducePartition: partition must be an integer >= 0, got ${partition}`)
    const entry: PartitionRefusal = {
      armed: new Armed(checkedCount('refuseProducePartition', options.count ?? 1), () =>
        this.partitionRefusals.delete(entry),
      ),
      topic,
      partition,
      errorCode: checkedErrorCode('refuseProducePartition', options.errorCode),
    }
    this.partitionRefusals.add(entry)
    return entry.armed
  }

  /** For one partition of a Produce request: the error to answer it with instead of appending, or null. */
  producePartitionRefusal(topic: string, partition: number): number | null {
    for (const entry of this.partitionRefusals)
      if (entry.topic === topic && entry.partition === partition && entry.armed.fire()) return entry.errorCode
    return null
  }

  refuseProducerIds(options: RefuseProducerIdsOptions = {}): InjectedFault {
    const errorCode = checkedErrorCode('refuseProducerIds', options.errorCode ?? ErrorCode.CLUSTER_AUTHORIZATION_FAILED)
    const entry: ProducerIdRefusal = {
      armed: new Armed(checkedCount('refuseProducerIds', options.count ?? Infinity), () =>
        this.producerIdRefusals.delete(entry),
      ),
      errorCode,
    }
    this.producerIdRefusals.add(entry)
    return entry.armed
  }

  refuseGroup(options: RefuseGroupOptions): InjectedFault {
    const { groupId } = options
    if (typeof groupId !== 'string' || groupId === '') throw new TypeError('refuseGroup: groupId must be a group id')
    const errorCode = checkedErrorCode('refuseGroup', options.errorCode ?? ErrorCode.GROUP_AUTHORIZATION_FAILED)
    const entry: GroupRefusal = {
      armed: new Armed(checkedCount('refuseGroup', options.count ?? Infinity), () => this.groupRefusals.delete(entry)),
      groupId,
      errorCode,
    }
    this.groupRefusals.add(entry)
    return entry.armed
  }

  /** For a JoinGroup, SyncGroup or Heartbeat of `groupId`: the error to answer, or null. */
  groupRefusal(groupId: string): number | null {
    for (const entry of this.groupRefusals) if (entry.groupId === groupId && entry.armed.fire()) return entry.errorCode
    return null
  }

  /**
   * For a Produce request carrying these partitions: what becomes of its answer. The first armed
   * fault that matches fires (once per request, however many of its partitions match).
   */
  produceResponseLoss(
    partitions: Iterable<{ readonly topic: string; readonly partition: number }>,
  ): ResponseLoss | null {
    if (this.produceLosses.size === 0) return null
    const list = [...partitions]
    for (const entry of this.produceLosses) {
      const matches = list.some(
        (p) => p.topic === entry.topic && (entry.partition === undefined || entry.partition === p.partition),
      )
      if (matches && entry.armed.fire()) return entry.loss
    }
    return null
  }

  /** For an idempotent producer's InitProducerId: the error to answer, or null. */
  producerIdRefusal(): number | null {
    for (const entry of this.producerIdRefusals) if (entry.armed.fire()) return entry.errorCode
    return null
  }

  clear(): void {
    for (const entry of [...this.produceLosses]) entry.armed.clear()
    for (const entry of [...this.partitionRefusals]) entry.armed.clear()
    for (const entry of [...this.producerIdRefusals]) entry.armed.clear()
    for (const entry of [...this.groupRefusals]) entry.armed.clear()
  }
}

function checkedErrorCode(method: string, errorCode: number): number {
  if (Number.isInteger(errorCode) && errorCode > 0 && errorCode <= 0x7fff) return errorCode
  throw new RangeError(`${method}: errorCode must be a Kafka error code (1-32767), got ${errorCode}`)
}

function checkedCount(method: string, count: number): number {
  if (count === Infinity || (Number.isInteger(count) && count > 0)) return count
  throw new RangeError(`${method}: count must be an integer > 0 (or Infinity), got ${count}`)
}
