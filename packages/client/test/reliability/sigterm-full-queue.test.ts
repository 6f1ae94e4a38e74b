/**
 * SIGTERM to a sidecar (the CLI as a child process) whose queue is full: the brokers are stopped,
 * so accepted records pile up to KAFKA_SIDECAR_MAX_QUEUED_RECORDS and further sends wait on
 * RESOURCE_EXHAUSTED. Then SIGTERM. The sidecar refuses new requests (the clients fall back to
 * direct), flushes for KAFKA_SIDECAR_SHUTDOWN_TIMEOUT_MS, fails what is left (reported to its
 * callers), and exits 0. Checked, with the brokers staying down and with them returning during
 * the flush:
 * - the process exits with code 0 within the shutdown timeout plus the fixed grace periods of
 *   shutdown (1 s for batches at the brokers, up to 2 s for report streams) and a small margin;
 * - every attempted record was acked or its send rejected; acked records are in the cluster;
 *   exactly one delivery report per record, with an error exactly when its send failed;
 * - the records the sidecar says it failed at shutdown (`stopped: N records failed`) are the
 *   ones its callers were told failed with "sidecar shut down ...", and were not written.
 */
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { randomTopic, spawnSidecar, startCluster, tempDir, waitFor } from '@kafka-sidecar/test-support'
import { Kafka, logLevel, type DeliveryReport, type SidecarProducer } from '../../src/index.js'
import { KeyedSender } from '../fault-helpers.js'
import { account, checkReportOutcomes, metricSum, scrape, tally } from './support.js'

const MAX_QUEUED_RECORDS = 100
const SHUTDOWN_TIMEOUT_MS = 2_000
/** sidecar.ts: batches at the brokers get 1 s more; report streams up to 2 s to drain. */
const SHUTDOWN_GRACE_MS = 1_000 + 2_000
const EXIT_MARGIN_MS = 1_500
const PRODUCERS = 4
const KEYS = 8
const DIRECT_RETRY = { retries: 1, initialRetryTime: 100, maxRetryTime: 500 }

async function fullSidecarThenSigterm(brokersBackAfterMs: number | null) {
  const started = Date.now()
  const cluster = await startCluster()
  const topic = randomTopic('sigterm')
  await cluster.createTopic({ topic, partitions: 2 })
  const sidecar = await spawnSidecar(cluster, join(await tempDir(), 'sidecar.sock'), {
    KAFKA_SIDECAR_HTTP: '127.0.0.1:0',
    KAFKA_SIDECAR_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    KAFKA_SIDECAR_MAX_QUEUED_RECORDS: String(MAX_QUEUED_RECORDS),
    KAFKA_SIDECAR_MAX_QUEUED_RECORDS_PER_PARTITION: String(MAX_QUEUED_RECORDS),
    // Brokers that stop answering, but not long enough for the sidecar to call Kafka down: it
    // keeps accepting until full (with the default 2 s probe it would refuse new requests ~4 s
    // into the outage, and the queue would stop growing).
    KAFKA_SIDECAR_KAFKA_PROBE_INTERVAL_MS: '60000',
  })
  const http = sidecar.httpAddress!

  const reports: DeliveryReport[] = []
  const fallbacks: Array<{ reason: string; records: number }> = []
  const producers: SidecarProducer[] = []
  const senders: KeyedSender[] = []
  for (let p = 0; p < PRODUCERS; p++) {
    const producer = new Kafka({
      clientId: `sigterm-${p}`,
      brokers: cluster.bootstrapServers,
      logLevel: logLevel.NOTHING,
      retry: DIRECT_RETRY,
      sidecar: {
        mode: 'sidecar',
        address: sidecar.address,
        connectTimeoutMs: 10_000,
        breaker: { resetTimeoutMs: 300 },
      },
    }).producer({ onDelivery: (r) => void reports.push(r), retry: DIRECT_RETRY })
    onTestFinished(() => producer.disconnect().catch(() => {}))
    await producer.connect()
    expect(producer.breakerState).toBe('closed')
    producer.on(producer.events.FALLBACK, (e) => void fallbacks.push(e.payload))
    producers.push(producer)
    // A long timeout: sends wait out the backpressure rather than give up on their own.
    senders.push(
      new KeyedSender(
        producer,
        topic,
        Array.from({ length: KEYS }, (_, k) => `p${p}-k${k}`),
        { window: 4, pauseMs: 2, timeout: 20_000 },
      ),
    )
  }
  for (const s of senders) s.start()
  const acked = () => senders.reduce((n, s) => n + s.acked.length, 0)
  await waitFor('records through the sidecar', () => reports.filter((r) => r.path === 'sidecar').length >= 200, 15_000)

  // Fill the queue.
  await cluster.stopBrokers()
  const ackedBeforeOutage = acked()
  await waitFor(
    'the sidecar queue to be full',
    async () => {
      const m = await scrape(http)
      return (
        metricSum(m, 'kafka_sidecar_errors_total', 'code="RESOURCE_EXHAUSTED"') > 0 &&
        metricSum(m, 'kafka_sidecar_queue_records') + metricSum(m, 'kafka_sidecar_batches_in_flight') > 0
      )
    },
    10_000,
  )
  const full = await scrape(http)
  const atSigterm = {
    queuedRecords: metricSum(full, 'kafka_sidecar_queue_records'),
    queuedBytes: metricSum(full, 'kafka_sidecar_queue_bytes'),
    batchesInFlight: metricSum(full, 'kafka_sidecar_batches_in_flight'),
    backpressureRefusals: metricSum(full, 'kafka_sidecar_errors_total', 'code="RESOURCE_EXHAUSTED"'),
    sendsWaiting: senders.reduce((n, s) => n + s.attempted - s.acked.length - s.failures.length, 0),
  }

  const sigtermAt = Date.now()
  sidecar.signal('SIGTERM')
  if (brokersBackAfterMs !== null) setTimeout(() => void cluster.startBrokers(), brokersBackAfterMs)
  const exit = await sidecar.exited
  const exitMs = Date.now() - sigtermAt
  const stopped = /^stopped: (\d+) records failed at shutdown$/m.exec(sidecar.stdout())
  await Promise.all(senders.map((s) => s.stop()))
  for (const p of producers) await p.disconnect()
  if (brokersBackAfterMs === null) await cluster.startBrokers()

  const records = await cluster.records(topic)
  const ackedValues = senders.flatMap((s) => s.acked.map((a) => a.value))
  const failures = senders.flatMap((s) => s.failures)
  const attempted = new Set([...ackedValues, ...failures.map((f) => f.value)])
  const result = account(
    records,
    attempted,
    ackedValues,
    failures.map((f) => f.value),
  )
  const shutDownFailures = failures.filter((f) => /sidecar shut down/.test(f.error.message))
  const summary = {
    brokersBackAfterMs,
    exitCode: exit.code,
    exitMs,
    limitMs: SHUTDOWN_TIMEOUT_MS + SHUTDOWN_GRACE_MS + EXIT_MARGIN_MS,
    sidecarFailedAtShutdown: stopped ? Number(stopped[1]) : null,
    atSigterm,
    attempted: senders.reduce((n, s) => n + s.attempted, 0),
    acked: ackedValues.length,
    ackedDuringOutage: acked() - ackedBeforeOutage,
    failed: failures.length,
    failedAtShutdownByClient: shutDownFailures.length,
    failedButStored: result.failedButStored,
    duplicates: result.duplicates,
    failureKinds: tally(failures, (f) => `${f.error.name}: ${f.error.message.replace(/\d+/g, 'N').slice(0, 70)}`),
    fallbacks: tally(fallbacks, (f) => f.reason.slice(0, 60)),
    durationMs: Date.now() - started,
  }
  return { summary, records, result, reports, senders, ackedValues, failures, shutDownFailures, exit, exitMs }
}

describe('SIGTERM with a full queue', () => {
  it(
    'brokers stay down: queued records are failed to their callers at the deadline, the rest falls back, and the sidecar exits 0 in time',
    { timeout: 45_000 },
    async ({ annotate }) => {
      const run = await fullSidecarThenSigterm(null)
      const s = JSON.stringify(run.summary)
      await annotate(s)
      expect(run.summary.atSigterm.queuedRecords + run.summary.atSigterm.batchesInFlight, s).toBeGreaterThan(0)
      expect(run.summary.atSigterm.sendsWaiting, s).toBeGreaterThan(MAX_QUEUED_RECORDS)
      expect(run.exit, s).toEqual({ code: 0, signal: null })
      expect(run.exitMs, s).toBeGreaterThanOrEqual(SHUTDOWN_TIMEOUT_MS) // it did try to flush
      expect(run.exitMs, s).toBeLessThanOrEqual(run.summary.limitMs)
      // Nothing lost silently.
      expect(run.summary.attempted, s).toBe(run.summary.acked + run.summary.failed)
      expect(run.result.ackedMissing, s).toEqual([])
      expect(run.result.unknownStored, s).toEqual([])
      expect(
        checkReportOutcomes(
          run.reports,
          run.records,
          new Set(run.ackedValues),
          new Set(run.failures.map((f) => f.value)),
        ),
        s,
      ).toEqual([])
      // What the sidecar failed at shutdown is what its callers were told failed, and none was written.
      expect(run.summary.sidecarFailedAtShutdown, s).toBeGreaterThan(0)
      expect(run.shutDownFailures.length, s).toBe(run.summary.sidecarFailedAtShutdown)
      for (const f of run.shutDownFailures) expect((f.error as { retriable?: boolean }).retriable, s).toBe(true)
      const stored = new Set(run.records.map((r) => r.value!.toString()))
      expect(
        run.shutDownFailures.filter((f) => stored.has(f.value)).map((f) => f.value),
        s,
      ).toEqual([])
    },
  )

  it(
    'brokers return during the flush: the queued records are delivered, none failed by the sidecar, and it exits 0 early',
    { timeout: 45_000 },
    async ({ annotate }) => {
      const run = await fullSidecarThenSigterm(300)
      const s = JSON.stringify(run.summary)
      await annotate(s)
      expect(run.summary.atSigterm.queuedRecords + run.summary.atSigterm.batchesInFlight, s).toBeGreaterThan(0)
      expect(run.exit, s).toEqual({ code: 0, signal: null })
      expect(run.exitMs, s).toBeLessThan(SHUTDOWN_TIMEOUT_MS + EXIT_MARGIN_MS)
      expect(run.summary.sidecarFailedAtShutdown, s).toBe(0)
      expect(run.shutDownFailures, s).toEqual([])
      expect(run.summary.attempted, s).toBe(run.summary.acked + run.summary.failed)
      expect(run.result.ackedMissing, s).toEqual([])
      expect(run.result.unknownStored, s).toEqual([])
      expect(
        checkReportOutcomes(
          run.reports,
          run.records,
          new Set(run.ackedValues),
          new Set(run.failures.map((f) => f.value)),
        ),
        s,
      ).toEqual([])
    },
  )
})
