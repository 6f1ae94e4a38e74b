/**
 * Runs one fault row: a fresh embedded cluster (3 brokers, one 6-partition topic), the sidecar
 * CLI as a child process on a temp-dir Unix socket, optionally the delaying proxy in front of
 * it, N forked load workers (client producers in sidecar mode) sending continuously; then the
 * row's fault under that load, a recovery period, a stop (every worker settles its sends,
 * disconnects and exits), and the accounting against what the cluster stored. Every child is
 * killed by PID at the end of the row, whatever happened.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import { randomTopic, sidecarReady, waitFor } from '@kafka-sidecar/test-support'
import type { SidecarClientOptions } from '../../../src/index.js'
import type { DelayingProxyStats } from '../delaying-proxy.js'
import type { LoadWorkerConfig, WorkerToParent } from '../load-worker.js'
import type { ChildProcesses, ForkedChild, SidecarChild } from '../processes.js'
import { measure, type Measured, type WorkerRecord } from './measure.js'

const workerScript = fileURLToPath(new URL('../load-worker.ts', import.meta.url))
const proxyScript = fileURLToPath(new URL('../delaying-proxy-process.ts', import.meta.url))

export interface MatrixSettings {
  readonly workers: number
  readonly keysPerWorker: number
  /** Sends of one key in flight at once. */
  readonly window: number
  /** Pause after a send settles before the key's next one (2 ms: as fast as it goes). */
  readonly pauseMs: number
  /** The sends' KafkaJS `timeout`. */
  readonly sendTimeoutMs: number
  /** Client options besides mode, address and token; `{}` is the client's defaults. */
  readonly client: Omit<SidecarClientOptions, 'mode' | 'address' | 'token'>
  /** Load before the fault. */
  readonly warmupMs: number
  /** Load after the fault, at least (longer while waiting for the workers to return to the sidecar). */
  readonly recoveryMs: number
  /** How long to wait for every worker to send through the sidecar again after the fault. */
  readonly returnTimeoutMs: number
  readonly sidecarFrom: 'built' | 'source'
  readonly log: (line: string) => void
}

export interface Target {
  readonly name: string
  readonly met: boolean
  readonly measured: string
}

export interface FaultContext {
  readonly cluster: EmbeddedKafka
  /** The topic the workers write to. */
  readonly topic: string
  readonly socket: string
  /** The sidecar running now. */
  readonly sidecar: SidecarChild
  /**
   * Starts a sidecar on the row's socket (the previous one must be gone) and makes it current;
   * `brokers` points it at another cluster than the row's.
   */
  startSidecar(options?: { brokers?: string[] }): Promise<SidecarChild>
  /** The delaying proxy, for rows that run through it. */
  readonly proxy: { setDelay(ms: number): Promise<void>; stats(): Promise<DelayingProxyStats> } | null
  /** The fault begins / ends now (by default the whole of `inject`). */
  faultStarts(): void
  faultEnds(): void
  /** An event on the row's timeline (ms from the fault's start). */
  mark(event: string): void
  sleep(ms: number): Promise<void>
}

export interface FaultRow {
  /** Row number in the table, as the issue numbers them. */
  readonly number: number
  readonly id: string
  readonly title: string
  /** Set for a row not measured yet: why (the table shows it instead of numbers). */
  readonly pending?: string
  readonly sidecarEnv?: Record<string, string>
  /** Token the workers send (the sidecar's own is in sidecarEnv). */
  readonly clientToken?: string
  /** Client options of this row's workers beyond the matrix's (e.g. clusterMismatch). */
  readonly client?: Omit<SidecarClientOptions, 'mode' | 'address' | 'token'>
  /** Workers reach the sidecar through the delaying proxy (delay 0 until the fault sets one). */
  readonly viaProxy?: boolean
  /** Every worker should be sending through the sidecar again after the fault. */
  readonly returnsToSidecar: boolean
  inject(ctx: FaultContext): Promise<void>
  /** Targets of this row beyond those of every row (0 lost, duplicates only of unknown outcome). */
  targets(m: Measured, run: RowRun): Target[]
}

/** What the row's run saw besides the accounting. */
export interface RowRun {
  readonly startupMs: number
  readonly faultMs: number
  /** From the fault's end until every worker had written through the sidecar again; null if not (or not expected). */
  readonly backOnSidecarMs: number | null
  /** Events of the fault, each with the workers' totals at that moment. */
  readonly timeline: Array<{
    atMs: number
    event: string
    acked: number
    failed: number
    viaSidecar: number
    viaDirect: number
  }>
  readonly workerProblems: string[]
  readonly proxy: DelayingProxyStats | null
  readonly sidecarExits: Array<{ pid: number; code: number | null; signal: string | null }>
  /** producer.events.CLUSTER_MISMATCH: how many the workers got, and how many workers got one. */
  readonly clusterMismatches: { events: number; workers: number; of: number }
}

export interface RowResult extends Measured, RowRun {
  readonly number: number
  readonly id: string
  readonly title: string
  readonly workers: number
  readonly durationMs: number
  readonly targets: Target[]
}

export interface PendingRow {
  readonly number: number
  readonly id: string
  readonly title: string
  readonly pending: string
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export async function runRow(row: FaultRow, settings: MatrixSettings, processes: ChildProcesses): Promise<RowResult> {
  const log = (line: string) => settings.log(`[${row.number} ${row.id}] ${line}`)
  const rowStarted = Date.now()
  const dir = await mkdtemp(join(tmpdir(), 'kafka-sidecar-faults-'))
  const cluster = await EmbeddedKafka.start({ brokers: 3 })
  const sidecarExits: RowRun['sidecarExits'] = []
  try {
    const topic = randomTopic(`faults-${row.id}`)
    await cluster.createTopic({ topic, partitions: 6 })
    const socket = join(dir, 'sidecar.sock')
    const startSidecar = async (options: { brokers?: string[] } = {}) => {
      const started = await processes.startSidecar({
        brokers: options.brokers ?? cluster.bootstrapServers,
        socket,
        env: row.sidecarEnv,
        from: settings.sidecarFrom,
      })
      void started.exited.then((exit) => sidecarExits.push({ pid: started.pid, ...exit }))
      return started
    }
    let sidecar = await startSidecar()
    await sidecarReady(sidecar.address, 30_000)

    let address = sidecar.address
    let proxy: FaultContext['proxy'] = null
    let proxyStats: DelayingProxyStats | null = null
    let proxyChild: ForkedChild | null = null
    if (row.viaProxy) {
      const proxySocket = join(dir, 'proxy.sock')
      const answers: Array<(message: { type: string; stats?: DelayingProxyStats }) => void> = []
      proxyChild = processes.fork(
        proxyScript,
        { PROXY_LISTEN: proxySocket, PROXY_TARGET: socket, PROXY_DELAY_MS: '0' },
        (m) => answers.shift()?.(m as { type: string; stats?: DelayingProxyStats }),
      )
      const child = proxyChild
      await waitFor('the delaying proxy to listen', () => /^listening: /m.test(child.stdout()), 20_000)
      const ask = <T>(message: unknown, pick: (answer: { type: string; stats?: DelayingProxyStats }) => T) =>
        new Promise<T>((resolve) => {
          answers.push((answer) => resolve(pick(answer)))
          child.send(message)
        })
      proxy = {
        setDelay: (ms) => ask({ type: 'delay', ms }, () => undefined),
        // The row reads the stats of its delay before turning it off; the result keeps those.
        stats: () => ask({ type: 'stats' }, (answer) => (proxyStats = answer.stats!)),
      }
      address = `unix://${proxySocket}`
    }

    // --- the workers -----------------------------------------------------------------------
    const workers: WorkerRecord[] = []
    const handles: ForkedChild[] = []
    for (let id = 0; id < settings.workers; id++) {
      const config: LoadWorkerConfig = {
        id,
        brokers: cluster.bootstrapServers,
        address,
        topic,
        keys: settings.keysPerWorker,
        window: settings.window,
        timeoutMs: settings.sendTimeoutMs,
        pauseMs: settings.pauseMs,
        sidecar: { ...settings.client, ...row.client, ...(row.clientToken ? { token: row.clientToken } : {}) },
      }
      const w: WorkerRecord = {
        id,
        ready: null,
        acked: [],
        ackedAt: [],
        ackedLatencyMs: [],
        failed: [],
        fellBack: [],
        directDelivered: new Set(),
        fallbacks: [],
        attemptedByKey: {},
        breakerOpens: 0,
        sidecarReports: 0,
        directReports: 0,
        breakerState: 'closed',
        clusterMismatches: 0,
        done: false,
        exit: null,
        stderr: '',
      }
      const handle = processes.fork(workerScript, { LOAD_WORKER_CONFIG: JSON.stringify(config) }, (raw) => {
        const m = raw as WorkerToParent
        if (m.type === 'ready') w.ready = `${m.mode}/${m.breakerState}`
        else if (m.type === 'progress') {
          for (let i = 0; i < m.acked.length; i++) {
            w.acked.push(m.acked[i]!)
            w.ackedAt.push(m.ackedAt[i]!)
            w.ackedLatencyMs.push(m.ackedLatencyMs[i]!)
          }
          for (const f of m.failed) w.failed.push(f)
          for (const f of m.fellBackAfterSidecarAttempt) w.fellBack.push(f)
          for (const v of m.directDelivered) w.directDelivered.add(v)
          w.attemptedByKey = m.attemptedByKey
          w.breakerOpens = m.breakerOpens
          w.sidecarReports = m.sidecarReports
          w.directReports = m.directReports
          w.breakerState = m.breakerState
          w.clusterMismatches = m.clusterMismatches
        } else if (m.type === 'fallbacks') for (const f of m.reasons) w.fallbacks.push(f)
        else {
          w.attemptedByKey = m.attemptedByKey
          w.done = true
        }
      })
      void handle.exited.then((exit) => {
        w.exit = exit
        w.stderr = handle.stderr().slice(-1_000)
      })
      workers.push(w)
      handles.push(handle)
    }
    await waitFor('every worker connected', () => workers.every((w) => w.ready !== null || w.exit !== null), 90_000)
    const workerProblems: string[] = []
    for (const w of workers)
      if (w.ready !== 'sidecar/closed')
        workerProblems.push(
          `w${w.id}: connected as ${w.ready ?? `never (exit ${JSON.stringify(w.exit)}: ${w.stderr})`}`,
        )
    const startupMs = Date.now() - rowStarted
    log(`${settings.workers} workers connected after ${(startupMs / 1000).toFixed(1)} s`)

    const goAt = Date.now()
    for (const h of handles) h.send({ type: 'go' })
    if (!row.clientToken)
      await waitFor(
        'every worker writing through the sidecar',
        () => workers.every((w) => w.sidecarReports > 0),
        30_000,
      ).catch((error: Error) => workerProblems.push(error.message))
    await sleep(settings.warmupMs)

    // --- the fault ---------------------------------------------------------------------------
    const timeline: RowRun['timeline'] = []
    let faultStart = Date.now()
    let faultEnd: number | null = null
    const ctx: FaultContext = {
      cluster,
      topic,
      socket,
      get sidecar() {
        return sidecar
      },
      startSidecar: async (options) => {
        sidecar = await startSidecar(options)
        return sidecar
      },
      proxy,
      faultStarts: () => void (faultStart = Date.now()),
      faultEnds: () => void (faultEnd = Date.now()),
      mark: (event) => {
        const sum = (f: (w: WorkerRecord) => number) => workers.reduce((n, w) => n + f(w), 0)
        timeline.push({
          atMs: Date.now() - faultStart,
          event,
          acked: sum((w) => w.acked.length),
          failed: sum((w) => w.failed.length),
          viaSidecar: sum((w) => w.sidecarReports),
          viaDirect: sum((w) => w.directReports),
        })
        log(`+${((Date.now() - faultStart) / 1000).toFixed(1)} s ${event}`)
      },
      sleep,
    }
    log(`fault: ${row.title}`)
    await row.inject(ctx)
    faultEnd ??= Date.now()
    const faultMs = faultEnd - faultStart
    if (proxy && !proxyStats) await proxy.stats()

    // --- recovery ----------------------------------------------------------------------------
    const atFaultEnd = workers.map((w) => w.sidecarReports)
    let backOnSidecarMs: number | null = null
    const returned = () => workers.every((w, i) => w.sidecarReports > atFaultEnd[i]!)
    if (row.returnsToSidecar) {
      await waitFor('every worker back on the sidecar', returned, settings.returnTimeoutMs).then(
        () => void (backOnSidecarMs = Date.now() - faultEnd!),
        () =>
          workerProblems.push(
            `not every worker wrote through the sidecar within ${settings.returnTimeoutMs} ms of the fault's end (${workers.filter((w, i) => w.sidecarReports <= atFaultEnd[i]!).length} did not)`,
          ),
      )
    }
    const recoveryLeft = faultEnd + settings.recoveryMs - Date.now()
    if (recoveryLeft > 0) await sleep(recoveryLeft)

    // --- stop: every worker settles its sends, disconnects, exits 0 --------------------------
    const stopAt = Date.now()
    for (const h of handles) h.send({ type: 'stop' })
    const stopTimeoutMs = settings.sendTimeoutMs + 60_000
    await waitFor('every worker to exit', () => workers.every((w) => w.exit !== null), stopTimeoutMs).catch(
      async () => {
        workerProblems.push(
          `workers still running ${stopTimeoutMs / 1000} s after stop: ${workers
            .filter((w) => w.exit === null)
            .map((w) => `w${w.id}`)
            .join(', ')} (killed)`,
        )
        await Promise.all(handles.map((h) => h.kill()))
      },
    )
    for (const w of workers) {
      if (w.exit?.code !== 0 || !w.done)
        workerProblems.push(
          `w${w.id}: exit ${JSON.stringify(w.exit)}, done ${w.done}${w.stderr ? `, stderr: ${w.stderr.slice(-300)}` : ''}`,
        )
    }
    log(`stopped ${((Date.now() - stopAt) / 1000).toFixed(1)} s after the stop message`)

    const records = await cluster.records(topic)
    const measured = measure(workers, records, { goAt, faultStart, faultEnd, stopAt })
    const clusterMismatches = {
      events: workers.reduce((n, w) => n + w.clusterMismatches, 0),
      workers: workers.filter((w) => w.clusterMismatches > 0).length,
      of: workers.length,
    }
    const run: RowRun = {
      startupMs,
      faultMs,
      backOnSidecarMs,
      timeline,
      workerProblems,
      proxy: proxyStats,
      sidecarExits,
      clusterMismatches,
    }
    const targets: Target[] = [
      {
        name: '0 lost',
        met: measured.lost.total === 0,
        measured: `${measured.lost.total} lost (${measured.lost.ackedMissing} acked but not stored, ${measured.lost.vanished} neither acked, failed nor stored)`,
      },
      {
        name: 'duplicates only of records whose outcome was unknown',
        met: measured.duplicates.other.length === 0,
        measured: `${measured.duplicates.records} duplicated, ${measured.duplicates.unknownOutcome} of them re-sent after an unknown outcome${measured.duplicates.other.length ? `; others: ${measured.duplicates.other.slice(0, 5).join(', ')}` : ''}`,
      },
      {
        name: 'nothing stored that was not sent',
        met: measured.storedUnknown.length === 0,
        measured: `${measured.storedUnknown.length}`,
      },
      {
        name: 'every worker connected, finished and exited 0',
        met: workerProblems.length === 0,
        measured: workerProblems.length === 0 ? 'yes' : workerProblems.join('; '),
      },
      ...row.targets(measured, run),
    ]
    return {
      number: row.number,
      id: row.id,
      title: row.title,
      workers: settings.workers,
      durationMs: Date.now() - rowStarted,
      ...measured,
      ...run,
      targets,
    }
  } finally {
    await processes.killAll()
    await cluster.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
