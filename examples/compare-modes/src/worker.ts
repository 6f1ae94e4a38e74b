/**
 * One application process of the pod. The code is the same in both modes: it imports
 * `@kafka-sidecar/client` where it used to import `kafkajs`; only KAFKA_SIDECAR_MODE (set by the
 * parent) differs. The brokers and how to reach them come from KAFKA_BROKERS and the KAFKA_SSL* /
 * KAFKA_SASL_* variables the parent passes (its cluster's). It sends `records` records in sends of `batch`, `concurrency` sends in flight,
 * and tells the parent which records were acknowledged and how long each send took.
 */
import { Kafka, logLevel, type Message } from '@kafka-sidecar/client'
import { kafkaClientSettings } from '@kafka-sidecar/sidecar'

export interface WorkerConfig {
  readonly workerId: number
  readonly topic: string
  readonly records: number
  readonly batch: number
  readonly concurrency: number
  readonly valueBytes: number
  readonly keysPerWorker: number
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
  send({ type: 'ready', mode: producer.mode })
  await new Promise<void>((resolve) => process.once('message', () => resolve()))

  const acked = new Uint8Array(config.records)
  const sends = Math.ceil(config.records / config.batch)
  const latenciesMs = new Float64Array(sends)
  let nextSend = 0
  let ackedCount = 0
  let failed = 0
  let firstError: string | null = null
  const progress = setInterval(() => send({ type: 'progress', acked: ackedCount, failed }), 250)
  const started = performance.now()
  const lane = async () => {
    while (nextSend < sends) {
      const index = nextSend++
      const first = index * config.batch
      const last = Math.min(first + config.batch, config.records)
      const messages: Message[] = []
      for (let seq = first; seq < last; seq++) {
        messages.push({
          key: `w${config.workerId}-k${seq % config.keysPerWorker}`,
          value: recordValue(config.workerId, seq, config.valueBytes),
        })
      }
      const t0 = performance.now()
      try {
        await producer.send({ topic: config.topic, messages })
        latenciesMs[index] = performance.now() - t0
        acked.fill(1, first, last)
        ackedCount += last - first
      } catch (error) {
        latenciesMs[index] = Number.NaN
        failed += last - first
        firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error)
      }
    }
  }
  await Promise.all(Array.from({ length: config.concurrency }, lane))
  const elapsedMs = performance.now() - started
  clearInterval(progress)
  // With --tracing (src/tracing.mjs): the spans the instrumentation produced, proof it traced.
  const tracing = (globalThis as { tracingSummary?: () => Promise<{ exportedSpans: number }> }).tracingSummary
  const tracedSpans = tracing ? (await tracing()).exportedSpans : null
  send({ type: 'done', acked, latenciesMs, failed, firstError, fallbacks, elapsedMs, tracedSpans })
  await new Promise<void>((resolve) => process.once('message', () => resolve()))
  await producer.disconnect()
}

export async function workerMain(): Promise<void> {
  const config = JSON.parse(process.env.COMPARE_WORKER_CONFIG!) as WorkerConfig
  await run(config)
}
