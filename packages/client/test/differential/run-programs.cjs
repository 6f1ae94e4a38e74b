'use strict'
/**
 * The inside of one application process: runs every program of the plan (DIFF_PLAN, a JSON
 * file) in sequence on the module the application loaded, each inside an application span, and
 * writes what the process itself can see (DIFF_RESULT): each step's value or error, the events
 * its producers emitted, the spans the instrumentation exported, and the active handles left
 * after the program ended. What is in Kafka is read by the parent. Values are written raw
 * (described, not normalised); the parent normalises.
 */
const { readFileSync, writeFileSync } = require('node:fs')
const { setTimeout: sleep } = require('node:timers/promises')
const { SpanStatusCode } = require('@opentelemetry/api')
const corpus = require('./corpus.cjs')

const TRACING = Symbol.for('kafka-sidecar.differential.tracing')
/** How long a program may take before it counts as hung (and the next one starts). */
const PROGRAM_TIMEOUT_MS = 15_000
/** How long a finished program's sockets and timers get to go away before the handles are counted. */
const HANDLE_SETTLE_MS = 500
/** After the result is written: when to record what still keeps the process alive, if it has not exited. */
const ALIVE_CHECK_MS = 1_000

/** The consumer events KafkaJS 2.2.4 documents (consumer.events), network ones included. */
const CONSUMER_EVENT_KEYS = [
  'HEARTBEAT',
  'COMMIT_OFFSETS',
  'GROUP_JOIN',
  'FETCH',
  'FETCH_START',
  'START_BATCH_PROCESS',
  'END_BATCH_PROCESS',
  'CONNECT',
  'DISCONNECT',
  'STOP',
  'CRASH',
  'REBALANCING',
  'RECEIVED_UNSUBSCRIBED_TOPICS',
  'REQUEST',
  'REQUEST_TIMEOUT',
  'REQUEST_QUEUE_SIZE',
]

/** A JSON-safe description of any value: Buffers as hex, undefined kept, errors as their facts. */
function describe(value, kafkajs, depth = 0) {
  if (value === undefined) return { $undefined: true }
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value
  if (typeof value === 'number') return Number.isFinite(value) ? value : { $number: String(value) }
  if (typeof value === 'bigint') return { $bigint: String(value) }
  if (typeof value === 'function') return { $function: value.name }
  if (typeof value === 'symbol') return { $symbol: String(value) }
  if (Buffer.isBuffer(value)) return { $buffer: value.toString('hex') }
  if (value instanceof Error) return errorFacts(value, kafkajs, depth)
  if (depth > 6) return { $deep: true }
  if (Array.isArray(value)) return value.map((item) => describe(item, kafkajs, depth + 1))
  const out = {}
  for (const key of Object.keys(value)) out[key] = describe(value[key], kafkajs, depth + 1)
  return out
}

/** What a caller can see of an error: class, name, message, and every own property (retriable, code, cause, ...). */
function errorFacts(error, kafkajs, depth) {
  const facts = {
    $error: error.constructor && error.constructor.name,
    name: error.name,
    message: error.message,
    instanceOf: Object.keys(kafkajs).filter(
      (name) =>
        /Error|Exceeded|Timeout|OutOfRange|Required|NotFound|NotLoaded|Assignment|NotImplemented|Violation|ApiKey|MagicByte/.test(
          name,
        ) &&
        typeof kafkajs[name] === 'function' &&
        error instanceof kafkajs[name],
    ),
    retriable: describe(error.retriable, kafkajs, depth + 1),
  }
  for (const key of Object.keys(error)) {
    if (key === 'stack' || key === 'message' || key === 'name' || key === 'retriable') continue
    // KafkaJS's retrier draws each wait at random (± its factor): the value says nothing, and two
    // baseline runs that happen to draw the same one would make every other run differ.
    if (key === 'retryTime' && typeof error[key] === 'number') {
      facts['.retryTime'] = { $number: 'drawn at random by the retrier' }
      continue
    }
    facts[`.${key}`] = depth < 3 ? describe(error[key], kafkajs, depth + 1) : { $deep: true }
  }
  if (error.cause !== undefined && !Object.keys(error).includes('cause'))
    facts['.cause'] = depth < 3 ? describe(error.cause, kafkajs, depth + 1) : { $deep: true }
  return facts
}

function spanFacts(span) {
  const context = span.spanContext()
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: (span.parentSpanContext && span.parentSpanContext.spanId) || span.parentSpanId || null,
    name: span.name,
    kind: span.kind,
    attributes: describe(span.attributes, {}),
    status: { code: span.status.code, message: span.status.message === undefined ? null : span.status.message },
    events: span.events.map((event) => event.name),
    links: span.links.length,
    scope: (span.instrumentationScope || span.instrumentationLibrary || {}).name || null,
  }
}

/** A multiset difference of the active resource types: what is there now and was not before. */
function addedResources(before, after) {
  const left = [...before]
  const added = []
  for (const type of after) {
    const at = left.indexOf(type)
    if (at >= 0) left.splice(at, 1)
    else added.push(type)
  }
  return added.sort()
}

async function handlesLeft(before) {
  const deadline = Date.now() + HANDLE_SETTLE_MS
  let added = addedResources(before, process.getActiveResourcesInfo())
  while (added.length > 0 && Date.now() < deadline) {
    await sleep(20)
    added = addedResources(before, process.getActiveResourcesInfo())
  }
  return added
}

async function runProgram(program, planned, kafkajs, plan, tracing) {
  const cluster = plan.clusters[planned.cluster]
  // The deployment's environment: which sidecar serves the cluster this program writes to.
  if (cluster.sidecarAddress) process.env.KAFKA_SIDECAR_ADDRESS = cluster.sidecarAddress
  const steps = []
  const events = []
  const notes = []
  const labels = new Set()
  const listened = new WeakSet()
  const uniqueLabel = (label) => {
    let unique = label
    for (let n = 2; labels.has(unique); n++) unique = `${label}#${n}`
    labels.add(unique)
    return unique
  }
  const context = {
    /** A KafkaJS client config for this program's cluster; programs spread it into `new Kafka()`. */
    config: { clientId: 'differential-app', brokers: cluster.brokers, logLevel: kafkajs.logLevel.NOTHING },
    topics: planned.topics,
    ids: planned.ids,
    /** Runs one call of the program and records how it ended; never throws, returns the value or undefined. */
    async step(label, call) {
      const entry = { label: uniqueLabel(label), start: Date.now() }
      steps.push(entry)
      let pending
      try {
        pending = call()
      } catch (error) {
        Object.assign(entry, { sync: true, ok: false, error: describe(error, kafkajs), end: Date.now() })
        return undefined
      }
      try {
        const value = await pending
        Object.assign(entry, { sync: false, ok: true, value: describe(value, kafkajs), end: Date.now() })
        return value
      } catch (error) {
        Object.assign(entry, { sync: false, ok: false, error: describe(error, kafkajs), end: Date.now() })
        return undefined
      }
    },
    /**
     * Subscribes to every event KafkaJS documents for producers, as an application would; and,
     * where the producer has it (the client), to its fallback event, so a send that fell back to
     * the direct path in sidecar mode shows as a difference instead of passing for one.
     */
    listen(producer, name = 'producer') {
      if (listened.has(producer)) return
      listened.add(producer)
      for (const key of ['CONNECT', 'DISCONNECT', 'REQUEST', 'REQUEST_TIMEOUT', 'REQUEST_QUEUE_SIZE', 'FALLBACK']) {
        if (producer.events[key])
          producer.on(producer.events[key], (event) => events.push({ producer: name, event: describe(event, kafkajs) }))
      }
    },
    /**
     * Subscribes to every event KafkaJS documents for consumers, as an application would. Which
     * of them compare by count and which by shapes only (fetches, heartbeats, batches, commits
     * follow the fetch timing) is the parent's decision (normalise.ts). HEARTBEAT only on request:
     * whether a heartbeat falls due within a short program at all is timing (a program that wants
     * its events makes them due, e.g. heartbeatInterval 0 and a heartbeat() call).
     */
    listenConsumer(consumer, name = 'consumer', { heartbeats = false } = {}) {
      if (listened.has(consumer)) return
      listened.add(consumer)
      for (const key of CONSUMER_EVENT_KEYS) {
        if (key === 'HEARTBEAT' && !heartbeats) continue
        if (consumer.events[key])
          consumer.on(consumer.events[key], (event) => events.push({ producer: name, event: describe(event, kafkajs) }))
      }
    },
    /** Something else the application can see (a codec's call count, a property). */
    note(label, value) {
      notes.push({ label: uniqueLabel(label), value: describe(value, kafkajs) })
    },
  }

  tracing.exporter.reset()
  const before = process.getActiveResourcesInfo()
  const started = Date.now()
  let timedOut = false
  let appSpan = null
  let guard
  const run = tracing.tracer.startActiveSpan('app', async (span) => {
    appSpan = span.spanContext()
    try {
      await program.run(kafkajs, context)
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR })
      context.note('program threw', error)
    } finally {
      span.end()
    }
  })
  await Promise.race([
    run,
    new Promise((resolve) => (guard = setTimeout(() => resolve((timedOut = true)), PROGRAM_TIMEOUT_MS))),
  ])
  clearTimeout(guard)
  const handles = timedOut ? [] : await handlesLeft(before)
  await tracing.provider.forceFlush()
  const spans = tracing.exporter
    .getFinishedSpans()
    .filter((span) => span.spanContext().spanId !== appSpan.spanId)
    .map(spanFacts)
  return {
    name: program.name,
    timedOut,
    durationMs: Date.now() - started,
    appSpan: { traceId: appSpan.traceId, spanId: appSpan.spanId },
    steps,
    events,
    notes,
    spans,
    handles,
  }
}

/**
 * Runs every pass of the plan on `kafkajs` (the module the application loaded), writes the result
 * file, says so on stdout, and returns: the process should then exit by itself.
 */
async function runPrograms(kafkajs) {
  const plan = JSON.parse(readFileSync(process.env.DIFF_PLAN, 'utf8'))
  const tracing = globalThis[TRACING]
  if (!tracing) throw new Error('the tracing register file was not loaded before the application')
  const byName = new Map(corpus.programs.map((program) => [program.name, program]))
  const passes = []
  let hung = false
  for (const pass of plan.passes) {
    const results = []
    passes.push(results)
    for (const planned of pass) {
      if (hung) break
      const result = await runProgram(byName.get(planned.name), planned, kafkajs, plan, tracing)
      results.push(result)
      // A hung program may hold what the next one needs; what did not run shows as missing.
      hung = result.timedOut
    }
  }
  writeFileSync(process.env.DIFF_RESULT, JSON.stringify({ passes }))
  process.stdout.write('differential: result written\n')
  // Still here a second later: say what keeps the process alive (the timer itself does not).
  setTimeout(
    () => writeFileSync(`${process.env.DIFF_RESULT}.alive`, JSON.stringify(process.getActiveResourcesInfo())),
    ALIVE_CHECK_MS,
  ).unref()
}

module.exports = { runPrograms }
