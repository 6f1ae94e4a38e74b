/**
 * One application process for the reliability tests, forked by the test: a client producer in
 * sidecar mode sending continuously (KeyedSender: `w<id>-k<j>:<n>` values, a few sends per key
 * in flight), reporting to the parent over IPC which records were acked, which failed, which
 * path wrote them and every fallback. It stops when told to, waits for its sends to settle,
 * reports a summary, disconnects and exits 0.
 */
import { Kafka, logLevel, type DeliveryReport } from '../../src/index.js'
import { KeyedSender } from '../fault-helpers.js'

export interface LoadWorkerConfig {
  readonly id: number
  readonly brokers: string[]
  readonly address: string
  readonly topic: string
  readonly keys: number
  readonly window: number
  readonly timeoutMs: number
}

export type ParentToWorker = { type: 'go' } | { type: 'stop' }

export interface WorkerProgress {
  readonly type: 'progress'
  /** Values acked / failed since the previous message. */
  readonly acked: string[]
  readonly failed: Array<{ value: string; error: string }>
  /** Delivery reports so far, by path, and the last report's path and time. */
  readonly sidecarReports: number
  readonly directReports: number
  readonly breakerState: string
}

export type WorkerToParent =
  | { type: 'ready'; mode: string; breakerState: string }
  | WorkerProgress
  | { type: 'fallbacks'; reasons: Array<{ reason: string; records: number }> }
  | { type: 'done'; attempted: number; maxSettleMs: number; reportErrors: number }

const config = JSON.parse(process.env.LOAD_WORKER_CONFIG!) as LoadWorkerConfig
const send = (message: WorkerToParent) => process.send!(message)

const kafka = new Kafka({ clientId: `reliability-w${config.id}`, brokers: config.brokers, logLevel: logLevel.NOTHING })
const paths = { sidecar: 0, direct: 0, errors: 0 }
const producer = kafka.producer({
  sidecar: {
    mode: 'sidecar',
    address: config.address,
    connectTimeoutMs: 15_000,
    requestTimeoutMarginMs: 2_000,
    breaker: { resetTimeoutMs: 300, volumeThreshold: 3, errorThresholdPercentage: 50, rollingCountTimeoutMs: 1_000 },
  },
  onDelivery: (report: DeliveryReport) => {
    if (report.error) paths.errors++
    else paths[report.path]++
  },
})
const fallbacks: Array<{ reason: string; records: number }> = []
producer.on(producer.events.FALLBACK, (event) => void fallbacks.push({ reason: event.payload.reason, records: event.payload.records }))

await producer.connect()
send({ type: 'ready', mode: producer.mode, breakerState: producer.breakerState })
await new Promise<void>((resolve) => process.once('message', () => resolve()))

const keys = Array.from({ length: config.keys }, (_, j) => `w${config.id}-k${j}`)
const sender = new KeyedSender(producer, config.topic, keys, { window: config.window, pauseMs: 2, timeout: config.timeoutMs })
let ackedSent = 0
let failedSent = 0
const flush = () => {
  const acked = sender.acked.slice(ackedSent).map((a) => a.value)
  const failed = sender.failures.slice(failedSent).map((f) => ({ value: f.value, error: `${f.error.name}: ${f.error.message}` }))
  ackedSent += acked.length
  failedSent += failed.length
  send({ type: 'progress', acked, failed, sidecarReports: paths.sidecar, directReports: paths.direct, breakerState: producer.breakerState })
  if (fallbacks.length > 0) send({ type: 'fallbacks', reasons: fallbacks.splice(0) })
}
const progress = setInterval(flush, 100)
sender.start()

await new Promise<void>((resolve) => process.on('message', (m: ParentToWorker) => m.type === 'stop' && resolve()))
await sender.stop()
clearInterval(progress)
await producer.disconnect()
flush()
send({ type: 'done', attempted: sender.attempted, maxSettleMs: sender.maxSettleMs, reportErrors: paths.errors })
process.disconnect()
