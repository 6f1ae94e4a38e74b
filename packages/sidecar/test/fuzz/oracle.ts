/**
 * The fuzzer's model of a correct sidecar, written from the contract (sidecar.proto) and the
 * documented limits, not from the sidecar's code paths: which refusals a request deserves, with
 * which status and a message naming what is wrong; which refusals are merely possible because
 * of concurrency (a full queue, round-robin partitions); and how the stream's order barrier
 * follows from the answers before it.
 */
import { status } from '@grpc/grpc-js'
import type { EmitRequest, SidecarRecord } from '@kafka-sidecar/proto'
import { Partitioners } from 'kafkajs'

/**
 * Limits small enough that every boundary is a few kilobytes away, with each queue bound below
 * what one request can carry (so "too large ever" is reachable) and above what most runs send.
 */
export const FUZZ_LIMITS = {
  maxRecordBytes: 1_000,
  maxRequestBytes: 4_096,
  maxRecordsPerRequest: 16,
  maxHeadersPerRecord: 4,
  maxQueuedBytes: 6_000,
  maxQueuedRecords: 14,
  maxQueuedBytesPerPartition: 3_000,
  maxQueuedRecordsPerPartition: 12,
  // Small batches split requests across sendBatch calls, so results are merged back.
  maxBatchRecords: 4,
  maxBatchBytes: 1_500,
} as const

/** Kafka's produce timeout is an int32. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1
const DEFAULT_TIMEOUT_MS = 30_000
/** Queue size of a record: payload plus fixed overheads (24 per record, 8 per header), as documented for max_record_bytes. */
export function recordSize(record: Pick<SidecarRecord, 'key' | 'value' | 'headers'>): number {
  let size = 24 + (record.key?.length ?? 0) + (record.value?.length ?? 0)
  for (const h of record.headers) size += Buffer.byteLength(h.key) + (h.value?.length ?? 0) + 8
  return size
}

export type Stage = 'decode' | 'convert' | 'validate' | 'metadata' | 'admit'

export interface Problem {
  readonly stage: Stage
  readonly code: status
  readonly message: RegExp
  readonly kafkaErrorName?: string
}

export interface World {
  /** Partition count of every topic that exists. */
  readonly partitions: ReadonlyMap<string, number>
  readonly allowedPrefix: string
}

export interface Expectation {
  /** Problems the request has for sure: it must be refused, naming one of these (or of `possible`). */
  readonly certain: readonly Problem[]
  /** Refusals concurrency may or may not cause (round-robin placement); never required. */
  readonly possible: readonly Problem[]
  /** What each record is, flattened in request order, when the request decodes. */
  readonly records: readonly FlatRecord[]
  readonly decoded: EmitRequest | null
}

export interface FlatRecord {
  readonly index: number
  readonly topic: string
  /** Which TopicRecords of the request (one send's records for one topic). */
  readonly segment: number
  readonly record: SidecarRecord
  /** The partition the record must land in when it is determined by the request alone. */
  readonly partition: number | null
  readonly size: number
  /**
   * What an accepted request does with the record: write it, refuse it (with `refusal`), or
   * either, where only its round-robin partition decides whether it shares one with a refused record.
   */
  readonly fate: 'written' | 'refused' | 'either'
  readonly refusal?: Problem
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const exactly = (text: string) => new RegExp(`^${escape(text)}`)

const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/
const isLegalTopic = (topic: string) => LEGAL_TOPIC.test(topic) && topic !== '.' && topic !== '..'

const ACKS = new Map([
  [0, -1],
  [1, -1],
  [2, 1],
  [3, 0],
])
/** What acks a request asks of the brokers (ACKS_UNSPECIFIED is KafkaJS's default, all). */
export const kafkaAcks = (acks: number) => ACKS.get(acks)
const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd']

const partitioner = Partitioners.DefaultPartitioner()
/** KafkaJS's default partition for a keyed record (murmur2 over the key bytes). */
export function keyedPartition(topic: string, key: Uint8Array, partitions: number): number {
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
    partitionId,
    leader: 1,
    replicas: [1],
    isr: [1],
    partitionErrorCode: 0,
  }))
  return partitioner({ topic, partitionMetadata, message: { key: Buffer.from(key), value: null } })
}

export function decodeProblem(reason: string): Problem {
  return {
    stage: 'decode',
    code: status.INVALID_ARGUMENT,
    message: new RegExp(`^malformed EmitRequest.*${escape(reason)}`),
  }
}

export function oversizeProblem(length: number): Problem {
  return {
    stage: 'decode',
    code: status.INVALID_ARGUMENT,
    message: exactly(`EmitRequest of ${length} bytes is larger than max_request_bytes ${FUZZ_LIMITS.maxRequestBytes}`),
    kafkaErrorName: 'MESSAGE_TOO_LARGE',
  }
}

/** What a correct sidecar does with a request that decodes: the refusals it deserves or may give. */
export function expectationOf(request: EmitRequest, world: World): Expectation {
  const certain: Problem[] = []
  const possible: Problem[] = []
  const problem = (stage: Stage, code: status, message: RegExp, kafkaErrorName?: string) =>
    certain.push({ stage, code, message, kafkaErrorName })
  const invalid = (stage: Stage, message: RegExp, kafkaErrorName?: string) =>
    problem(stage, status.INVALID_ARGUMENT, message, kafkaErrorName)

  if (kafkaAcks(request.acks) === undefined)
    invalid('convert', exactly(`unknown acks value ${request.acks} `), 'INVALID_REQUIRED_ACKS')
  if (CODECS[request.compression] === undefined)
    invalid('convert', exactly(`unknown compression value ${request.compression}`), 'UNSUPPORTED_COMPRESSION_TYPE')
  // No instance id is served (issue 12: a contract any language can use); it only forgoes reports.
  for (const group of request.topics)
    if (group.records.length === 0) invalid('convert', exactly(`topic "${group.topic}" has no records`))

  const placed: Array<Omit<FlatRecord, 'fate'>> = []
  request.topics.forEach((group, segment) => {
    for (const record of group.records) {
      const count = world.partitions.get(group.topic)
      let partition: number | null = null
      if (record.partition !== undefined) partition = record.partition
      else if (count === 1) partition = 0
      else if (count !== undefined && record.key !== undefined)
        partition = keyedPartition(group.topic, record.key, count)
      placed.push({ index: placed.length, topic: group.topic, segment, record, partition, size: recordSize(record) })
    }
  })
  const records = withFates(placed, world)

  if (records.length === 0) invalid('validate', /^request carries no records$/)
  if (records.length > FUZZ_LIMITS.maxRecordsPerRequest)
    invalid(
      'validate',
      exactly(`request carries ${records.length} records, the limit is ${FUZZ_LIMITS.maxRecordsPerRequest}`),
      'RECORD_LIST_TOO_LARGE',
    )
  // Unset means 30 s; 0 is a timeout the brokers are given as is.
  const timeoutMs = request.timeoutMs ?? DEFAULT_TIMEOUT_MS
  if (timeoutMs > MAX_TIMEOUT_MS)
    invalid('validate', exactly(`timeout_ms ${timeoutMs} is outside 0..${MAX_TIMEOUT_MS}`))
  const codec = CODECS[request.compression]
  // This process registers no snappy, lz4 or zstd codec with KafkaJS.
  if (request.compression >= 2 && codec !== undefined)
    invalid('validate', exactly(`compression ${codec} has no codec registered`), 'UNSUPPORTED_COMPRESSION_TYPE')
  // As KafkaJS: idempotence needs every replica's ack (a request reaches here with idempotent set
  // only through raw bytes; found by the fuzz test itself, seed -1185043834).
  const acks = kafkaAcks(request.acks)
  if (request.idempotent && acks !== undefined && acks !== -1)
    invalid(
      'validate',
      exactly(`an idempotent request must use acks -1 (ACKS_ALL), got ${acks}`),
      'INVALID_REQUIRED_ACKS',
    )

  for (const topic of new Set(records.map((r) => r.topic))) {
    if (!isLegalTopic(topic)) invalid('validate', /^invalid topic: /, 'INVALID_TOPIC_EXCEPTION')
    else if (!topic.startsWith(world.allowedPrefix))
      problem(
        'validate',
        status.PERMISSION_DENIED,
        exactly(`topic "${topic}" is not in this sidecar's allow-list`),
        'TOPIC_AUTHORIZATION_FAILED',
      )
    // The brokers do not auto-create topics, so nothing may create this one: the request names a
    // topic that does not exist, whatever allow_auto_topic_creation says.
    else if (!world.partitions.has(topic))
      problem('metadata', status.NOT_FOUND, exactly(`topic "${topic}" does not exist`), 'UNKNOWN_TOPIC_OR_PARTITION')
  }
  for (const { index, record } of records) {
    if (record.partition !== undefined && record.partition < 0)
      invalid(
        'validate',
        exactly(`record ${index}: partition ${record.partition} is negative`),
        'UNKNOWN_TOPIC_OR_PARTITION',
      )
    if (record.headers.length > FUZZ_LIMITS.maxHeadersPerRecord)
      invalid(
        'validate',
        exactly(
          `record ${index} has ${record.headers.length} headers, the limit is ${FUZZ_LIMITS.maxHeadersPerRecord}`,
        ),
        'INVALID_RECORD',
      )
    // An empty header name is a name (Kafka and KafkaJS write it); only a null value is refused.
    for (const header of record.headers) {
      if (header.value === undefined)
        invalid('validate', exactly(`record ${index}: header "${header.key}" has no value`), 'INVALID_RECORD')
    }
    if (record.timestampMs !== undefined && record.timestampMs < 0)
      invalid(
        'validate',
        exactly(`record ${index}: timestamp ${record.timestampMs} is not a valid`),
        'INVALID_TIMESTAMP',
      )
  }

  // A request over a queue bound on its own is refused as too large ever, counting only what is
  // queued (refused records never are). Where round-robin placement decides whether a record is
  // refused, or whether one partition's share crosses its bound, the refusal is possible.
  const tooLarge: Problem = {
    stage: 'admit',
    code: status.INVALID_ARGUMENT,
    message: /^request is larger than this sidecar ever queues: /,
    kafkaErrorName: 'RECORD_LIST_TOO_LARGE',
  }
  const surely = queueBoundCrossed(records.filter((r) => r.fate === 'written'))
  const perhaps = queueBoundCrossed(records.filter((r) => r.fate !== 'refused'))
  if (surely === 'certain') certain.push(tooLarge)
  else if (surely === 'possible' || perhaps !== 'no') possible.push(tooLarge)
  return { certain, possible, records, decoded: request }
}

/** MESSAGE_TOO_LARGE for a record over max_record_bytes, and for its send's records in its partition. */
export const RECORD_TOO_LARGE: Problem = {
  stage: 'admit',
  code: status.INVALID_ARGUMENT,
  message: new RegExp(`^record \\d+ is \\d+ bytes, larger than max_record_bytes ${FUZZ_LIMITS.maxRecordBytes}$`),
  kafkaErrorName: 'MESSAGE_TOO_LARGE',
}

/** NOT_FOUND in a result: records for a partition the topic does not have are left out, unwritten. */
function partitionAbsent(topic: string, partition: number, count: number): Problem {
  return {
    stage: 'admit',
    code: status.NOT_FOUND,
    message: exactly(`topic "${topic}" has no partition ${partition} (it has ${count}): not written`),
    kafkaErrorName: 'UNKNOWN_TOPIC_OR_PARTITION',
  }
}

/**
 * Each record's fate in an accepted request: a send's records for one partition are written or
 * refused whole. Records for a partition the topic does not have are left out; a record over
 * max_record_bytes refuses those of its send (segment) and partition. Where a partition is
 * round-robin, sharing one with such a record is only possible.
 */
function withFates(placed: ReadonlyArray<Omit<FlatRecord, 'fate'>>, world: World): FlatRecord[] {
  const absent = (r: Omit<FlatRecord, 'fate'>) => {
    const count = world.partitions.get(r.topic)
    return r.partition !== null && count !== undefined && r.partition >= count ? count : null
  }
  const oversized = placed.filter((r) => r.size > FUZZ_LIMITS.maxRecordBytes && absent(r) === null)
  return placed.map((r): FlatRecord => {
    const count = absent(r)
    if (count !== null) return { ...r, fate: 'refused', refusal: partitionAbsent(r.topic, r.partition!, count) }
    const sameSend = oversized.filter((o) => o.segment === r.segment && o.topic === r.topic)
    if (
      r.size > FUZZ_LIMITS.maxRecordBytes ||
      sameSend.some((o) => o.partition !== null && o.partition === r.partition)
    )
      return { ...r, fate: 'refused', refusal: RECORD_TOO_LARGE }
    if (sameSend.some((o) => o.partition === null || r.partition === null))
      return { ...r, fate: 'either', refusal: RECORD_TOO_LARGE }
    return { ...r, fate: 'written' }
  })
}

/** Whether queueing `records` together crosses a total or per-partition bound: surely, depending on round-robin placement, or not. */
function queueBoundCrossed(records: readonly FlatRecord[]): 'certain' | 'possible' | 'no' {
  const totalBytes = records.reduce((s, r) => s + r.size, 0)
  if (totalBytes > FUZZ_LIMITS.maxQueuedBytes || records.length > FUZZ_LIMITS.maxQueuedRecords) return 'certain'
  const fixed = new Map<string, { bytes: number; records: number }>()
  const floating = new Map<string, { bytes: number; records: number }>()
  for (const r of records) {
    const into = r.partition === null ? floating : fixed
    const key = r.partition === null ? r.topic : `${r.topic}\u0000${r.partition}`
    const entry = into.get(key) ?? { bytes: 0, records: 0 }
    entry.bytes += r.size
    entry.records++
    into.set(key, entry)
  }
  const over = (d: { bytes: number; records: number }) =>
    d.bytes > FUZZ_LIMITS.maxQueuedBytesPerPartition || d.records > FUZZ_LIMITS.maxQueuedRecordsPerPartition
  if ([...fixed.values()].some(over)) return 'certain'
  for (const [key, demand] of fixed) {
    const extra = floating.get(key.split('\u0000')[0]!) ?? { bytes: 0, records: 0 }
    if (over({ bytes: demand.bytes + extra.bytes, records: demand.records + extra.records })) return 'possible'
  }
  return [...floating.values()].some(over) ? 'possible' : 'no'
}

/** RESOURCE_EXHAUSTED: possible whenever the requests of a run that could be queued together exceed a bound. */
export const FULL: Problem = { stage: 'admit', code: status.RESOURCE_EXHAUSTED, message: /^sidecar queue is full \(/ }

export function fullPossible(expectations: readonly Expectation[]): boolean {
  const candidates = expectations.filter((e) => e.decoded !== null && e.certain.length === 0)
  const all = candidates.flatMap((e) => e.records.filter((r) => r.fate !== 'refused'))
  if (all.length > FUZZ_LIMITS.maxQueuedRecords || all.reduce((s, r) => s + r.size, 0) > FUZZ_LIMITS.maxQueuedBytes)
    return true
  const byTopic = new Map<string, { bytes: number; records: number }>()
  for (const r of all) {
    const entry = byTopic.get(r.topic) ?? { bytes: 0, records: 0 }
    entry.bytes += r.size
    entry.records++
    byTopic.set(r.topic, entry)
  }
  return [...byTopic.values()].some(
    (d) => d.bytes > FUZZ_LIMITS.maxQueuedBytesPerPartition || d.records > FUZZ_LIMITS.maxQueuedRecordsPerPartition,
  )
}

export const ABORTED: Problem = {
  stage: 'convert',
  code: status.ABORTED,
  message: /^not queued: an earlier request on this stream \(order_epoch \d+\) was refused/,
}

/**
 * EmitStream's order barrier (sidecar.proto, EmitRequest.order_epoch), replayed from the answers
 * the stream actually gave: once a request of epoch E was refused, every later request of epoch
 * 1..E is ABORTED. A request refused before it is read as a request (undecodable, or a field no
 * request may carry) answers its own problem and raises the barrier to its epoch; one whose
 * epoch cannot be read raises it past every epoch seen so far.
 */
export class BarrierModel {
  private refused = 0
  private highest = 0

  /** Whether the next request, of `epoch`, must be ABORTED. Call only for requests that decode and convert. */
  mustAbort(epoch: number): boolean {
    this.highest = Math.max(this.highest, epoch)
    return epoch !== 0 && epoch <= this.refused
  }

  refusedAt(epoch: number | undefined): void {
    this.refused = Math.max(this.refused, epoch ?? this.highest + 1)
  }
}
