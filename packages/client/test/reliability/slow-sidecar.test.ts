/**
 * Row 3 of the fault matrix, small enough for CI: a slow sidecar is not a hung one. The client
 * finds a hung sidecar with HTTP/2 keepalive pings (livenessTimeoutMs, 2 s by default); a
 * liveness check like that must not fire on a sidecar that answers everything, only late. Two
 * forked workers (client producers with the client's default settings) send through a proxy
 * that holds every chunk from the sidecar for 300 ms: acks, health answers and PING acks alike.
 * The sends must slow down by the delay and stay on the sidecar: no fallback, the breaker never
 * opens, nothing written directly, nothing failed, lost or duplicated.
 * `pnpm faults --rows 3` runs the same row with 8 workers for 15 s.
 */
import { describe, expect, it, onTestFinished } from 'vitest'
import { runRow } from './fault-matrix/row-runner.js'
import { sidecarSlow } from './fault-matrix/rows.js'
import { ChildProcesses } from './processes.js'

const DELAY_MS = 300

describe('slow sidecar under load', () => {
  it(
    `every answer ${DELAY_MS} ms late: sends slow down and stay on the sidecar (no fallback, breaker closed, nothing lost)`,
    { timeout: 60_000 },
    async ({ annotate }) => {
      const processes = new ChildProcesses()
      onTestFinished(() => processes.killAll())
      const result = await runRow(
        sidecarSlow({ delayMs: DELAY_MS, forMs: 5_000 }),
        {
          workers: 2,
          keysPerWorker: 4,
          window: 3,
          pauseMs: 2,
          sendTimeoutMs: 30_000,
          client: {},
          warmupMs: 1_000,
          recoveryMs: 1_000,
          returnTimeoutMs: 10_000,
          sidecarFrom: 'source',
          log: () => {},
        },
        processes,
      )
      const summary = JSON.stringify({
        completed: result.completed,
        failed: result.failed,
        latencyMs: result.latencyMs,
        longestGapMs: result.longestGapMs,
        paths: result.paths,
        fallbackReasons: result.fallbackReasons,
        breakerOpens: result.breakerOpens,
        duplicates: result.duplicates.records,
        lost: result.lost.total,
        proxy: result.proxy,
        problems: result.workerProblems,
        durationMs: result.durationMs,
      })
      await annotate(summary)

      expect(result.workerProblems, summary).toEqual([])
      // The delay reached the callers: this is a slow sidecar, not a fast one.
      expect(result.latencyMs.p50DuringFault, summary).toBeGreaterThanOrEqual(DELAY_MS)
      expect(result.completed, summary).toBeGreaterThan(100)
      // ...and it was not taken for a hung one.
      expect(result.fallbackReasons, summary).toEqual({})
      expect(result.breakerOpens, summary).toBe(0)
      expect(result.paths.direct, summary).toBe(0)
      expect(result.failed, summary).toBe(0)
      expect(result.lost.total, summary).toBe(0)
      expect(result.duplicates.records, summary).toBe(0)
      expect(
        result.targets.filter((t) => !t.met),
        summary,
      ).toEqual([])
    },
  )
})
