/**
 * One application process for the reliability tests, forked by the test: a client producer in
 * sidecar mode sending continuously (KeyedSender: `w<id>-k<j>:<n>` values, a few sends per key
 * in flight), reporting to the parent over IPC which records were acked (when, and how long each
 * send took), which failed, which path wrote them, every fallback, and which records were re-sent
 * directly after the sidecar path failed while it had them (their outcome unknown). It stops when
 * told to, waits for its sends to settle, reports a summary, disconnects and exits 0.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { Kafka, logLevel, type DeliveryReport, type SidecarClientOptions } from '../../src/index.js'
import { idOf, KeyedSender } from '../fault-helpers.js'

export interface LoadWorkerConfig {
  readonly id: number
  readonly brokers: string[]
  readonly address: string
  readonly topic: string
  readonly keys: number
  readonly window: number
  readonly timeoutMs: number
  /**
   * Client options besides mode and address. Unset: fallback tuned for short tests (probe every
   * 300 ms, 2 s margin). `{}` runs the client's defaults, as an application deploys it.
   */
  readonly sidecar?: Omit<SidecarClientOptions, 'mode' | 'address'>
  /** KeyedSender's pause between a key's sends. Default 2 ms. */
  readonly pauseMs?: number
}

/** The tuning the existing reliability tests run with (when LoadWorkerConfig.sidecar is unset). */
const SHORT_TEST_TUNING: Omit<SidecarClientOptions, 'mode' | 'address'> = {
  connectTimeoutMs: 15_000,
  requestTimeoutMarginMs: 2_000,
  breaker: { resetTimeoutMs: 300, volumeThreshold: 3, errorThresholdPercentage: 50, rollingCountTimeoutMs: 1_000 },
}

export type ParentToWorker = { type: 'go' } | { type: 'stop' }

export interface WorkerProgress {
  readonly type: 'progress'
  /** Values acked / failed since the previous message. */
  readonly acked: string[]
  /** For each of `acked`: Date.now() when its send resolved, and how long it took (ms). */
  readonly ackedAt: number[]
  readonly ackedLatencyMs: number[]
  readonly failed: Array<{ value: string; error: string; at: number }>
  /**
   * Records sent directly after an attempt on the sidecar path failed, with the fallback reason
   * (not those sent direct at once because the breaker was open): whether the sidecar may have
   * written them too depends on the reason (see fault-matrix/measure.ts).
   */
  readonly fellBackAfterSidecarAttempt: Array<{ value: string; reason: string }>
  /** Records delivered through the direct path (their delivery report says so). */
  readonly directDelivered: string[]
  /** Sends started so far, per key (its values `key:0` .. `key:(n-1)` were attempted). */
  readonly attemptedByKey: Record<string, number>
  /** Times the breaker opened so far. */
  readonly breakerOpens: number
  /** Delivery reports so far, by path, and the last report's path and time. */
  readonly sidecarReports: number
  readonly directReports: number
  readonly breakerState: string
  /** producer.events.CLUSTER_MISMATCH events so far (the sidecar writes to another cluster). */
  readonly clusterMismatches: number
}

export type WorkerToParent =
  | { type: 'ready'; mode: string; breakerState: string }
  | WorkerProgress
  | { type: 'fallbacks'; reasons: Array<{ reason: string; records: number; at: number }> }
  | {
      type: 'done'
      attempted: number
      maxSettleMs: number
      reportErrors: number
      attemptedByKey: Record<string, number>
    }

const config = JSON.parse(process.env.LOAD_WORKER_CONFIG!) as LoadWorkerConfig
const send = (message: WorkerToParent) => process.send!(message)

const kafka = new Kafka({ clientId: `reliability-w${config.id}`, brokers: config.brokers, logLevel: logLevel.NOTHING })
const paths = { sidecar: 0, direct: 0, errors: 0 }
const directDelivered: string[] = []
const producer = kafka.producer({
  sidecar: { ...(config.sidecar ?? SHORT_TEST_TUNING), mode: 'sidecar', address: config.address },
  onDelivery: (report: DeliveryReport) => {
    if (report.error) paths.errors++
    else paths[report.path]++
    if (!report.error && report.path === 'direct') directDelivered.push(idOf(report))
  },
})
const fallbacks: Array<{ reason: string; records: number; at: number }> = []
const fellBack: Array<{ value: string; reason: string }> = []
/** The value of the record whose send is running (KeyedSender runs each send inside it). */
const sending = new AsyncLocalStorage<string>()
producer.on(producer.events.FALLBACK, (event) => {
  const { reason, records } = event.payload
  fallbacks.push({ reason, records, at: event.timestamp })
  // The listener runs inside the falling-back send's async context: its record is known.
  const value = sending.getStore()
  if (value !== undefined && !/^(circuit breaker open|Breaker is open)/.test(reason)) fellBack.push({ value, reason })
})
let breakerOpens = 0
producer.on(producer.events.BREAKER_OPEN, () => void breakerOpens++)
let clusterMismatches = 0
producer.on(producer.events.CLUSTER_MISMATCH, () => void clusterMismatches++)

await producer.connect()
send({ type: 'ready', mode: producer.mode, breakerState: producer.breakerState })
await new Promise<void>((resolve) => process.once('message', () => resolve()))

const keys = Array.from({ length: config.keys }, (_, j) => `w${config.id}-k${j}`)
const sender = new KeyedSender(producer, config.topic, keys, {
  window: config.window,
  pauseMs: config.pauseMs ?? 2,
  timeout: config.timeoutMs,
  context: sending,
})
let ackedSent = 0
let failedSent = 0
const flush = () => {
  const newlyAcked = sender.acked.slice(ackedSent)
  const failed = sender.failures
    .slice(failedSent)
    .map((f) => ({ value: f.value, error: `${f.error.name}: ${f.error.message}`, at: f.settledAt }))
  ackedSent += newlyAcked.length
  failedSent += failed.length
  send({
    type: 'progress',
    acked: newlyAcked.map((a) => a.value),
    ackedAt: newlyAcked.map((a) => a.settledAt),
    ackedLatencyMs: newlyAcked.map((a) => a.settledAt - a.startedAt),
    failed,
    fellBackAfterSidecarAttempt: fellBack.splice(0),
    directDelivered: directDelivered.splice(0),
    attemptedByKey: sender.attemptedByKey(),
    breakerOpens,
    sidecarReports: paths.sidecar,
    directReports: paths.direct,
    breakerState: producer.breakerState,
    clusterMismatches,
  })
  if (fallbacks.length > 0) send({ type: 'fallbacks', reasons: fallbacks.splice(0) })
}
const progress = setInterval(flush, 100)
sender.start()

await new Promise<void>((resolve) => process.on('message', (m: ParentToWorker) => m.type === 'stop' && resolve()))
await sender.stop()
clearInterval(progress)
await producer.disconnect()
flush()
send({
  type: 'done',
  attempted: sender.attempted,
  maxSettleMs: sender.maxSettleMs,
  reportErrors: paths.errors,
  attemptedByKey: sender.attemptedByKey(),
})
process.disconnect()
