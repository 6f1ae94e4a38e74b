/**
 * The rows of the fault matrix (issue 13): how each fault is made, and the targets it must meet
 * beyond those every row has (0 lost; duplicates only of records whose outcome was unknown).
 */
import { unlink } from 'node:fs/promises'
import { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import type { ClusterMismatchPolicy } from '../../../src/index.js'
import type { Measured } from './measure.js'
import type { FaultRow } from './row-runner.js'

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`

export function sidecarDead({ downMs = 3_000 } = {}): FaultRow {
  return {
    number: 1,
    id: 'dead',
    title: `sidecar dead: SIGKILL, restarted after ${seconds(downMs)}`,
    returnsToSidecar: true,
    async inject(ctx) {
      await ctx.sidecar.kill()
      ctx.mark('SIGKILL')
      await ctx.sleep(downMs)
      await ctx.startSidecar()
      ctx.mark('new sidecar listening')
    },
    targets: () => [],
  }
}

export function sidecarHung({ stoppedMs = 30_000, maxGapMs = 3_000 } = {}): FaultRow {
  return {
    number: 2,
    id: 'hung',
    title: `sidecar hung: SIGSTOP for ${seconds(stoppedMs)}, then SIGCONT`,
    returnsToSidecar: true,
    async inject(ctx) {
      ctx.sidecar.signal('SIGSTOP')
      ctx.mark('SIGSTOP')
      await ctx.sleep(stoppedMs)
      ctx.sidecar.signal('SIGCONT')
      ctx.mark('SIGCONT')
    },
    targets: (m) => [
      {
        name: `longest gap <= ${seconds(maxGapMs)}`,
        met: m.longestGapMs !== null && m.longestGapMs <= maxGapMs,
        measured: gapText(m),
      },
      { name: '0 failed', met: m.failed === 0, measured: failedText(m) },
    ],
  }
}

/**
 * Every answer from the sidecar (acks, health, HTTP/2 PING acks) late by `delayMs`, through the
 * delaying proxy. Slow is not dead: the client must keep using the sidecar.
 */
export function sidecarSlow({ delayMs = 300, forMs = 15_000 } = {}): FaultRow {
  return {
    number: 3,
    id: 'slow',
    title: `sidecar slow: every answer ${delayMs} ms late for ${seconds(forMs)} (delaying proxy)`,
    viaProxy: true,
    returnsToSidecar: true,
    async inject(ctx) {
      await ctx.proxy!.setDelay(delayMs)
      ctx.mark(`proxy delays the sidecar's answers by ${delayMs} ms`)
      await ctx.sleep(forMs)
      ctx.faultEnds()
      const stats = await ctx.proxy!.stats()
      await ctx.proxy!.setDelay(0)
      ctx.mark(
        `delay off (proxy lag beyond the delay: max ${stats.maxLatenessMs} ms, mean ${stats.meanLatenessMs} ms over ${stats.chunksDelayed} chunks; connections closed by the clients ${stats.closed.byClient}, by the sidecar ${stats.closed.bySidecar}, by an error ${stats.closed.byError})`,
      )
    },
    targets: (m) => [
      {
        name: 'not mistaken for a hung sidecar: no fallback, breaker never opened',
        met:
          m.resentAfterSidecarFailure.records === 0 &&
          fallbackRecords(m) === 0 &&
          m.breakerOpens === 0 &&
          m.paths.direct === 0,
        measured: `${fallbackRecords(m)} records fell back, breaker opened ${m.breakerOpens} times, ${m.paths.direct} written directly`,
      },
      {
        name: `the delay was applied (p50 during it >= ${delayMs} ms)`,
        met: (m.latencyMs.p50DuringFault ?? 0) >= delayMs,
        measured: `p50 ${m.latencyMs.p50DuringFault} ms, p99 ${m.latencyMs.p99DuringFault} ms during the delay`,
      },
    ],
  }
}

/**
 * Killed again and again: each new sidecar serves for `everyMs` after it listens, then SIGKILL,
 * until `forMs` have passed. How many kills that makes depends on how long a start takes.
 */
export function restartLoop({ everyMs = 2_000, forMs = 20_000 } = {}): FaultRow {
  return {
    number: 4,
    id: 'restart-loop',
    title: `restart loop: SIGKILL, restart, ${seconds(everyMs)} up, again, for ${seconds(forMs)}`,
    returnsToSidecar: true,
    async inject(ctx) {
      const until = Date.now() + forMs
      let kills = 0
      while (Date.now() < until) {
        await ctx.sidecar.kill()
        ctx.mark(`SIGKILL ${++kills}`)
        await ctx.startSidecar()
        ctx.mark(`sidecar ${kills + 1} listening`)
        if (Date.now() + everyMs < until) await ctx.sleep(everyMs)
        else break
      }
    },
    targets: () => [],
  }
}

/**
 * The socket file unlinked under a running sidecar (a cleanup job, a volume remount): open
 * connections keep working, new ones fail with ENOENT. Restored by restarting the sidecar
 * (SIGTERM, as a supervisor does, then a new process on the same path).
 */
export function socketRemoved({ removedMs = 8_000 } = {}): FaultRow {
  return {
    number: 5,
    id: 'socket-removed',
    title: `socket file removed for ${seconds(removedMs)}, then the sidecar restarted (SIGTERM, new process)`,
    returnsToSidecar: true,
    async inject(ctx) {
      await unlink(ctx.socket)
      ctx.mark('socket file removed')
      await ctx.sleep(removedMs)
      ctx.mark('SIGTERM to the sidecar')
      const exit = await ctx.sidecar.terminate()
      ctx.mark(`old sidecar exited (code ${exit.code}, signal ${exit.signal})`)
      await ctx.startSidecar()
      ctx.mark('new sidecar listening')
    },
    targets: () => [],
  }
}

const RIGHT_TOKEN = 'fault-matrix-right-token-0001'
const WRONG_TOKEN = 'fault-matrix-wrong-token-0002'

export function wrongToken({ forMs = 10_000 } = {}): FaultRow {
  return {
    number: 6,
    id: 'wrong-token',
    title: `wrong token: the workers send another token than the sidecar's (${seconds(forMs)} of load)`,
    sidecarEnv: { KAFKA_SIDECAR_TOKEN: RIGHT_TOKEN },
    clientToken: WRONG_TOKEN,
    returnsToSidecar: false,
    async inject(ctx) {
      ctx.mark('load with the wrong token')
      await ctx.sleep(forMs)
    },
    targets: (m) => {
      const refused = Object.entries(m.failures)
        .filter(([label]) => /UNAUTHENTICATED/.test(label))
        .reduce((n, [, count]) => n + count, 0)
      return [
        {
          name: 'every send refused with the auth error',
          met: m.completed === 0 && m.failed > 0 && refused === m.failed,
          measured: `${m.completed} completed, ${m.failed} failed, ${refused} of them UNAUTHENTICATED`,
        },
        {
          name: 'none sent directly',
          met: m.paths.direct === 0 && fallbackRecords(m) === 0 && m.stored === 0,
          measured: `${fallbackRecords(m)} fell back, ${m.paths.direct} written directly, ${m.stored} stored`,
        },
        { name: 'breaker untouched', met: m.breakerOpens === 0, measured: `opened ${m.breakerOpens} times` },
      ]
    },
  }
}

export function brokersDown({ downMs = 10_000 } = {}): FaultRow {
  return {
    number: 7,
    id: 'brokers-down',
    title: `brokers down behind a live sidecar: all 3 stopped for ${seconds(downMs)}, then started`,
    returnsToSidecar: true,
    async inject(ctx) {
      await ctx.cluster.stopBrokers()
      ctx.mark('all brokers stopped')
      await ctx.sleep(downMs)
      await ctx.cluster.startBrokers()
      ctx.mark('brokers started')
    },
    targets: () => [],
  }
}

/**
 * The sidecar restarted (SIGTERM, as a redeploy does) against another cluster than the
 * application's for `forMs`, then restarted against the right one. The workers run with
 * `clusterMismatch: policy`. The client asks a sidecar which cluster it writes to whenever it
 * takes it (back) into use: at connect, at each half-open probe, and before the first send after
 * its channel reconnected. With `refuse` nothing may reach the other cluster and nothing be lost
 * (the workers write directly meanwhile); with `warn` the workers are told (error log, metric,
 * event) and keep sending through the sidecar, so what it acked is in the other cluster and
 * counts as lost here.
 */
export function otherCluster({ forMs = 10_000, policy = 'refuse' as ClusterMismatchPolicy } = {}): FaultRow {
  let storedInOther: number | null = null
  return {
    number: 8,
    id: 'other-cluster',
    title: `sidecar pointed at another cluster for ${seconds(forMs)}: restarted against it, then back (clusterMismatch: ${policy})`,
    client: { clusterMismatch: policy },
    returnsToSidecar: true,
    async inject(ctx) {
      const other = await EmbeddedKafka.start({ brokers: 1 })
      try {
        await ctx.sidecar.terminate()
        ctx.mark('sidecar stopped (SIGTERM)')
        await ctx.startSidecar({ brokers: other.bootstrapServers })
        ctx.mark('sidecar listening, pointed at another cluster')
        await ctx.sleep(forMs)
        // After its drain: what the wrong sidecar wrote, it has written by its exit.
        await ctx.sidecar.terminate()
        storedInOther = other.topics().includes(ctx.topic) ? (await other.records(ctx.topic)).length : 0
        ctx.mark(`sidecar stopped (SIGTERM); ${storedInOther} records in the other cluster`)
        await ctx.startSidecar()
        ctx.mark('sidecar pointed at the right cluster again')
      } finally {
        await other.stop()
      }
    },
    targets: (m, run) => {
      const told = {
        name: 'every worker told (CLUSTER_MISMATCH event)',
        met: run.clusterMismatches.workers === run.clusterMismatches.of,
        measured: `${run.clusterMismatches.workers} of ${run.clusterMismatches.of} workers, ${run.clusterMismatches.events} events`,
      }
      if (policy === 'refuse')
        return [
          told,
          {
            name: 'nothing written to the other cluster',
            met: storedInOther === 0,
            measured: `${storedInOther ?? 'n/a'} records`,
          },
        ]
      return [
        told,
        {
          name: "what the application's cluster lacks is in the other cluster",
          met: storedInOther !== null && m.lost.ackedMissing <= storedInOther,
          measured: `${m.lost.ackedMissing} acked but not in the application's cluster, ${storedInOther ?? 'n/a'} in the other`,
        },
      ]
    },
  }
}

/** The matrix as the issue lists it. */
export function defaultRows({
  slowDelayMs = 300,
  clusterMismatch = 'refuse' as ClusterMismatchPolicy,
} = {}): FaultRow[] {
  return [
    sidecarDead(),
    sidecarHung(),
    sidecarSlow({ delayMs: slowDelayMs }),
    restartLoop(),
    socketRemoved(),
    wrongToken(),
    brokersDown(),
    otherCluster({ policy: clusterMismatch }),
  ]
}

function fallbackRecords(m: Measured): number {
  return Object.values(m.fallbackReasons).reduce((n, c) => n + c, 0)
}

function gapText(m: Measured): string {
  if (m.longestGapMs === null) return 'nothing completed'
  return `${m.longestGapMs} ms, starting ${m.longestGapFromFaultMs} ms after the fault began`
}

function failedText(m: Measured): string {
  const top = Object.entries(m.failures).sort((a, b) => b[1] - a[1])[0]
  return `${m.failed} failed${top ? ` (most: ${top[1]} x ${top[0]})` : ''}`
}
