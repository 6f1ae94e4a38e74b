/**
 * One application process of the pod. The code is the same in both modes: it imports
 * `@kafka-sidecar/client` where it used to import `kafkajs`; only KAFKA_SIDECAR_MODE (set by the
 * parent) differs. The brokers and how to reach them come from KAFKA_BROKERS and the KAFKA_SSL* /
 * KAFKA_SASL_* variables the parent passes (its cluster's). It sends `records` records in sends of `batch`, `concurrency` sends in flight,
 * and tells the parent which records were acknowledged and how long each send took. With
 * `--warmup`, it first sends that many records to a topic of their own, unmeasured, so the run
 * measures code the JIT compiled and connections that are open, in both modes alike.
 */
import { Kafka, logLevel, type Message, type Producer } from '@kafka-sidecar/client'
import { kafkaClientSettings } from '@kafka-sidecar/sidecar'

export interface WorkerConfig {
  readonly workerId: number
  readonly topic: string
  readonly records: number
  readonly batch: number
  readonly concurrency: number
  readonly valueBytes: number
  readonly keysPerWorker: number
  /** Records sent to `warmupTopic` before the worker says it is ready, unmeasured (JIT, connections). */
  readonly warmupRecords: number
  readonly warmupTopic: string | null
}

export type WorkerMessage =
  | { type: 'ready'; mode: string }
  | { type: 'progress'; acked: number; failed: number }
  | {
      type: 'done'
      acked: Uint8Array
      latenciesMs: Float64Array
      failed: number
      firstError: string | null
      fallbacks: number
      elapsedMs: number
      tracedSpans: number | null
    }

export type ParentMessage = { type: 'go' } | { type: 'exit' }

/** Value layout: "<worker>:<seq>:" then padding, so the parent can find every record in the log. */
export function recordValue(workerId: number, seq: number, bytes: number): string {
  const head = `${workerId}:${seq}:`
  return head.length >= bytes ? head : head + 'x'.repeat(bytes - head.length)
}

export function parseValue(value: Buffer | null): { workerId: number; seq: number } | null {
  if (!value) return null
  const text = value.toString('latin1', 0, Math.min(value.length, 32))
  const [w, s] = text.split(':')
  const workerId = Number(w)
  const seq = Number(s)
  return Number.isInteger(workerId) && Number.isInteger(seq) ? { workerId, seq } : null
}

async function run(config: WorkerConfig): Promise<void> {
  const send = (message: WorkerMessage) => process.send!(message)
  // KAFKA_BROKERS and the TLS/SASL variables the sidecar reads, read by the sidecar's code: the
  // direct path connects exactly as the sidecar does.
  const brokerSettings = await kafkaClientSettings(process.env)
  const kafka = new Kafka({ clientId: 'compare-modes', ...brokerSettings, logLevel: logLevel.ERROR })
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  let fallbacks = 0
  producer.on(producer.events.FALLBACK, (event) => {
    fallbacks += (event.payload as { records: number }).records
  })
  await producer.connect()
  if (config.warmupTopic && config.warmupRecords > 0) {
    await sendRecords(producer, config, config.warmupTopic, config.warmupRecords).done
    // What the run reports is the measured records' (traced spans still count the warm-up's).
    fallbacks = 0
  }
  send({ type: 'ready', mode: producer.mode })
  await new Promise<void>((resolve) => process.once('message', () => resolve()))

  const started = performance.now()
  const { sent, done } = sendRecords(producer, config, config.topic, config.records)
  const progress = setInterval(() => send({ type: 'progress', acked: sent.ackedCount, failed: sent.failed }), 250)
  await done
  const elapsedMs = performance.now() - started
  clearInterval(progress)
  // With --tracing (src/tracing.mjs): the spans the instrumentation produced, proof it traced.
  const tracing = (globalThis as { tracingSummary?: () => Promise<{ exportedSpans: number }> }).tracingSummary
  const tracedSpans = tracing ? (await tracing()).exportedSpans : null
  const { acked, latenciesMs, failed, firstError } = sent
  send({ type: 'done', acked, latenciesMs, failed, firstError, fallbacks, elapsedMs, tracedSpans })
  await new Promise<void>((resolve) => process.once('message', () => resolve()))
  await producer.disconnect()
}

/** What the sends of a run achieved so far. */
interface Sent {
  readonly acked: Uint8Array
  readonly latenciesMs: Float64Array
  ackedCount: number
  failed: number
  firstError: string | null
}

/** `records` records to `topic` in sends of `batch`, `concurrency` sends in flight; `done` once all are answered. */
function sendRecords(
  producer: Producer,
  config: WorkerConfig,
  topic: string,
  records: number,
): { sent: Sent; done: Promise<void> } {
  const sends = Math.ceil(records / config.batch)
  const sent: Sent = {
    acked: new Uint8Array(records),
    latenciesMs: new Float64Array(sends),
    ackedCount: 0,
    failed: 0,
    firstError: null,
  }
  let nextSend = 0
  const lane = async () => {
    while (nextSend < sends) {
      const index = nextSend++
      const first = index * config.batch
      const last = Math.min(first + config.batch, records)
      const messages: Message[] = []
      for (let seq = first; seq < last; seq++) {
        messages.push({
          key: `w${config.workerId}-k${seq % config.keysPerWorker}`,
          value: recordValue(config.workerId, seq, config.valueBytes),
        })
      }
      const t0 = performance.now()
      try {
        await producer.send({ topic, messages })
        sent.latenciesMs[index] = performance.now() - t0
        sent.acked.fill(1, first, last)
        sent.ackedCount += last - first
      } catch (error) {
        sent.latenciesMs[index] = Number.NaN
        sent.failed += last - first
        sent.firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error)
      }
    }
  }
  const done = Promise.all(Array.from({ length: config.concurrency }, lane)).then(() => {})
  return { sent, done }
}

export async function workerMain(): Promise<void> {
  const config = JSON.parse(process.env.COMPARE_WORKER_CONFIG!) as WorkerConfig
  await run(config)
}
