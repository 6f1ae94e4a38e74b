/**
 * Child processes for fault runs outside a test's lifecycle (the fault-matrix benchmark) as well
 * as inside one: the kafka-sidecar CLI, forked TypeScript workers, the delaying proxy. Every
 * child is registered by PID when it starts and killed by that PID in `killAll()`; nothing here
 * signals a process it did not start. Nothing here registers with vitest: a test registers
 * `killAll` with onTestFinished, a script calls it in `finally` and on SIGINT/SIGTERM.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { basename, join } from 'node:path'
import { cleanEnv, REPO_ROOT, sidecarCli, TSX, type Exit } from '@kafka-sidecar/test-support'

export interface Child {
  readonly pid: number
  readonly exited: Promise<Exit>
  alive(): boolean
  /** Sends `signal` by PID while the child runs (no-op after it exited). */
  signal(signal: NodeJS.Signals): void
  /** SIGKILL by PID, then waits for the exit. */
  kill(): Promise<Exit>
  stdout(): string
  stderr(): string
}

export interface SidecarChild extends Child {
  /** unix:///path.sock as printed on its `listening:` line. */
  readonly address: string
  /** SIGTERM, then waits for the exit (a SIGSTOPped child gets SIGCONT first). */
  terminate(): Promise<Exit>
}

export interface ForkedChild extends Child {
  send(message: unknown): void
}

export class ChildProcesses {
  private readonly children = new Set<Child>()

  /** `logDir`: every child's whole stdout and stderr also go to `<logDir>/<name>-<pid>.log` (for diagnosis). */
  constructor(private readonly logDir: string | null = null) {}

  /**
   * Starts the kafka-sidecar CLI on `socket` and waits for its `listening:` line. `from: 'built'`
   * runs packages/sidecar/dist (as production runs it: no TypeScript loader, fast start; needs
   * `pnpm build`), `'source'` runs the sources through tsx (tests).
   */
  async startSidecar(options: {
    brokers: string[]
    socket: string
    env?: Record<string, string>
    from: 'built' | 'source'
    timeoutMs?: number
  }): Promise<SidecarChild> {
    const args = options.from === 'built' ? [sidecarCli('built')] : [...TSX, sidecarCli('source')]
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      env: cleanEnv({
        KAFKA_BROKERS: options.brokers.join(','),
        KAFKA_SIDECAR_LISTEN: `unix://${options.socket}`,
        KAFKA_SIDECAR_HTTP: 'off',
        KAFKA_SIDECAR_LOG_LEVEL: 'nothing',
        ...options.env,
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const handle = this.track(child, 'sidecar')
    const timeoutMs = options.timeoutMs ?? 60_000
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `sidecar ${handle.pid} printed no listening line within ${timeoutMs} ms; stderr: ${handle.stderr()}`,
            ),
          ),
        timeoutMs,
      )
      const check = () => {
        const match = /^listening: (.*)$/m.exec(handle.stdout())
        if (match) {
          clearTimeout(timer)
          child.stdout!.off('data', check)
          resolve(match[1]!)
        }
      }
      child.stdout!.on('data', check)
      void handle.exited.then((exit) => {
        clearTimeout(timer)
        reject(
          new Error(
            `sidecar ${handle.pid} exited (${JSON.stringify(exit)}) before listening; stderr: ${handle.stderr()}`,
          ),
        )
      })
      check()
    })
    const terminate = async () => {
      handle.signal('SIGCONT')
      handle.signal('SIGTERM')
      return handle.exited
    }
    return { ...handle, address, terminate }
  }

  /** Forks a TypeScript `script` through tsx, with an IPC channel. */
  fork(script: string, env: Record<string, string>, onMessage: (message: unknown) => void): ForkedChild {
    const child = fork(script, [], {
      cwd: REPO_ROOT,
      execPath: process.execPath,
      execArgv: [...TSX],
      env: cleanEnv(env),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    })
    const handle = this.track(child, basename(script).replace(/\.ts$/, ''))
    child.on('message', onMessage)
    // A parent exiting while a write is queued would otherwise throw EPIPE here.
    child.on('error', () => {})
    return {
      ...handle,
      send: (message) => {
        if (handle.alive() && child.connected) child.send(message as never)
      },
    }
  }

  /** SIGKILLs every child still running (by PID) and waits for them all to exit. */
  async killAll(): Promise<void> {
    await Promise.all([...this.children].map((c) => c.kill()))
  }

  /** For `process.on('exit')`: SIGKILLs what still runs, without waiting. */
  killAllNow(): void {
    for (const c of this.children) if (c.alive()) c.signal('SIGKILL')
  }

  private track(child: ChildProcess, name: string): Child {
    const pid = child.pid
    if (pid === undefined) throw new Error('child process did not start')
    let running = true
    let out = ''
    let err = ''
    const file = this.logDir ? createWriteStream(join(this.logDir, `${name}-${pid}.log`)) : null
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out = (out + chunk).slice(-16_000)
      file?.write(chunk)
    })
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      err = (err + chunk).slice(-16_000)
      file?.write(chunk)
    })
    child.once('close', () => file?.end())
    const exited = new Promise<Exit>((resolve) =>
      child.once('exit', (code, signal) => {
        running = false
        this.children.delete(handle)
        resolve({ code, signal })
      }),
    )
    const signal = (sig: NodeJS.Signals) => {
      if (running) process.kill(pid, sig)
    }
    const handle: Child = {
      pid,
      exited,
      alive: () => running,
      signal,
      kill: async () => {
        signal('SIGKILL')
        return exited
      },
      stdout: () => out,
      stderr: () => err,
    }
    this.children.add(handle)
    return handle
  }
}
