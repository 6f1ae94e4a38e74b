/**
 * The kafka-sidecar CLI as a child process, as a pod runs it: configured by KAFKA_* variables,
 * ready once it prints where it listens, stopped by its PID.
 */
import { readFileSync, realpathSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import { expect } from 'vitest'
import { spawnProgram, type RunningProgram } from './programs.js'
import { waitFor } from './waiting.js'

/** The sidecar package as this one depends on it (a workspace link). */
const sidecarPackage = realpathSync(fileURLToPath(new URL('../node_modules/@kafka-sidecar/sidecar/', import.meta.url)))

/**
 * The CLI's script as the sidecar package's `bin` names it: the build (`dist/cli.js`, as
 * production runs it; needs `pnpm build`), or the source it is built from (`src/cli.ts`, run
 * through tsx), as the package's `@kafka-sidecar/source` export condition maps one to the other.
 */
export function sidecarCli(from: 'source' | 'built'): string {
  const manifest = JSON.parse(readFileSync(join(sidecarPackage, 'package.json'), 'utf8')) as {
    bin: Record<string, string>
  }
  const built = manifest.bin['kafka-sidecar']!
  return join(sidecarPackage, from === 'built' ? built : built.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'))
}

/** Waits for the CLI's `listening:` and `http:` lines (printed once it serves); fails with its stderr if it exits first. */
export async function sidecarStarted(
  cli: RunningProgram,
  timeoutMs: number,
): Promise<{ listening: string; http: string }> {
  await waitFor(
    () => `the listening and http lines; stdout: ${cli.stdout()} stderr: ${cli.stderr()}`,
    () => {
      if (cli.child.exitCode !== null || cli.child.signalCode !== null) {
        throw new Error(
          `the sidecar CLI exited (${cli.child.exitCode ?? cli.child.signalCode}) before serving; stderr: ${cli.stderr()}`,
        )
      }
      return /^http: .*$/m.test(cli.stdout())
    },
    timeoutMs,
  )
  const listening = /^listening: (.*)$/m.exec(cli.stdout())
  const http = /^http: (.*)$/m.exec(cli.stdout())
  expect(listening, cli.stdout()).not.toBeNull()
  return { listening: listening![1]!, http: http![1]! }
}

export interface ChildSidecar extends RunningProgram {
  /** unix:///path.sock, as printed on the `listening:` line. */
  readonly address: string
  /** host:port of its HTTP endpoints (/metrics, /readyz), as printed on the `http:` line; null when off. */
  readonly httpAddress: string | null
}

/**
 * Spawns the kafka-sidecar CLI (through tsx, against the sources) in front of `cluster`, listening
 * on `socket`, silent, HTTP off, and waits until it serves. `env` adds or overrides KAFKA_*
 * settings (e.g. KAFKA_SIDECAR_MAX_QUEUED_RECORDS). Killed by its PID when the test ends.
 * `startTimeoutMs`: longer for a test that starts it while the machine is busy with its load.
 */
export async function spawnSidecar(
  cluster: EmbeddedKafka,
  socket: string,
  env: Record<string, string> = {},
  startTimeoutMs = 15_000,
): Promise<ChildSidecar> {
  const cli = spawnProgram(sidecarCli('source'), {
    env: {
      KAFKA_BROKERS: cluster.bootstrapServers.join(','),
      KAFKA_SIDECAR_LISTEN: `unix://${socket}`,
      KAFKA_SIDECAR_HTTP: 'off',
      KAFKA_SIDECAR_LOG_LEVEL: 'nothing',
      KAFKA_SIDECAR_SHUTDOWN_TIMEOUT_MS: '1000',
      ...env,
    },
  })
  const { listening, http } = await sidecarStarted(cli, startTimeoutMs)
  return { ...cli, address: listening, httpAddress: http === 'off' ? null : http }
}
