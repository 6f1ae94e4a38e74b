/**
 * Turns one program's raw run (what its process saw, and what it left in Kafka) into an
 * Observation: named groups of plain JSON that can be compared across runs. Random parts become
 * placeholders (topic names `<topic:orders>`, ids, cluster ids, broker and socket addresses,
 * traceparent values quoted in messages);
 * record timestamps become "within the send that wrote it" or their value; a record's
 * `traceparent` header becomes the span it names.
 *
 * Groups (the "observation paths" of deliberate-differences.ts):
 *   steps.<label>      how each call ended: { sync, ok, value | error }
 *   notes.<label>      other values the program recorded
 *   events.<type>      events received through producer.on and consumer.on: count (for consumer
 *                      events that follow the fetch timing, "one or more"), shapes, request api names
 *   spans              the producer spans, sorted: name, kind, attributes, status, parent
 *   records.<topic>    what is in Kafka, per partition in offset order (traceparent headers aside)
 *   traceparent.<topic> per record: the span its traceparent header names, and the header's place
 *   topics             each declared topic's partition count afterwards, or absent
 *   handles            active handles the program left behind after it ended
 *   program            whether it finished in time
 * and for the whole process (program "(process)"): exit, stderr.
 */
import { createHash } from 'node:crypto'
import type { Environment, KafkaState, ProcessOutcome, StoredRecord, TopicState } from './harness.js'
import type { PlannedProgram, RawProgramResult, RawSpan } from './plan.js'

export type Observation = Map<string, unknown>

export const PROCESS = '(process)'

const SPAN_KINDS = ['INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER']
const STATUS_CODES = ['UNSET', 'OK', 'ERROR']

type Replacements = ReadonlyArray<readonly [string, string]>

export function replacementsFor(env: Environment, program: PlannedProgram | null): Replacements {
  const pairs: Array<[string, string]> = []
  for (const [name, cluster] of Object.entries(env.clusters)) {
    cluster.bootstrapServers.forEach((address, i) => pairs.push([address, `<broker:${name}:${i}>`]))
    pairs.push([env.clusterIds[name as keyof typeof env.clusterIds], `<cluster-id:${name}>`])
  }
  for (const [name, sidecar] of Object.entries(env.sidecars))
    pairs.push([sidecar.address.replace(/^unix:\/\//, ''), `<sidecar-socket:${name}>`])
  pairs.push([env.dir, '<temp-dir>'])
  if (program) {
    for (const [key, topic] of Object.entries(program.topics)) pairs.push([topic, `<topic:${key}>`])
    for (const [key, id] of Object.entries(program.ids)) pairs.push([id, `<id:${key}>`])
  }
  // Longest first, so a name that contains another is replaced whole.
  return pairs.sort((a, b) => b[0].length - a[0].length)
}

/** A W3C traceparent inside any text (KafkaJS quotes a message's headers in some errors): its ids are random. */
const TRACEPARENT = /\b00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}\b/g

export function replaceDeep(value: unknown, replacements: Replacements): unknown {
  if (typeof value === 'string') {
    let out = value
    for (const [from, to] of replacements) out = out.split(from).join(to)
    return out.replace(TRACEPARENT, '<traceparent>')
  }
  if (Array.isArray(value)) return value.map((item) => replaceDeep(item, replacements))
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [replaceDeep(k, replacements) as string, replaceDeep(v, replacements)]),
    )
  return value
}

/** Bytes as readable text when they are short UTF-8, else a hex or hashed form. */
export function bytes(buffer: Buffer | null): string | null {
  if (buffer === null) return null
  const text = buffer.toString('utf8')
  const isText =
    Buffer.from(text, 'utf8').equals(buffer) && !buffer.some((byte) => byte < 0x09 || (byte > 0x0d && byte < 0x20))
  if (isText && buffer.length <= 200) return text
  if (!isText && buffer.length <= 64) return `bytes 0x${buffer.toString('hex')}`
  return `${buffer.length} bytes, sha256 ${createHash('sha256').update(buffer).digest('hex').slice(0, 16)}`
}

/** The type structure of a described value, without its values: the weak form of most groups. */
export function shape(value: unknown): unknown {
  if (value === null) return 'null'
  if (Array.isArray(value)) return value.map(shape)
  if (typeof value === 'object') {
    const v = value as Record<string, unknown>
    if ('$undefined' in v) return 'undefined'
    if ('$buffer' in v) return 'Buffer'
    if ('$function' in v) return 'function'
    if ('$error' in v) return { error: v.$error, name: v.name, retriable: v.retriable }
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, shape(v[k])]),
    )
  }
  return typeof value
}

interface SpanIndex {
  readonly byId: Map<string, RawSpan>
  readonly named: Map<string, number>
}

function traceparentOf(
  value: string | null,
  app: RawProgramResult['appSpan'],
  spans: SpanIndex,
  replacements: Replacements,
): string {
  const match = value === null ? null : /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(value)
  if (!match) return `not a traceparent: ${JSON.stringify(value)}`
  const [, traceId, spanId, flags] = match
  if (traceId !== app.traceId) return `traceparent of another trace (flags ${flags})`
  const span = spans.byId.get(spanId!)
  if (!span) return `traceparent of the app trace, naming no exported span (flags ${flags})`
  spans.named.set(spanId!, (spans.named.get(spanId!) ?? 0) + 1)
  return `traceparent of span "${replaceDeep(span.name, replacements) as string}" (flags ${flags})`
}

function inSomeWindow(timestamp: number, raw: RawProgramResult): boolean {
  return raw.steps.some((step) => step.start <= timestamp && timestamp <= (step.end ?? Number.MAX_SAFE_INTEGER))
}

function normaliseRecord(record: StoredRecord, raw: RawProgramResult): Record<string, unknown> {
  const { batch } = record
  return {
    key: bytes(record.key),
    value: bytes(record.value),
    // The trace header has its own group (traceparent.<topic>), so a tracing difference does not hide others.
    headers: record.headers.filter((h) => h.key !== 'traceparent').map((h) => [h.key, bytes(h.value)]),
    timestamp: inSomeWindow(record.timestamp, raw) ? 'within a send of the program' : record.timestamp,
    timestampType: batch.timestampType,
    compression: batch.compression,
    producer: batch.transactional ? 'transactional' : batch.producerId >= 0 ? 'idempotent' : 'plain',
    ...(record.transaction ? { transaction: record.transaction } : {}),
  }
}

/** Each record's trace context: which span its traceparent header names, and where the header is. */
function traceHeader(
  record: StoredRecord,
  raw: RawProgramResult,
  spans: SpanIndex,
  replacements: Replacements,
): string {
  const at = record.headers.findIndex((h) => h.key === 'traceparent')
  if (at < 0) return 'no traceparent header'
  const count = record.headers.filter((h) => h.key === 'traceparent').length
  return `${traceparentOf(bytes(record.headers[at]!.value), raw.appSpan, spans, replacements)}, header ${at + 1} of ${record.headers.length}${count > 1 ? ` (${count} traceparent headers)` : ''}`
}

function byPartition(state: TopicState, each: (record: StoredRecord) => unknown): unknown {
  if (state.partitions === null) return 'absent'
  const partitions: Record<string, unknown[]> = {}
  for (let p = 0; p < state.partitions; p++) partitions[p] = []
  for (const record of state.records) partitions[record.partition]!.push(each(record))
  return partitions
}

function normaliseSpan(
  span: RawSpan,
  app: RawProgramResult['appSpan'],
  spans: SpanIndex,
  replacements: Replacements,
): unknown {
  const parent =
    span.parentSpanId === null
      ? 'none'
      : span.parentSpanId === app.spanId
        ? 'the app span'
        : spans.byId.has(span.parentSpanId)
          ? `span "${spans.byId.get(span.parentSpanId)!.name}"`
          : 'an unknown span'
  const attributes = Object.fromEntries(
    Object.keys(span.attributes)
      .sort()
      .map((key) => [key, span.attributes[key]]),
  )
  return replaceDeep(
    {
      name: span.name,
      kind: SPAN_KINDS[span.kind] ?? span.kind,
      scope: span.scope,
      sameTrace: span.traceId === app.traceId,
      parent,
      attributes,
      status: { code: STATUS_CODES[span.status.code] ?? span.status.code, message: span.status.message },
      events: span.events,
      links: span.links,
      namedByRecords: spans.named.get(span.spanId) ?? 0,
    },
    replacements,
  )
}

/**
 * Consumer events whose number follows the fetch timing (how records fall into fetches and
 * batches, how long a handler runs): compared by shapes, their count only as "one or more".
 */
const TIMED_EVENT_TYPES =
  /^consumer\.(heartbeat|fetch|fetch_start|start_batch_process|end_batch_process|commit_offsets|network\..*)$/

function eventGroups(raw: RawProgramResult, replacements: Replacements): Map<string, unknown> {
  const byType = new Map<string, Array<Record<string, unknown>>>()
  for (const { event } of raw.events) {
    const e = event as Record<string, unknown>
    const type = String(e.type)
    if (!byType.has(type)) byType.set(type, [])
    byType.get(type)!.push(e)
  }
  const groups = new Map<string, unknown>()
  for (const [type, events] of byType) {
    const shapes = [...new Set(events.map((e) => JSON.stringify(shape(e))))].sort().map((s) => JSON.parse(s) as unknown)
    // Which requests a consumer makes (a heartbeat, another fetch) is timing too.
    const apiNames = TIMED_EVENT_TYPES.test(type)
      ? []
      : [
          ...new Set(
            events
              .map((e) => (e.payload as Record<string, unknown> | undefined)?.apiName)
              .filter((n) => n !== undefined),
          ),
        ].sort()
    groups.set(
      `events.${type}`,
      replaceDeep(
        {
          count: TIMED_EVENT_TYPES.test(type) ? 'one or more' : events.length,
          shapes,
          ...(apiNames.length ? { apiNames } : {}),
        },
        replacements,
      ),
    )
  }
  return groups
}

/** One program's observation from its raw run result and the Kafka state it left. */
export function observeProgram(
  env: Environment,
  planned: PlannedProgram,
  raw: RawProgramResult | undefined,
  topics: Record<string, TopicState>,
): Observation {
  const observation: Observation = new Map()
  if (!raw) {
    observation.set('program', { ran: false })
    return observation
  }
  const replacements = replacementsFor(env, planned)
  observation.set('program', { ran: true, timedOut: raw.timedOut })
  for (const step of raw.steps) {
    const outcome =
      step.end === undefined
        ? { finished: false }
        : { sync: step.sync, ok: step.ok, ...(step.ok ? { value: step.value } : { error: step.error }) }
    observation.set(`steps.${step.label}`, replaceDeep(outcome, replacements))
  }
  for (const note of raw.notes) observation.set(`notes.${note.label}`, replaceDeep(note.value, replacements))
  for (const [path, value] of eventGroups(raw, replacements)) observation.set(path, value)
  const spans: SpanIndex = { byId: new Map(raw.spans.map((s) => [s.spanId, s])), named: new Map() }
  for (const [key, state] of Object.entries(topics))
    observation.set(
      `records.${key}`,
      byPartition(state, (record) => normaliseRecord(record, raw)),
    )
  // Before the spans: this counts, per span, the records whose traceparent names it.
  for (const [key, state] of Object.entries(topics))
    observation.set(
      `traceparent.${key}`,
      byPartition(state, (record) => traceHeader(record, raw, spans, replacements)),
    )
  observation.set(
    'topics',
    Object.fromEntries(Object.entries(topics).map(([key, state]) => [key, state.partitions ?? 'absent'])),
  )
  observation.set(
    'spans',
    raw.spans
      .map((span) => normaliseSpan(span, raw.appSpan, spans, replacements))
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
  )
  observation.set('handles', raw.handles)
  return observation
}

/** The whole process: whether it exited by itself after disconnecting everything, and what it wrote to stderr. */
export function observeProcess(env: Environment, outcome: ProcessOutcome): Observation {
  const stderr = outcome.stderr
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => (replaceDeep(line, replacementsFor(env, null)) as string).replace(/\(node:\d+\)/g, '(node:<pid>)'))
  return new Map<string, unknown>([
    [
      'exit',
      {
        exitedByItself: outcome.exitedByItself,
        code: outcome.code,
        signal: outcome.signal,
        ...(outcome.exitedByItself ? {} : { keptAliveBy: outcome.keptAliveBy }),
      },
    ],
    ['stderr', stderr],
  ])
}

/** Per pass, per program name: its observation; plus the process's under PROCESS. */
export function observeRun(
  env: Environment,
  passes: ReadonlyArray<readonly PlannedProgram[]>,
  raw: ReadonlyArray<readonly RawProgramResult[]> | null,
  kafka: KafkaState,
  outcome: ProcessOutcome,
): Array<Map<string, Observation>> {
  return passes.map((pass, p) => {
    const byProgram = new Map<string, Observation>()
    pass.forEach((planned, i) =>
      byProgram.set(planned.name, observeProgram(env, planned, raw?.[p]?.[i], kafka[p]![i]!)),
    )
    if (p === 0) byProgram.set(PROCESS, observeProcess(env, outcome))
    return byProgram
  })
}
