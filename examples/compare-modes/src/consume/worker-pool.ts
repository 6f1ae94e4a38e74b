/**
 * The pod's application processes: N worker slots, each running one consume-worker process at a
 * time. The pool starts them, tells them to consume, restarts one (SIGTERM, wait for its exit,
 * start a new one, wait until it consumes), and passes on what they report.
 */
import { fork, type ChildProcess } from 'node:child_process'
import type {
  ConsumeParentMessage,
  ConsumeWorkerConfig,
  ConsumeWorkerMessage,
  ProcessedRecords,
} from './consume-worker.js'

export type Mode = 'direct' | 'sidecar'

/** How long a worker may take to disconnect after SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 30_000
/** How long a worker told to run may take to process its first record. */
const CONSUMING_TIMEOUT_MS = 120_000

/** `promise`, or an error naming `what` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms / 1000} s`)), ms)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

export interface PoolOptions {
  readonly mode: Mode
  readonly processes: number
  readonly topic: string
  readonly groupId: string
  /** The script to fork with `--consume-worker`, and the Node flags (tsx's loader). */
  readonly workerScript: string
  readonly execArgv: string[]
  /** KAFKA_BROKERS and the TLS/SASL variables, plus the sidecar's address in sidecar mode. */
  readonly env: Readonly<Record<string, string>>
  readonly onProcessed: (records: ProcessedRecords) => void
}

interface Slot {
  child: ChildProcess
  /** A GROUP_JOIN gave this process partitions. */
  hasPartitions: boolean
  /** How many partitions its latest GROUP_JOIN gave it. */
  partitions: number
  /** Resolved at the process's first record after `go`. */
  consuming: Promise<void>
  bye: Promise<void>
}

/** One restart's steps: SIGTERM to exit, fork to connected, run to the first record processed. */
export interface RestartSteps {
  readonly stopMs: number
  readonly startMs: number
  readonly firstRecordMs: number
}

export class WorkerPool {
  private readonly slots: Slot[] = []
  /** GROUP_JOIN events of every worker process so far, and those of the group's leader. */
  groupJoins = 0
  leaderGroupJoins = 0
  /** Processes that did not exit within STOP_TIMEOUT_MS of SIGTERM and were killed. */
  killedOnStop = 0
  firstError: string | null = null

  constructor(private readonly options: PoolOptions) {}

  /** Starts every worker; resolves once each is connected (its consumer's connect() returned). */
  async start(): Promise<void> {
    const started = await Promise.all(Array.from({ length: this.options.processes }, (_, id) => this.fork(id)))
    this.slots.push(...started)
  }

  /**
   * Tells every worker to subscribe and run. Not waiting for each to process a record: with a small
   * backlog the first members may take it all before the last one has partitions.
   */
  go(): void {
    for (const slot of this.slots) slot.child.send({ type: 'go' } satisfies ConsumeParentMessage)
  }

  /**
   * SIGTERM to worker `id`, its exit, a new process in its place, and that one's first record;
   * resolves with how long each step took.
   */
  async restart(id: number): Promise<RestartSteps> {
    const t0 = performance.now()
    await this.stop(this.slots[id]!)
    const t1 = performance.now()
    const slot = await this.fork(id)
    this.slots[id] = slot
    const t2 = performance.now()
    slot.child.send({ type: 'go' } satisfies ConsumeParentMessage)
    await within(slot.consuming, CONSUMING_TIMEOUT_MS, `restarted worker ${id} consuming`)
    return { stopMs: t1 - t0, startMs: t2 - t1, firstRecordMs: performance.now() - t2 }
  }

  /** The partitions the running workers' latest GROUP_JOIN events gave them, summed. */
  partitionsHeld(): number {
    return this.slots.reduce((sum, s) => sum + (s.child.exitCode === null ? s.partitions : 0), 0)
  }

  /** Workers whose process was given partitions since it started. */
  workersWithPartitions(): number {
    return this.slots.filter((s) => s.hasPartitions).length
  }

  pids(): number[] {
    return this.slots.flatMap((s) => (s.child.pid && s.child.exitCode === null ? [s.child.pid] : []))
  }

  /** Every worker disconnects (as on SIGTERM) and exits. */
  async stopAll(): Promise<void> {
    await Promise.all(this.slots.map((s) => this.stop(s)))
  }

  killAll(): void {
    for (const slot of this.slots) if (slot.child.exitCode === null) slot.child.kill('SIGKILL')
  }

  private async stop(slot: Slot): Promise<void> {
    if (slot.child.exitCode !== null) return
    const exited = new Promise<void>((resolve) => slot.child.once('exit', () => resolve()))
    const timer = setTimeout(() => {
      this.killedOnStop++
      slot.child.kill('SIGKILL')
    }, STOP_TIMEOUT_MS)
    slot.child.kill('SIGTERM')
    // Its last report comes before `bye`; a killed process sends none.
    await Promise.race([slot.bye, exited])
    await exited
    clearTimeout(timer)
  }

  private fork(workerId: number): Promise<Slot> {
    const config: ConsumeWorkerConfig = { workerId, topic: this.options.topic, groupId: this.options.groupId }
    const child = fork(this.options.workerScript, ['--consume-worker'], {
      execArgv: this.options.execArgv,
      env: {
        ...process.env,
        ...this.options.env,
        COMPARE_CONSUME_WORKER: JSON.stringify(config),
        KAFKA_SIDECAR_CONSUMER_MODE: this.options.mode,
      },
      serialization: 'advanced',
    })
    let consuming!: () => void
    let bye!: () => void
    const slot: Slot = {
      child,
      hasPartitions: false,
      partitions: 0,
      consuming: new Promise((resolve, reject) => {
        consuming = resolve
        child.once('exit', (code) =>
          reject(new Error(`worker ${workerId} exited with ${code} before it consumed${this.errorSuffix()}`)),
        )
      }),
      bye: new Promise((resolve) => (bye = resolve)),
    }
    // Awaited only once the worker is told to run; an exit before then is start()'s error.
    slot.consuming.catch(() => {})
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) =>
        reject(new Error(`worker ${workerId} exited with ${code} before it was connected${this.errorSuffix()}`))
      child.once('exit', onExit)
      child.on('message', (message: ConsumeWorkerMessage) => {
        switch (message.type) {
          case 'ready':
            child.off('exit', onExit)
            if (message.mode !== this.options.mode)
              reject(new Error(`worker ${workerId} consumes in ${message.mode} mode, expected ${this.options.mode}`))
            else resolve(slot)
            break
          case 'consuming':
            consuming()
            break
          case 'processed':
            this.options.onProcessed(message)
            break
          case 'group-join':
            this.groupJoins++
            if (message.isLeader) this.leaderGroupJoins++
            if (message.partitions > 0) slot.hasPartitions = true
            slot.partitions = message.partitions
            break
          case 'crash':
            this.firstError ??= `worker ${workerId}: ${message.error}`
            break
          case 'bye':
            bye()
            break
        }
      })
    })
  }

  private errorSuffix(): string {
    return this.firstError ? ` (${this.firstError})` : ''
  }
}
