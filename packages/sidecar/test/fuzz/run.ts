/**
 * One fuzz run: create the scenario's topics, fire every request at once, then check what the
 * sidecar promised against what it did. Every violation is collected, and a run with any
 * throws them all together with the planned requests, so a counterexample reads on its own.
 */
import type { EmbeddedRecord } from '@kafka-sidecar/embedded-kafka'
import {
  EmitAck,
  EmitRequest,
  HealthCheckResponse_ServingStatus as ServingStatus,
  type PartitionResult,
} from '@kafka-sidecar/proto'
import {
  BarrierModel,
  ABORTED,
  decodeProblem,
  expectationOf,
  FULL,
  fullPossible,
  kafkaAcks,
  oversizeProblem,
  FUZZ_LIMITS,
  type Expectation,
  type FlatRecord,
  type Problem,
  type World,
} from './oracle.js'
import { ALLOWED_PREFIX, plan, runNames, scanVarints, type PlannedRequest, type Scenario } from './scenario.js'
import { rawUnary, ReportReader, StreamCall, unary, type Answer, type FuzzTarget } from './target.js'

/** Longest a request may wait for its answer on a healthy cluster. */
export const ANSWER_BOUND_MS = 10_000
/** Longest an accepted record may wait for its delivery report, and the sidecar for idle. */
const SETTLE_BOUND_MS = 10_000
/** Once a run has failed, later waits only collect what is already true: shrinking stays fast. */
const FAILED_RUN_BOUND_MS = 300
/** Queue-expiry failures are legitimate only for requests that asked for so short a timeout. */

export interface RunStats {
  readonly answers: Map<string, number>
  recordsWritten: number
}

interface Outcome {
  readonly topic: string
  readonly partition: number
  /** -1 when unknown (acks 0). */
  readonly offset: number
  readonly error: { code: number; message: string; kafkaErrorName: string } | null
  readonly leaderId: number
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function until(condition: () => boolean | Promise<boolean>, boundMs: number): Promise<boolean> {
  const deadline = Date.now() + boundMs
  while (!(await condition())) {
    if (Date.now() > deadline) return false
    await sleep(10)
  }
  return true
}

function describeRefusal(answer: Extract<Answer, { kind: 'refusal' }>): string {
  return `${answer.code} "${answer.message}" (${answer.kafkaErrorName || 'no Kafka error'})`
}

function matches(answer: Extract<Answer, { kind: 'refusal' }>, problem: Problem): boolean {
  if (answer.code !== problem.code || !problem.message.test(answer.message)) return false
  if (problem.kafkaErrorName !== undefined && answer.kafkaErrorName !== problem.kafkaErrorName) return false
  if (problem === FULL) return answer.retriable && answer.retryAfterMs > 0
  return true
}

function matchesError(error: NonNullable<Outcome['error']>, problem: Problem): boolean {
  return (
    error.code === problem.code &&
    problem.message.test(error.message) &&
    (problem.kafkaErrorName === undefined || error.kafkaErrorName === problem.kafkaErrorName)
  )
}

function describeAnswer(answer: Answer | undefined): string {
  if (!answer) return 'not sent'
  if (answer.kind === 'refusal') return `refusal ${describeRefusal(answer)}`
  if (answer.kind === 'ack') return `ack ${JSON.stringify(EmitAck.toJSON(answer.ack)).slice(0, 300)}`
  if (answer.kind === 'unknown') return `unknown (${answer.written ? 'written' : 'not written'})`
  return `broken (${answer.why})`
}

/** What a run's requests are planned to be, for the failure message. */
function render(planned: readonly PlannedRequest[], answers: readonly Answer[]): string {
  return planned
    .map((p) => {
      const seen = p.seen.ok
        ? JSON.stringify(EmitRequest.toJSON(p.seen.request))
        : `undecodable (${p.seen.reason}): ${p.bytes.toString('hex')}`
      const line = `  #${p.index} ${p.transport} ${p.bytes.length} bytes, answered ${describeAnswer(answers[p.index])}: ${seen}`
      return line.length > 1_500 ? `${line.slice(0, 1_500)}…` : line
    })
    .join('\n')
}

export async function runScenario(target: FuzzTarget, scenario: Scenario, stats: RunStats): Promise<void> {
  const { cluster } = target
  const { client, raw } = target.grpc
  const names = runNames(scenario)
  const partitions = new Map<string, number>()
  for (const [i, count] of scenario.topics.entries()) partitions.set(names.existing[i]!, count)
  partitions.set(names.longest, 1)
  for (const [topic, count] of partitions) await cluster.createTopic({ topic, partitions: count })
  const topicsBefore = new Set(cluster.topics())
  const world: World = { partitions, allowedPrefix: ALLOWED_PREFIX }
  const planned = plan(scenario, names)
  const expectations: Expectation[] = planned.map((p) => {
    if (p.bytes.length > FUZZ_LIMITS.maxRequestBytes)
      return { certain: [oversizeProblem(p.bytes.length)], possible: [], records: [], decoded: null }
    if (!p.seen.ok) return { certain: [decodeProblem(p.seen.reason)], possible: [], records: [], decoded: null }
    return expectationOf(p.seen.request, world)
  })
  const full = fullPossible(expectations)
  const violations: string[] = []
  const settleBound = () => (violations.length > 0 ? FAILED_RUN_BOUND_MS : SETTLE_BOUND_MS)
  const started = Date.now()

  const readers = names.instances.map((id) => new ReportReader(client, id))
  const stream = planned.some((p) => p.transport === 'stream') ? StreamCall.generated(client) : null
  const rawStream = planned.some((p) => p.transport === 'raw-stream') ? StreamCall.raw(raw) : null
  // grpc-js 1.14.7 loses a cancel issued in the same turn as the call's start (ResolvingCall
  // creates its child call in a promise callback without checking that it ended): the request is
  // still sent, and the server never hears of the cancel. That is a client-library race, so the
  // stream is cancelled one macrotask after its writes, when the call is on the wire.
  const cancelStream = async () => {
    await new Promise((resolve) => setImmediate(resolve))
    stream!.cancel()
  }
  if (scenario.cancelStreamAfter === 0 && stream) await cancelStream()
  let streamWrites = 0
  const pending: Array<Promise<Answer>> = []
  for (const p of planned) {
    switch (p.transport) {
      case 'unary':
        pending.push(unary(client, p.message, ANSWER_BOUND_MS))
        break
      case 'raw-unary':
        pending.push(rawUnary(raw, p.bytes, ANSWER_BOUND_MS))
        break
      case 'stream':
        pending.push(stream!.send(p.answerId, p.message, ANSWER_BOUND_MS))
        if (++streamWrites === scenario.cancelStreamAfter) await cancelStream()
        break
      case 'raw-stream':
        pending.push(rawStream!.send(p.answerId, p.bytes, ANSWER_BOUND_MS))
        break
    }
  }
  const answers = await Promise.all(pending)
  for (const s of [stream, rawStream]) {
    if (!s || s.cancelled) continue
    const ended = await s.end(ANSWER_BOUND_MS)
    if (ended !== 'OK') violations.push(`an EmitStream ended with ${ended}, not OK`)
    violations.push(...s.problems)
  }

  // Each answer against the model; on a stream, in write order, through the order barrier.
  const barriers = new Map<string, BarrierModel>([
    ['stream', new BarrierModel()],
    ['raw-stream', new BarrierModel()],
  ])
  const accepted: Array<{ p: PlannedRequest; e: Expectation; ack: Extract<Answer, { kind: 'ack' }>['ack'] | null }> = []
  const unanswered: Array<{ p: PlannedRequest; e: Expectation }> = []
  for (const p of planned) {
    const answer = answers[p.index]!
    const e = expectations[p.index]!
    const label = `request #${p.index} (${p.transport})`
    const statKey =
      answer.kind === 'refusal'
        ? `refused ${answer.code} ${answer.message
            .replace(/"[^"]*"/g, '"…"')
            .replace(/\d+/g, 'N')
            .slice(0, 50)}`
        : answer.kind
    stats.answers.set(statKey, (stats.answers.get(statKey) ?? 0) + 1)
    if (answer.kind === 'broken') {
      violations.push(`${label}: ${answer.why}`)
      continue
    }
    // Cancelled before its answer: whether it was queued is told by the delivery reports, once
    // the sidecar is idle. A later answer on the stream implies it was not refused (refusals are
    // answered in order), so the barrier is left as it is.
    if (answer.kind === 'unknown') {
      if (answer.written && e.decoded) unanswered.push({ p, e })
      continue
    }
    const barrier = barriers.get(p.transport)
    let mustAbort = false
    const decodedAndConverted = e.decoded !== null && !e.certain.some((x) => x.stage === 'convert')
    if (barrier && decodedAndConverted) mustAbort = barrier.mustAbort(e.decoded!.orderEpoch ?? 0)
    if (answer.kind === 'refusal') {
      if (!answer.message) violations.push(`${label}: refused with an empty message (code ${answer.code})`)
      const allowed = mustAbort ? [ABORTED] : [...e.certain, ...e.possible, ...(full ? [FULL] : [])]
      if (!allowed.some((problem) => matches(answer, problem))) {
        violations.push(
          `${label}: refused ${describeRefusal(answer)}; expected ${allowed.length === 0 ? 'acceptance' : `one of: ${allowed.map((x) => `${x.code} ${x.message}${x.kafkaErrorName ? ` (${x.kafkaErrorName})` : ''}`).join(' | ')}`}`,
        )
      }
      if (barrier) {
        if (e.decoded === null) barrier.refusedAt(scanEpoch(p))
        else if (!mustAbort) barrier.refusedAt(e.decoded.orderEpoch ?? 0)
      }
      continue
    }
    if (mustAbort)
      violations.push(
        `${label}: accepted, but an earlier request of its stream with an epoch >= ${e.decoded!.orderEpoch} was refused (order barrier)`,
      )
    if (e.certain.length > 0)
      violations.push(
        `${label}: accepted, but it should have been refused: ${e.certain.map((x) => `${x.code} ${x.message}`).join(' | ')}`,
      )
    if (answer.ack.requestId !== p.answerId)
      violations.push(`${label}: ack carries request id ${answer.ack.requestId}, not ${p.answerId}`)
    if (e.decoded) accepted.push({ p, e, ack: answer.ack })
  }

  if (unanswered.length > 0) {
    // A request decided while the stream was being cancelled may still be waiting for topic
    // metadata when the queues first run empty: wait for idle, then a little longer.
    const drained = async () => {
      const g = await target.gauges()
      return g.kafka_sidecar_queue_bytes === 0 && g.kafka_sidecar_batches_in_flight === 0
    }
    await until(drained, settleBound())
    await sleep(200)
    await until(drained, settleBound())
  }

  // Every accepted record is reported (delivered or failed), once, and agrees with the ack.
  const reportsFor = (instanceId: string, requestId: number) => {
    const reader = readers[names.instances.indexOf(instanceId)]
    return (reader?.events ?? []).flatMap((ev) =>
      ev.event?.$case === 'report' && ev.event.value.requestId === requestId ? [ev.event.value.result!] : [],
    )
  }
  // Cancelled before its answer and without an instance id: no report will ever tell, so each of
  // its records may be in Kafka, once.
  const unknowable = unanswered.filter((u) => u.e.decoded!.instanceId === '')
  for (const u of unanswered) {
    if (u.e.decoded!.instanceId === '') continue
    if (reportsFor(u.e.decoded!.instanceId, u.e.decoded!.requestId).length === 0) continue
    stats.answers.set('unanswered but queued', (stats.answers.get('unanswered but queued') ?? 0) + 1)
    if (u.e.certain.length > 0)
      violations.push(
        `request #${u.p.index} (cancelled stream): queued, but it should have been refused: ${u.e.certain.map((x) => `${x.code} ${x.message}`).join(' | ')}`,
      )
    accepted.push({ ...u, ack: null })
  }
  // Without an instance id there are no reports: the ack, which then awaits delivery, is the outcome.
  const anonymous = (a: (typeof accepted)[number]) => a.e.decoded!.instanceId === ''
  const complete = (a: (typeof accepted)[number]) =>
    anonymous(a) ||
    reportsFor(a.e.decoded!.instanceId, a.e.decoded!.requestId).reduce((n, r) => n + r.recordIndexes.length, 0) >=
      a.e.records.length
  const reportBound = settleBound()
  if (!(await until(() => accepted.every(complete), reportBound))) {
    for (const a of accepted.filter((x) => !complete(x)))
      violations.push(
        `request #${a.p.index}: delivery reports cover ${reportsFor(a.e.decoded!.instanceId, a.e.decoded!.requestId).reduce((n, r) => n + r.recordIndexes.length, 0)} of its ${a.e.records.length} records after ${reportBound} ms`,
      )
  }
  for (const reader of readers) {
    reader.cancel()
    violations.push(...reader.errors)
    for (const ev of reader.events)
      if (ev.event?.$case === 'gap') violations.push(`delivery report gap: ${JSON.stringify(ev.event.value)}`)
  }
  const refusedIds = new Set(
    planned
      .filter((p) => answers[p.index]!.kind === 'refusal' && p.seen.ok)
      .map((p) => `${p.seen.ok ? p.seen.request.instanceId : ''}\u0000${p.seen.ok ? p.seen.request.requestId : 0}`),
  )
  for (const [i, reader] of readers.entries()) {
    for (const ev of reader.events) {
      if (ev.event?.$case === 'report' && refusedIds.has(`${names.instances[i]}\u0000${ev.event.value.requestId}`))
        violations.push(
          `a delivery report for refused request id ${ev.event.value.requestId}: ${JSON.stringify(ev.event.value)}`,
        )
    }
  }

  const expected: Array<{ record: FlatRecord; outcome: Outcome; label: string }> = []
  // acks 0 without an instance id: answered "received", and nothing ever says where its records
  // went. On a healthy cluster each is written once, in a partition only content can tell.
  const unplaced: Unplaced[] = []
  const maybe: Unplaced[] = unknowable.flatMap((u) =>
    u.e.records.map((record) => ({ record, label: `request #${u.p.index} record ${record.index}` })),
  )
  for (const a of accepted) {
    const label = `request #${a.p.index}`
    const acks = kafkaAcks(a.e.decoded!.acks)!
    const awaited = (a.e.decoded!.awaitDelivery || anonymous(a)) && acks !== 0
    if (anonymous(a) && acks === 0) {
      for (const record of a.e.records) {
        const x = { record, label: `${label} record ${record.index}` }
        if (record.fate === 'written') unplaced.push(x)
        else if (record.fate === 'either') maybe.push(x)
      }
      continue
    }
    if (a.ack && !awaited && a.ack.results.length > 0)
      violations.push(
        `${label}: ack carries results, but it did not await delivery (acks ${acks}, await_delivery ${a.e.decoded!.awaitDelivery})`,
      )
    const fromAck =
      awaited && a.ack ? outcomesByIndex(a.ack.results, a.e.records.length, `${label} ack`, violations) : null
    const fromReports = anonymous(a)
      ? (fromAck ?? [])
      : outcomesByIndex(
          reportsFor(a.e.decoded!.instanceId, a.e.decoded!.requestId),
          a.e.records.length,
          `${label} reports`,
          violations,
        )
    for (const record of a.e.records) {
      const outcome = fromReports[record.index]
      if (!outcome) continue
      const where = `${label} record ${record.index}`
      const inAck = fromAck?.[record.index]
      if (fromAck && JSON.stringify(inAck) !== JSON.stringify(outcome))
        violations.push(`${where}: ack says ${JSON.stringify(inAck)}, its report ${JSON.stringify(outcome)}`)
      if (outcome.topic !== record.topic)
        violations.push(`${where}: reported for topic "${outcome.topic}", sent to "${record.topic}"`)
      if (record.partition !== null && outcome.partition !== record.partition)
        violations.push(`${where}: reported in partition ${outcome.partition}, belongs in ${record.partition}`)
      stats.answers.set(
        outcome.error ? `record failed ${outcome.error.code}` : 'record delivered',
        (stats.answers.get(outcome.error ? `record failed ${outcome.error.code}` : 'record delivered') ?? 0) + 1,
      )
      if (outcome.error) {
        // Refused per partition as the oracle says; else, as short timeouts no longer shorten
        // the queue window (max(timeout, 30 s)), a healthy cluster fails nothing.
        const refusal = record.fate === 'written' ? undefined : record.refusal
        if (!refusal || !matchesError(outcome.error, refusal))
          violations.push(
            `${where}: delivery failed on a healthy cluster: ${JSON.stringify(outcome.error)}${refusal ? `; expected ${refusal.message}` : ''}`,
          )
        continue
      }
      if (record.fate === 'refused')
        violations.push(
          `${where}: delivered, but it should have been refused with its send's records for its partition: ${record.refusal!.message}`,
        )
      const count = partitions.get(record.topic) ?? 0
      if (outcome.partition < 0 || outcome.partition >= count)
        violations.push(`${where}: reported in partition ${outcome.partition} of a ${count}-partition topic`)
      if ((acks === 0) !== (outcome.offset === -1))
        violations.push(`${where}: offset ${outcome.offset} with acks ${acks}`)
      const leader = cluster.offsets(record.topic).find((x) => x.partition === outcome.partition)?.leaderId
      if (awaited && outcome.leaderId !== leader)
        violations.push(`${where}: leader_id ${outcome.leaderId}, the partition's leader is ${leader}`)
      expected.push({ record, outcome, label: where })
    }
    violations.push(...partlyRefused(label, a.e.records, fromReports))
  }

  // What the cluster holds is exactly what was acked: each acked record once, nothing else.
  const runTopics = [...partitions.keys()]
  const expectedCount = (topic: string) => expected.filter((x) => x.record.topic === topic).length
  await until(async () => {
    for (const topic of runTopics)
      if (
        (await cluster.records(topic)).length <
        expectedCount(topic) + unplaced.filter((x) => x.record.topic === topic).length
      )
        return false
    return true
  }, settleBound())
  for (const topic of runTopics) {
    const held = await cluster.records(topic)
    stats.recordsWritten += held.length
    const ofTopic = <T extends { record: FlatRecord }>(xs: readonly T[]) => xs.filter((x) => x.record.topic === topic)
    violations.push(...compareTopic(topic, held, ofTopic(expected), ofTopic(unplaced), ofTopic(maybe), started))
  }
  const created = cluster.topics().filter((t) => !topicsBefore.has(t))
  if (created.length > 0)
    violations.push(
      `topics created during the run (the brokers never auto-create): ${created.map((t) => JSON.stringify(t)).join(', ')}`,
    )

  // Idle again: nothing held, nothing in flight, no stream or report reader left counted.
  const gaugesIdle = async () => Object.values(await target.gauges()).every((v) => v === 0)
  const idleBound = settleBound()
  if (!(await until(gaugesIdle, idleBound)))
    violations.push(`sidecar not idle ${idleBound} ms after the run: ${JSON.stringify(await target.gauges())}`)
  const health = await target.healthStatus()
  if (health !== ServingStatus.SERVING) violations.push(`health check answers ${health} after the run`)
  const canary = await target.canary()
  if (canary) violations.push(canary)

  if (violations.length > 0)
    throw new Error(
      `${violations.length} violation(s):\n- ${violations.join('\n- ')}\nrequests as planned:\n${render(planned, answers)}`,
    )
}

function scanEpoch(p: PlannedRequest): number | undefined {
  // An epoch beyond 2^53 cannot be one a producer counted to: unreadable, like a missing one.
  const epoch = scanVarints(p.bytes).get(11)
  return epoch === undefined || epoch > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(epoch)
}

/** A send's records for one partition (one segment's, in one partition) are written or refused whole. */
function partlyRefused(
  label: string,
  records: readonly FlatRecord[],
  outcomes: ReadonlyArray<Outcome | undefined>,
): string[] {
  const failedByGroup = new Map<string, Set<boolean>>()
  for (const record of records) {
    const outcome = outcomes[record.index]
    if (!outcome) continue
    const group = `${record.segment} ${outcome.topic}-${outcome.partition}`
    failedByGroup.set(group, (failedByGroup.get(group) ?? new Set()).add(outcome.error !== null))
  }
  return [...failedByGroup]
    .filter(([, failed]) => failed.size > 1)
    .map(([group]) => `${label}: segment ${group} partly written, partly failed`)
}

function outcomesByIndex(
  results: readonly PartitionResult[],
  count: number,
  what: string,
  violations: string[],
): Array<Outcome | undefined> {
  const out = new Array<Outcome | undefined>(count)
  for (const r of results) {
    r.recordIndexes.forEach((index, position) => {
      if (index >= count || out[index] !== undefined) {
        violations.push(`${what}: record index ${index} ${index >= count ? 'does not exist' : 'appears twice'}`)
        return
      }
      out[index] = {
        topic: r.topic,
        partition: r.partition,
        offset: r.error || r.baseOffset < 0 ? -1 : r.baseOffset + position,
        error: r.error
          ? { code: r.error.grpcCode, message: r.error.message, kafkaErrorName: r.error.kafkaErrorName }
          : null,
        leaderId: r.leaderId,
      }
    })
  }
  return out
}

/** Headers as a KafkaJS consumer sees them: values grouped by name, in order within a name. */
function headerGroups(headers: ReadonlyArray<{ key: string; value?: Uint8Array | null }>): string {
  const groups = new Map<string, string[]>()
  for (const h of headers)
    groups.set(h.key, [...(groups.get(h.key) ?? []), h.value == null ? 'null' : Buffer.from(h.value).toString('hex')])
  return JSON.stringify([...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

const hex = (bytes: Uint8Array | null | undefined) =>
  bytes == null ? 'null' : `0x${Buffer.from(bytes).toString('hex')}`

function content(
  partition: number,
  key: Uint8Array | null | undefined,
  value: Uint8Array | null | undefined,
  headers: string,
  timestamp: number | null,
): string {
  return `p${partition} key=${hex(key)} value=${hex(value)} headers=${headers}${timestamp === null ? '' : ` ts=${timestamp}`}`
}

interface Unplaced {
  readonly record: FlatRecord
  readonly label: string
}

function compareTopic(
  topic: string,
  held: readonly EmbeddedRecord[],
  expected: ReadonlyArray<{ record: FlatRecord; outcome: Outcome; label: string }>,
  unplaced: readonly Unplaced[],
  maybe: readonly Unplaced[],
  startedAt: number,
): string[] {
  const problems: string[] = []
  const unmatched = new Map<string, EmbeddedRecord>(held.map((r) => [`${r.partition}:${r.offset}`, r]))
  const heldContent = (r: EmbeddedRecord, withTimestamp: boolean) =>
    content(r.partition, r.key, r.value, headerGroups(r.headers), withTimestamp ? r.timestamp : null)
  const wantContent = (x: (typeof expected)[number], withTimestamp: boolean) =>
    content(
      x.outcome.partition,
      x.record.record.key,
      x.record.record.value,
      headerGroups(x.record.record.headers),
      withTimestamp ? (x.record.record.timestampMs ?? null) : null,
    )
  const timestampFits = (x: (typeof expected)[number], r: EmbeddedRecord) => {
    const ts = x.record.record.timestampMs
    return ts !== undefined ? r.timestamp === ts : r.timestamp >= startedAt - 1_000 && r.timestamp <= Date.now() + 1_000
  }
  const checkTimestamp = (x: (typeof expected)[number], r: EmbeddedRecord) => {
    if (!timestampFits(x, r))
      problems.push(
        `${x.label}: timestamp ${r.timestamp} in Kafka, ${x.record.record.timestampMs === undefined ? 'expected the time of sending' : `sent ${x.record.record.timestampMs}`}`,
      )
  }
  const byContent: Array<(typeof expected)[number]> = []
  for (const x of expected) {
    if (x.outcome.offset < 0) {
      byContent.push(x)
      continue
    }
    const r = unmatched.get(`${x.outcome.partition}:${x.outcome.offset}`)
    if (!r) {
      problems.push(`${x.label}: acked at ${topic}-${x.outcome.partition}@${x.outcome.offset}, which does not exist`)
      continue
    }
    unmatched.delete(`${x.outcome.partition}:${x.outcome.offset}`)
    if (heldContent(r, false) !== wantContent(x, false))
      problems.push(
        `${x.label}: ${topic}-${r.partition}@${r.offset} holds ${heldContent(r, false)}, acked ${wantContent(x, false)}`,
      )
    else checkTimestamp(x, r)
  }
  // acks 0: no offsets; the rest of the topic must be exactly these records, in their partitions.
  // Exact timestamps first, so a record stamped "now" never takes the one another record named.
  byContent.sort(
    (a, b) => Number(a.record.record.timestampMs === undefined) - Number(b.record.record.timestampMs === undefined),
  )
  for (const x of byContent) {
    const want = wantContent(x, false)
    // Records alike in all but their timestamp are told apart by it.
    const alike = [...unmatched.values()].filter((r) => heldContent(r, false) === want)
    const found = alike.find((r) => timestampFits(x, r)) ?? alike[0]
    if (!found) {
      problems.push(`${x.label}: acked (acks 0), not in ${topic}: ${want}`)
      continue
    }
    unmatched.delete(`${found.partition}:${found.offset}`)
    checkTimestamp(x, found)
  }
  const takeByContent = (x: Unplaced): boolean => {
    const { key, value, headers } = x.record.record
    const { partition } = x.record
    const same = (r: EmbeddedRecord) =>
      content(0, r.key, r.value, headerGroups(r.headers), null) === content(0, key, value, headerGroups(headers), null)
    const found = [...unmatched.values()].find((r) => same(r) && (partition === null || r.partition === partition))
    if (found) unmatched.delete(`${found.partition}:${found.offset}`)
    return found !== undefined
  }
  for (const x of unplaced)
    if (!takeByContent(x)) problems.push(`${x.label}: received (acks 0, no instance id), not in ${topic}`)
  for (const x of maybe) takeByContent(x)
  for (const r of unmatched.values())
    problems.push(`${topic}-${r.partition}@${r.offset} holds a record nobody was acked for: ${heldContent(r, true)}`)
  return problems
}
