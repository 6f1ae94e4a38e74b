/**
 * A test-side consumer instance speaking the Consume stream with the generated client: it joins,
 * collects events, and (unless told to hold) finishes each batch at once: every record processed,
 * `done`, then `commit` of what it processed; it answers `revoke` with `released`. Closed when the
 * test ends.
 */
import { randomUUID } from 'node:crypto'
import { credentials, Metadata, type ClientDuplexStream, type StatusObject } from '@grpc/grpc-js'
import {
  ConsumerSidecarClient,
  type Batch,
  type CommitResult,
  type ConsumeEvent,
  type ConsumeRequest,
  type JoinGroup,
  type OwnedPartition,
} from '@kafka-sidecar/proto'
import { grpcTarget, waitFor } from '@kafka-sidecar/test-support'
import type { Admin } from 'kafkajs'
import { onTestFinished } from 'vitest'
import type { BufferedRecord } from '../src/consumer/partition-feed.js'
import type { RunningSidecar } from '../src/index.js'

export interface ConsumedByTest {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly value: string
}

export interface TestConsumerOptions {
  /** Keep batches unfinished (a slow process): finish them with finish(). */
  readonly hold?: boolean
  /** Send `alive` this often (default 200 ms); 0 sends nothing on its own. */
  readonly aliveMs?: number
  /** Commit after each finished batch (default true). */
  readonly commit?: boolean
  readonly metadata?: Metadata
}

export function consumerClient(sidecar: RunningSidecar | string): ConsumerSidecarClient {
  const address = typeof sidecar === 'string' ? sidecar : sidecar.address
  const client = new ConsumerSidecarClient(grpcTarget(address), credentials.createInsecure())
  onTestFinished(() => client.close())
  return client
}

export function joinRequest(groupId: string, topics: string[], overrides: Partial<JoinGroup> = {}): ConsumeRequest {
  return {
    request: {
      $case: 'join',
      value: {
        groupId,
        instanceId: `instance-${randomUUID()}`,
        clientId: 'test-app',
        appName: 'test-app',
        subscriptions: topics.map((topic) => ({
          topicOrPattern: { $case: 'topic', value: topic },
          fromBeginning: true,
        })),
        settings: { maxWaitTimeMs: 100, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500 },
        maxBatchesPerPartition: 0,
        processTimeoutMs: 0,
        maxRecordsInFlight: 0,
        maxBytesInFlight: 0,
        ...overrides,
      },
    },
  }
}

export class TestConsumer {
  readonly events: ConsumeEvent[] = []
  readonly consumed: ConsumedByTest[] = []
  readonly held: Batch[] = []
  readonly owned = new Map<string, OwnedPartition>()
  redelivered = 0
  status: StatusObject | null = null
  private readonly stream: ClientDuplexStream<ConsumeRequest, ConsumeEvent>
  private readonly commits = new Map<number, (result: CommitResult) => void>()
  /** Revoked partitions whose held batch is not finished yet: released once it is, as a client does. */
  private readonly revokedWhileHeld: OwnedPartition[] = []
  private nextRequestId = 1
  private alive: NodeJS.Timeout | null = null

  constructor(
    client: ConsumerSidecarClient,
    private readonly options: TestConsumerOptions = {},
  ) {
    this.stream = client.consume(options.metadata ?? new Metadata())
    this.stream.on('data', (event: ConsumeEvent) => this.onEvent(event))
    this.stream.on('status', (status: StatusObject) => (this.status = status))
    this.stream.on('error', () => {})
    const aliveMs = options.aliveMs ?? 200
    if (aliveMs > 0) {
      this.alive = setInterval(() => this.send({ request: { $case: 'alive', value: {} } }), aliveMs)
      this.alive.unref()
    }
    onTestFinished(() => this.cancel())
  }

  static join(client: ConsumerSidecarClient, join: ConsumeRequest, options: TestConsumerOptions = {}): TestConsumer {
    const consumer = new TestConsumer(client, options)
    consumer.send(join)
    return consumer
  }

  send(request: ConsumeRequest): void {
    if (this.status === null) this.stream.write(request)
  }

  /** The last `assigned` event's partitions, as "topic|partition". */
  partitions(): string[] {
    return [...this.owned.keys()].sort()
  }

  events$<C extends NonNullable<ConsumeEvent['event']>['$case']>(kase: C) {
    return this.events.flatMap((e) =>
      e.event?.$case === kase
        ? [e.event.value as Extract<NonNullable<ConsumeEvent['event']>, { $case: C }>['value']]
        : [],
    )
  }

  /** Finishes the held batches: their first `count` records processed (all by default), then done. */
  finish(count = Infinity): void {
    for (const batch of this.held.splice(0)) this.complete(batch, Math.min(count, batch.records.length))
  }

  commit(
    offsets: Array<{ topic: string; partition: number; assignmentId: number; nextOffset: number }>,
  ): Promise<CommitResult> {
    const requestId = this.nextRequestId++
    const result = new Promise<CommitResult>((resolve) => this.commits.set(requestId, resolve))
    this.send({ request: { $case: 'commit', value: { requestId, offsets } } })
    return result
  }

  async ended(timeoutMs = 10_000): Promise<StatusObject> {
    await waitFor('the Consume stream to end', () => this.status !== null, timeoutMs)
    return this.status!
  }

  cancel(): void {
    if (this.alive) clearInterval(this.alive)
    this.stream.cancel()
  }

  /** Stops sending anything (alive included), as a hung process. */
  fallSilent(): void {
    if (this.alive) clearInterval(this.alive)
    this.alive = null
  }

  private onEvent(event: ConsumeEvent): void {
    this.events.push(event)
    const e = event.event
    if (!e) return
    if (e.$case === 'assigned') {
      this.owned.clear()
      for (const p of e.value.partitions) this.owned.set(`${p.topic}|${p.partition}`, p)
    } else if (e.$case === 'batch') {
      this.redelivered += e.value.redelivered
      if (this.options.hold) this.held.push(e.value)
      else this.complete(e.value, e.value.records.length)
    } else if (e.$case === 'revoke') {
      const busy = (p: OwnedPartition) => this.held.some((b) => b.topic === p.topic && b.partition === p.partition)
      this.revokedWhileHeld.push(...e.value.partitions.filter(busy))
      const free = e.value.partitions.filter((p) => !busy(p))
      if (free.length > 0) this.send({ request: { $case: 'released', value: { partitions: free } } })
    } else if (e.$case === 'commitResult') {
      this.commits.get(e.value.requestId)?.(e.value)
    }
  }

  private complete(batch: Batch, count: number): void {
    const { topic, partition, assignmentId } = batch
    for (const r of batch.records.slice(0, count))
      this.consumed.push({ topic, partition, offset: r.offset, value: Buffer.from(r.value ?? []).toString() })
    const nextOffset = count === batch.records.length ? batch.lastOffset + 1 : batch.records[count]!.offset
    const processed = { topic, partition, assignmentId, nextOffset }
    this.send({ request: { $case: 'done', value: { batchId: batch.batchId, processed } } })
    if (this.options.commit ?? true) void this.commit([processed])
    const revoked = this.revokedWhileHeld.findIndex((p) => p.topic === topic && p.partition === partition)
    if (revoked >= 0)
      this.send({ request: { $case: 'released', value: { partitions: this.revokedWhileHeld.splice(revoked, 1) } } })
  }
}

/** The group's committed offsets of `topic`, by partition (KafkaJS admin.fetchOffsets). */
export async function committedOffsets(admin: Admin, groupId: string, topic: string): Promise<Map<number, number>> {
  const [result] = await admin.fetchOffsets({ groupId, topics: [topic] })
  return new Map(result!.partitions.map((p) => [p.partition, Number(p.offset)]))
}

/** The values of `consumed`, per partition, in the order they were read. */
export function byPartition(consumed: readonly ConsumedByTest[]): Map<number, string[]> {
  const map = new Map<number, string[]>()
  for (const c of consumed) map.set(c.partition, [...(map.get(c.partition) ?? []), c.value])
  return map
}

/** A buffered record of 10 bytes at `offset`, as the partition feed keeps it (its unit tests). */
export function bufferedRecord(offset: number): BufferedRecord {
  return { offset, bytes: 10, headers: [], timestampMs: 0, attributes: 0, sizeBytes: 0, magicByte: 2 }
}
