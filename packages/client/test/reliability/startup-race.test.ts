/**
 * The application starts before its sidecar, as in a pod whose containers start in any order:
 * a client producer in sidecar mode connects while no sidecar exists (connect() waits
 * connectTimeoutMs, then opens the breaker and sends directly) and sends continuously. The
 * sidecar (the CLI as a child process) starts later and takes the traffic; then it is restarted
 * the way Kubernetes restarts a container (SIGTERM, exit, a new process on the same socket) twice
 * while the application keeps sending. Checked:
 * - no send fails, every acked record is in the cluster, nothing stored was not sent;
 * - per key, first occurrences are in send order; duplicates no more than the re-sent records;
 * - traffic returns to the sidecar after each start (delivery reports' `path`, breaker events);
 * - each old sidecar exits 0.
 */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { randomTopic, spawnSidecar, startCluster, tempDir, waitFor } from '@kafka-sidecar/test-support'
import type { DeliveryReport } from '../../src/index.js'
import { KeyedSender } from '../fault-helpers.js'
import { connectedProducer } from '../helpers.js'
import { account, checkReportOutcomes, outcomeUnknown, tally } from './support.js'

const KEYS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel']
const RESTARTS = 2
const CONNECT_TIMEOUT_MS = 1_000

describe('startup race', () => {
  it(
    `application first, sidecar later, then ${RESTARTS} SIGTERM restarts under load: nothing lost, traffic returns to the sidecar each time`,
    { timeout: 45_000 },
    async ({ annotate }) => {
      const started = Date.now()
      const cluster = await startCluster()
      const topic = randomTopic('race')
      await cluster.createTopic({ topic, partitions: 3 })
      const socket = join(await tempDir(), 'sidecar.sock')

      const reports: Array<DeliveryReport & { at: number }> = []
      const fallbacks: Array<{ reason: string; records: number }> = []
      const breaker: Array<{ state: string; at: number }> = []
      const connectStarted = Date.now()
      const producer = await connectedProducer({
        cluster,
        mode: 'sidecar',
        address: `unix://${socket}`,
        config: { onDelivery: (r) => void reports.push({ ...r, at: Date.now() }) },
        sidecar: {
          connectTimeoutMs: CONNECT_TIMEOUT_MS,
          requestTimeoutMarginMs: 2_000,
          breaker: { resetTimeoutMs: 300, rollingCountTimeoutMs: 1_000 },
        },
      })
      const connectMs = Date.now() - connectStarted
      expect(producer.mode).toBe('sidecar')
      expect(producer.breakerState).toBe('open') // no sidecar yet: producing directly
      producer.on(producer.events.FALLBACK, (e) => void fallbacks.push(e.payload))
      for (const type of [
        producer.events.BREAKER_OPEN,
        producer.events.BREAKER_HALF_OPEN,
        producer.events.BREAKER_CLOSE,
      ]) {
        producer.on(type, (e) => void breaker.push({ state: e.payload.state, at: Date.now() }))
      }

      const sender = new KeyedSender(producer, topic, KEYS, { window: 3, pauseMs: 2, timeout: 5_000 })
      sender.start()
      const via = (path: 'sidecar' | 'direct', since: number) =>
        reports.filter((r) => r.path === path && !r.error && r.at >= since).length
      const timeline: Array<Record<string, number | string>> = []
      try {
        await waitFor('records written directly before any sidecar exists', () => via('direct', 0) >= 100, 15_000)

        for (let start = 0; start <= RESTARTS; start++) {
          const spawnAt = Date.now()
          const sidecar = await spawnSidecar(cluster, socket, { KAFKA_SIDECAR_SHUTDOWN_TIMEOUT_MS: '2000' })
          const listeningAt = Date.now()
          await waitFor(`traffic through sidecar #${start + 1}`, () => via('sidecar', listeningAt) >= 1, 15_000)
          const sidecarAgainAt = Date.now()
          await waitFor(`more traffic through sidecar #${start + 1}`, () => via('sidecar', listeningAt) >= 200, 15_000)
          expect(producer.breakerState).toBe('closed')
          if (start === RESTARTS) {
            timeline.push({
              sidecar: start + 1,
              spawnToListeningMs: listeningAt - spawnAt,
              listeningToSidecarTrafficMs: sidecarAgainAt - listeningAt,
            })
            break
          }

          // Restart: SIGTERM, wait for the exit (the application keeps sending meanwhile).
          const termAt = Date.now()
          sidecar.signal('SIGTERM')
          const exit = await sidecar.exited
          const exitMs = Date.now() - termAt
          expect(exit, sidecar.stderr()).toEqual({ code: 0, signal: null })
          await waitFor(
            `records written directly while sidecar #${start + 1} is gone`,
            () => via('direct', termAt) >= 50,
            15_000,
          )
          timeline.push({
            sidecar: start + 1,
            spawnToListeningMs: listeningAt - spawnAt,
            listeningToSidecarTrafficMs: sidecarAgainAt - listeningAt,
            sigtermToExitMs: exitMs,
          })
        }
      } finally {
        await sender.stop()
      }

      await producer.disconnect()
      const records = await cluster.records(topic)
      const acked = sender.acked.map((a) => a.value)
      const result = account(records, new Set([...acked, ...sender.failures.map((f) => f.value)]), acked, [])
      const resent = fallbacks.filter((f) => outcomeUnknown(f.reason)).reduce((n, f) => n + f.records, 0)
      const summary = JSON.stringify({
        connectMs,
        attempted: sender.attempted,
        acked: acked.length,
        failed: sender.failures.length,
        viaSidecar: via('sidecar', 0),
        viaDirect: via('direct', 0),
        stored: records.length,
        duplicates: result.duplicates,
        resentAfterUnknownOutcome: resent,
        maxSettleMs: sender.maxSettleMs,
        timeline,
        breakerTransitions: tally(breaker, (b) => b.state),
        fallbacks: tally(fallbacks, (f) => f.reason.slice(0, 60)),
        failures: sender.failures.slice(0, 3).map((f) => f.error.message),
        durationMs: Date.now() - started,
      })
      await annotate(summary)

      expect(connectMs, summary).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 50)
      expect(connectMs, summary).toBeLessThan(CONNECT_TIMEOUT_MS + 3_000)
      expect(sender.failures, summary).toEqual([])
      expect(sender.attempted, summary).toBe(acked.length)
      expect(result.ackedMissing, summary).toEqual([])
      expect(result.unknownStored, summary).toEqual([])
      expect(result.violations, summary).toEqual([])
      expect(result.duplicates, summary).toBeLessThanOrEqual(resent)
      expect(checkReportOutcomes(reports, records, new Set(acked), new Set()), summary).toEqual([])
      // The breaker followed the sidecar: closed once per sidecar start, opened once per stop.
      expect(breaker.filter((b) => b.state === 'closed').length, summary).toBeGreaterThanOrEqual(RESTARTS + 1)
      expect(breaker.filter((b) => b.state === 'open').length, summary).toBeGreaterThanOrEqual(RESTARTS)
      expect(sender.maxSettleMs, summary).toBeLessThanOrEqual(5_000 + 2_000 + 3_000)
    },
  )
})
