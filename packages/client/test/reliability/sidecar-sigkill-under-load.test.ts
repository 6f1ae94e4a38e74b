/**
 * The sidecar SIGKILLed again and again under load from 8 application processes. Each worker is
 * a forked process with a client producer in sidecar mode, sending continuously with per-key
 * sequence numbers and telling the test over IPC which records were acked. The sidecar is the
 * CLI as a child process; it is killed with SIGKILL (no shutdown of any kind) three times and
 * restarted on the same socket each time. Checked against what the cluster stored:
 * - every record acknowledged to a caller is in the cluster, and nothing stored was not sent;
 * - per key, first occurrences are in send order (re-sends may repeat a record, never reorder);
 * - duplicates are counted, and there are no more than the records whose sends were in flight
 *   on a stream a kill broke (re-sent directly, at-least-once);
 * - no send hangs (each settles within its timeout plus the client's margin), every worker
 *   finishes and exits 0, and traffic returns to the sidecar after each restart.
 */
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import {
  type ChildSidecar,
  randomTopic,
  spawnSidecar,
  startCluster,
  tempDir,
  waitFor,
} from '@kafka-sidecar/test-support'
import type { LoadWorkerConfig, WorkerToParent } from './load-worker.js'
import { account, forkWorker, outcomeUnknown, tally, type WorkerHandle } from './support.js'

const WORKERS = 8
const KILLS = 3
const KEYS_PER_WORKER = 4
const WINDOW = 3
const SEND_TIMEOUT_MS = 5_000
/** The client's requestTimeoutMarginMs in load-worker.ts. */
const MARGIN_MS = 2_000
const workerScript = fileURLToPath(new URL('./load-worker.ts', import.meta.url))

interface WorkerState {
  handle: WorkerHandle
  /** `mode/breakerState` once connected. */
  ready: string | null
  acked: string[]
  failed: Array<{ value: string; error: string }>
  sidecarReports: number
  directReports: number
  fallbacks: Array<{ reason: string; records: number }>
  done: { attempted: number; maxSettleMs: number; reportErrors: number } | null
}

describe('sidecar SIGKILLed under load', () => {
  it(
    `${WORKERS} worker processes keep producing through ${KILLS} SIGKILLs and restarts: nothing acked is lost, order per key holds, duplicates bounded, no caller hangs`,
    { timeout: 60_000 },
    async ({ annotate }) => {
      const testStarted = Date.now()
      const cluster = await startCluster()
      const topic = randomTopic('sigkill')
      await cluster.createTopic({ topic, partitions: 6 })
      const socket = join(await tempDir(), 'sidecar.sock')
      let sidecar: ChildSidecar = await spawnSidecar(cluster, socket)

      const workers: WorkerState[] = []
      for (let id = 0; id < WORKERS; id++) {
        const config: LoadWorkerConfig = {
          id,
          brokers: cluster.bootstrapServers,
          address: sidecar.address,
          topic,
          keys: KEYS_PER_WORKER,
          window: WINDOW,
          timeoutMs: SEND_TIMEOUT_MS,
        }
        const state: WorkerState = {
          handle: undefined as never,
          ready: null,
          acked: [],
          failed: [],
          sidecarReports: 0,
          directReports: 0,
          fallbacks: [],
          done: null,
        }
        state.handle = forkWorker(workerScript, id, { LOAD_WORKER_CONFIG: JSON.stringify(config) }, (raw) => {
          const m = raw as WorkerToParent
          if (m.type === 'ready') state.ready = `${m.mode}/${m.breakerState}`
          else if (m.type === 'progress') {
            state.acked.push(...m.acked)
            state.failed.push(...m.failed)
            state.sidecarReports = m.sidecarReports
            state.directReports = m.directReports
          } else if (m.type === 'fallbacks') state.fallbacks.push(...m.reasons)
          else state.done = { attempted: m.attempted, maxSettleMs: m.maxSettleMs, reportErrors: m.reportErrors }
        })
        workers.push(state)
      }
      const describeWorkers = () =>
        workers
          .map(
            (w) =>
              `w${w.handle.id}: ready ${w.ready}, alive ${w.handle.alive()}, acked ${w.acked.length}, stderr ${w.handle.stderr().slice(-300)}`,
          )
          .join('\n')
      /** waitFor, with every worker's state at the time of a timeout. */
      const waitWorkers = async (what: string, condition: () => boolean, timeoutMs: number) => {
        try {
          await waitFor(what, condition, timeoutMs)
        } catch (error) {
          throw new Error(`${(error as Error).message}\n${describeWorkers()}`)
        }
      }
      await waitWorkers(`every worker connected`, () => workers.every((w) => w.ready !== null), 30_000)
      expect(workers.map((w) => w.ready)).toEqual(workers.map(() => 'sidecar/closed'))
      const startupMs = Date.now() - testStarted
      for (const w of workers) w.handle.send({ type: 'go' })

      const sum = (f: (w: WorkerState) => number) => workers.reduce((n, w) => n + f(w), 0)
      const cycles: Array<{ ackedBefore: number; toFirstDirectAckMs: number; toSidecarAgainMs: number }> = []
      for (let kill = 0; kill < KILLS; kill++) {
        // Every worker is writing through the (new) sidecar.
        const sidecarBase = workers.map((w) => w.sidecarReports)
        await waitWorkers(
          `sidecar traffic from every worker before kill ${kill + 1}`,
          () => workers.every((w, i) => w.sidecarReports >= sidecarBase[i]! + 20),
          20_000,
        )

        const ackedBefore = sum((w) => w.acked.length)
        const directBase = sum((w) => w.directReports)
        const killedAt = Date.now()
        await sidecar.kill()
        await waitFor(
          `records written directly after kill ${kill + 1}`,
          () => sum((w) => w.directReports) > directBase,
          15_000,
        )
        const toFirstDirectAckMs = Date.now() - killedAt
        await waitFor(
          `every worker writing directly after kill ${kill + 1}`,
          () => workers.every((w) => w.directReports > 0),
          15_000,
        )

        sidecar = await spawnSidecar(cluster, socket)
        const restartedAt = Date.now()
        const afterRestart = workers.map((w) => w.sidecarReports)
        await waitWorkers(
          `every worker back on the sidecar after restart ${kill + 1}`,
          () => workers.every((w, i) => w.sidecarReports > afterRestart[i]!),
          20_000,
        )
        cycles.push({ ackedBefore, toFirstDirectAckMs, toSidecarAgainMs: Date.now() - restartedAt })
      }

      // Stop: every worker must finish its sends, report, disconnect and exit 0.
      const stopAt = Date.now()
      for (const w of workers) w.handle.send({ type: 'stop' })
      const exits = await Promise.race([
        Promise.all(workers.map((w) => w.handle.exited)),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 15_000)),
      ])
      expect(exits, `workers still running 15 s after stop\n${describeWorkers()}`).not.toBeNull()
      const stopMs = Date.now() - stopAt
      expect(
        exits!.map((e) => e.code),
        describeWorkers(),
      ).toEqual(workers.map(() => 0))
      expect(workers.every((w) => w.done !== null)).toBe(true)

      // What the callers were told against what the cluster stored.
      const records = await cluster.records(topic)
      const attempted = new Set<string>()
      for (const w of workers) {
        for (let k = 0; k < KEYS_PER_WORKER; k++) {
          // Every n below a key's highest attempted n was attempted: KeyedSender counts per key from 0.
          const values = [...w.acked, ...w.failed.map((f) => f.value)].filter((v) =>
            v.startsWith(`w${w.handle.id}-k${k}:`),
          )
          const highest = Math.max(-1, ...values.map((v) => Number(v.split(':')[1])))
          for (let n = 0; n <= highest; n++) attempted.add(`w${w.handle.id}-k${k}:${n}`)
        }
      }
      const acked = workers.flatMap((w) => w.acked)
      const failed = workers.flatMap((w) => w.failed)
      const result = account(
        records,
        attempted,
        acked,
        failed.map((f) => f.value),
      )
      const attemptedTotal = sum((w) => w.done!.attempted)
      const fallbackReasons = tally(
        workers.flatMap((w) => w.fallbacks),
        (f) =>
          f.reason
            .replace(/request \d+/, 'request N')
            .replace(/\d+ ms/, 'N ms')
            .slice(0, 70),
      )
      const resent = workers
        .flatMap((w) => w.fallbacks)
        .filter((f) => outcomeUnknown(f.reason))
        .reduce((n, f) => n + f.records, 0)
      // Of those, sends caught in flight by a kill (the stream broke under them).
      const caughtByKill = workers
        .flatMap((w) => w.fallbacks)
        .filter((f) => /ECONNRESET|Connection dropped|ended the stream/.test(f.reason))
        .reduce((n, f) => n + f.records, 0)
      const maxSettleMs = Math.max(...workers.map((w) => w.done!.maxSettleMs))
      const summary = JSON.stringify({
        workers: WORKERS,
        kills: KILLS,
        attempted: attemptedTotal,
        acked: acked.length,
        failed: failed.length,
        stored: records.length,
        storedUnique: result.stored,
        duplicates: result.duplicates,
        resentAfterUnknownOutcome: resent,
        caughtInFlightByKill: caughtByKill,
        maxSettleMs,
        startupMs,
        cycles,
        stopMs,
        durationMs: Date.now() - testStarted,
        fallbackReasons,
        failures: tally(failed, (f) => f.error.slice(0, 80)),
      })
      await annotate(summary)

      expect(attemptedTotal, summary).toBe(acked.length + failed.length)
      expect(failed, summary).toEqual([]) // the cluster stayed up: the direct path took every record
      expect(result.ackedMissing, summary).toEqual([])
      expect(result.unknownStored, summary).toEqual([])
      expect(result.violations, summary).toEqual([])
      expect(caughtByKill, summary).toBeGreaterThan(0) // sends were in flight at the kills: the at-least-once path ran
      // Only records whose send was in flight on a stream a kill broke can have been written twice.
      expect(result.duplicates, summary).toBeLessThanOrEqual(caughtByKill)
      expect(records.length, summary).toBe(result.stored + result.duplicates)
      expect(result.stored, summary).toBe(attemptedTotal) // nothing failed, so everything attempted is stored
      expect(maxSettleMs, summary).toBeLessThanOrEqual(SEND_TIMEOUT_MS + MARGIN_MS + 3_000)
      expect(
        sum((w) => w.done!.reportErrors),
        summary,
      ).toBe(0)
      expect(acked.length, summary).toBeGreaterThan(KILLS * WORKERS * 40) // there was load through every kill
    },
  )
})
