/**
 * Helpers for the fault tests: a continuous keyed sender whose values carry a per-key counter,
 * and the checks run on what the cluster stored (per-key order, duplicates, delivery reports).
 */
import type { AsyncLocalStorage } from 'node:async_hooks'
import type { EmbeddedRecord } from '@kafka-sidecar/embedded-kafka'
import type { DeliveryReport, SidecarProducer } from '../src/index.js'

export interface Acked {
  readonly key: string
  readonly n: number
  readonly value: string
  /** Date.now() when send() was called and when it resolved. */
  readonly startedAt: number
  readonly settledAt: number
}

export interface KeyedSenderOptions {
  /** Sends of one key in flight at once. Default 3. */
  readonly window?: number
  /** Wait after a send settles before the key's next one starts. Default 5 ms. */
  readonly pauseMs?: number
  /** The sends' KafkaJS `timeout`; unset leaves KafkaJS's default. */
  readonly timeout?: number
  /**
   * Each send runs inside `context.run(value)`, so a listener the producer calls during that
   * send (its fallback event) can tell which record it is about.
   */
  readonly context?: AsyncLocalStorage<string>
}

/**
 * Sends `key:n` values (also in header `id`, so a delivery report names its record) for every key, with `window` sends of one key in flight at once (so sends
 * of one key overlap, and a path switch happens with several of them in flight), until stopped.
 */
export class KeyedSender {
  readonly acked: Acked[] = []
  readonly failures: Array<{ value: string; error: Error; startedAt: number; settledAt: number }> = []
  /** Sends started (each settles into `acked` or `failures`). */
  attempted = 0
  /** Longest time a send took to settle (resolve or reject), in ms. */
  maxSettleMs = 0
  private readonly counters = new Map<string, number>()
  private readonly inFlight = new Set<Promise<void>>()
  private stopped = false

  constructor(
    private readonly producer: SidecarProducer,
    private readonly topic: string,
    readonly keys: readonly string[],
    private readonly options: KeyedSenderOptions = {},
  ) {}

  /** Per key, how many sends were started: its values `key:0` .. `key:(n-1)` were attempted. */
  attemptedByKey(): Record<string, number> {
    return Object.fromEntries(this.counters)
  }

  start(): void {
    for (const key of this.keys) for (let i = 0; i < (this.options.window ?? 3); i++) this.next(key)
  }

  /** Stops starting sends and waits for those in flight to settle. */
  async stop(): Promise<void> {
    this.stopped = true
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight])
  }

  private next(key: string): void {
    if (this.stopped) return
    const n = this.counters.get(key) ?? 0
    this.counters.set(key, n + 1)
    const value = `${key}:${n}`
    this.attempted++
    const started = Date.now()
    const send = () =>
      this.producer.send({
        topic: this.topic,
        messages: [{ key, value, headers: { id: value } }],
        ...(this.options.timeout ? { timeout: this.options.timeout } : {}),
      })
    const sent: Promise<void> = (this.options.context ? this.options.context.run(value, send) : send())
      .then(
        () => void this.acked.push({ key, n, value, startedAt: started, settledAt: Date.now() }),
        (error: Error) => void this.failures.push({ value, error, startedAt: started, settledAt: Date.now() }),
      )
      .finally(() => {
        this.maxSettleMs = Math.max(this.maxSettleMs, Date.now() - started)
        this.inFlight.delete(sent)
        setTimeout(() => this.next(key), this.options.pauseMs ?? 5)
      })
    this.inFlight.add(sent)
  }
}

export interface OrderCheck {
  /** Records whose value appeared earlier in its partition (at-least-once resends). */
  readonly duplicates: number
  /** Descriptions of first occurrences that went backwards within a key. */
  readonly violations: string[]
  /** Partitions each key was written to (must be exactly one). */
  readonly partitionsByKey: Map<string, Set<number>>
  /** Every value stored. */
  readonly values: Set<string>
}

/**
 * Per partition, in offset order: the first occurrence of each `key:n` value must come after the
 * first occurrence of every smaller n of the same key. Later occurrences are duplicates: counted.
 */
export function checkPerKeyOrder(records: readonly EmbeddedRecord[]): OrderCheck {
  const byPartition = new Map<number, EmbeddedRecord[]>()
  for (const r of records) {
    if (!byPartition.has(r.partition)) byPartition.set(r.partition, [])
    byPartition.get(r.partition)!.push(r)
  }
  let duplicates = 0
  const violations: string[] = []
  const partitionsByKey = new Map<string, Set<number>>()
  const values = new Set<string>()
  for (const [partition, list] of byPartition) {
    list.sort((a, b) => a.offset - b.offset)
    const seen = new Set<string>()
    const lastFirst = new Map<string, number>()
    for (const r of list) {
      const value = r.value!.toString()
      values.add(value)
      const [key, counter] = value.split(':') as [string, string]
      const n = Number(counter)
      if (!partitionsByKey.has(key)) partitionsByKey.set(key, new Set())
      partitionsByKey.get(key)!.add(partition)
      if (seen.has(value)) {
        duplicates++
        continue
      }
      seen.add(value)
      const previous = lastFirst.get(key) ?? -1
      if (n < previous)
        violations.push(`partition ${partition} offset ${r.offset}: ${value} first written after ${key}:${previous}`)
      else lastFirst.set(key, n)
    }
  }
  return { duplicates, violations, partitionsByKey, values }
}

/** A stored record's `id` header, or its value when it has none. */
export function storedId(record: EmbeddedRecord): string {
  const header = record.headers.find((h) => h.key === 'id')
  return (header ? header.value : record.value)?.toString() ?? '<null>'
}

/**
 * Checks the delivery reports against the cluster: one report per id (the `id` header), without
 * error, whose topic/partition/offset hold the record with that id. With `acksZero` the reports
 * have no offset (the brokers do not answer acks 0): the record with that id must be in the
 * reported topic-partition, or the partition is null (reported from the sidecar's ack on
 * receipt, when its report was lost: the client cannot know the partition). Returns a list of problems (empty when all is well).
 */
export function checkReports(
  reports: readonly DeliveryReport[],
  records: readonly EmbeddedRecord[],
  expectedIds: Iterable<string>,
  { acksZero = false }: { acksZero?: boolean } = {},
): string[] {
  const problems: string[] = []
  const stored = new Map<string, string>()
  // By position; with acks 0 (no offsets) by topic-partition and id.
  const place = (topic: string, partition: number | null, offset: string | null, id: string) =>
    acksZero ? `${topic}/${partition}/${id}` : `${topic}/${partition}/${offset}`
  for (const r of records) stored.set(place(r.topic, r.partition, String(r.offset), storedId(r)), storedId(r))
  const counts = new Map<string, number>()
  for (const report of reports) {
    const value = idOf(report)
    counts.set(value, (counts.get(value) ?? 0) + 1)
    if (report.error) {
      problems.push(`${value}: reported failed: ${report.error.message}`)
      continue
    }
    if (acksZero && report.offset !== null) problems.push(`${value}: reported offset ${report.offset} with acks 0`)
    if (acksZero && report.partition === null) continue
    const at = stored.get(place(report.topic, report.partition, report.offset, value))
    if (at !== value)
      problems.push(
        `${value}: reported at ${report.topic}/${report.partition}/${report.offset} (${report.path}), which holds ${at ?? 'nothing'}`,
      )
  }
  for (const value of expectedIds) {
    const n = counts.get(value) ?? 0
    if (n !== 1) problems.push(`${value}: ${n} reports`)
  }
  return problems
}

/** The `id` header a test put on its message. */
export function idOf(report: DeliveryReport): string {
  return String(report.headers?.id)
}
