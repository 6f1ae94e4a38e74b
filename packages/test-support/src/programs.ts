/**
 * Programs of this workspace as child processes, run as a user runs them: TypeScript through tsx
 * with workspace imports resolved to package sources, in an environment without the caller's
 * KAFKA_* variables, stdout and stderr collected. A child a test starts is killed by its PID when
 * the test ends, whatever happened (SIGKILL works on a SIGSTOPped child too).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { basename } from 'node:path'
import { fileURLToPath } from 'node:url'
import { onTestFinished } from 'vitest'
import { within } from './waiting.js'

export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url))

/** node's flags to run a TypeScript source as the tests see it (workspace imports resolved to sources). */
export const TSX: readonly string[] = ['--import', 'tsx', '--conditions=@kafka-sidecar/source']

export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface RunningProgram {
  readonly child: ChildProcess
  readonly pid: number
  /** Resolves when the process has exited (by any signal or code). */
  readonly exited: Promise<Exit>
  /** Resolves once the child's stdout and stderr are closed too (all its output is read). */
  readonly closed: Promise<void>
  /** Sends `signal` to the child by its PID (no-op once it has exited). */
  signal(signal: NodeJS.Signals): void
  /** SIGKILL by PID (unless it has exited), then waits for the exit. */
  kill(): Promise<Exit>
  stdout(): string
  stderr(): string
}

export interface ProgramOptions {
  readonly args?: readonly string[]
  /** Set on top of the caller's environment without its KAFKA_* variables. */
  readonly env?: Record<string, string>
  /** The repository's root unless given. */
  readonly cwd?: string
  /** node's flags before the script: TSX unless given ([] for built JavaScript). */
  readonly node?: readonly string[]
}

/** The caller's environment without KAFKA_* variables, so only the test configures the child, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KAFKA_'))), ...extra }
}

/** Starts `script` as a child process; it is killed by its PID (and awaited) when the test ends. */
export function spawnProgram(script: string, options: ProgramOptions = {}): RunningProgram {
  const child = spawn(process.execPath, [...(options.node ?? TSX), script, ...(options.args ?? [])], {
    cwd: options.cwd ?? REPO_ROOT,
    env: cleanEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const program = collect(child)
  onTestFinished(() => program.kill().then(() => undefined))
  return program
}

/** Runs `script` to its exit (failing after `timeoutMs` when given): how it exited and all it printed. */
export async function runProgram(
  script: string,
  options: ProgramOptions & { readonly timeoutMs?: number } = {},
): Promise<Exit & { stdout: string; stderr: string }> {
  const program = spawnProgram(script, options)
  const exit =
    options.timeoutMs === undefined
      ? await program.exited
      : await within(
          program.exited,
          options.timeoutMs,
          () => `${basename(script)} ${(options.args ?? []).join(' ')} still running; stderr: ${program.stderr()}`,
        )
  // 'exit' can come before the pipes are drained. A grandchild holding them open must not hold the test.
  await Promise.race([program.closed, delay(50)])
  return { ...exit, stdout: program.stdout(), stderr: program.stderr() }
}

function collect(child: ChildProcess): RunningProgram {
  const pid = child.pid!
  let running = true
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => {
      running = false
      resolve({ code, signal })
    }),
  )
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()))
  const signal = (sig: NodeJS.Signals) => {
    if (running) process.kill(pid, sig)
  }
  return {
    child,
    pid,
    exited,
    closed,
    signal,
    kill: () => {
      signal('SIGKILL')
      return exited
    },
    stdout: () => out,
    stderr: () => err,
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
