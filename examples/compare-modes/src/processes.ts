/** The sidecar process and the progress line, shared by the comparison and the soak. */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { SidecarConfigError } from '@kafka-sidecar/sidecar'

/** Node flags the sidecar container runs with (deploy/docker/Dockerfile). */
export const SIDECAR_NODE_ARGS = '--max-old-space-size=256 --max-semi-space-size=4'

/**
 * Starts the kafka-sidecar CLI and waits until it listens. It runs from the built package
 * (`pnpm build`), as in production: no TypeScript loader in the sidecar's CPU and memory numbers.
 * `clientEnv` (KAFKA_BROKERS and the TLS/SASL variables) points it at the cluster under test.
 */
export async function startSidecarProcess(
  clientEnv: Readonly<Record<string, string>>,
  socketPath: string,
): Promise<ChildProcess> {
  return (await startSidecar(clientEnv, socketPath)).child
}

/** The sidecar process and where its HTTP endpoints (/metrics) listen. */
export interface SidecarProcess {
  readonly child: ChildProcess
  readonly httpAddress: string
}

/** startSidecarProcess, also giving the HTTP address the sidecar printed. */
export function startSidecar(clientEnv: Readonly<Record<string, string>>, socketPath: string): Promise<SidecarProcess> {
  const cli = fileURLToPath(new URL('../../../packages/sidecar/dist/cli.js', import.meta.url))
  if (!existsSync(cli)) {
    console.error(`${cli} is missing: run \`pnpm build\` first (pnpm demo and pnpm compare do)`)
    process.exit(2)
  }
  // The container's flags (deploy/docker/Dockerfile) unless COMPARE_SIDECAR_NODE_ARGS says
  // otherwise, e.g. "" for none or "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (process.env.COMPARE_SIDECAR_NODE_ARGS ?? SIDECAR_NODE_ARGS).split(' ').filter(Boolean)
  const child = spawn(process.execPath, [...nodeArgs, cli], {
    env: {
      ...process.env,
      ...clientEnv,
      KAFKA_SIDECAR_LISTEN: `unix://${socketPath}`,
      KAFKA_SIDECAR_HTTP: '127.0.0.1:0',
      KAFKA_SIDECAR_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolvePromise, reject) => {
    let out = ''
    const onExit = (code: number | null) => reject(new Error(`kafka-sidecar exited with ${code} before listening`))
    child.once('exit', onExit)
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const http = /http: (\S+)\n/.exec(out)
      if (http) {
        child.off('exit', onExit)
        resolvePromise({ child, httpAddress: http[1]! })
      }
    })
  })
}

export function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve()
  return new Promise((resolvePromise) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolvePromise()
    })
    child.kill('SIGTERM')
  })
}

export function progressLine(label: string, total: number) {
  return (acked: number, failed: number, seconds: number) => {
    const line = `  ${label}: ${acked.toLocaleString('en-US')}/${total.toLocaleString('en-US')} acked${failed ? `, ${failed} failed` : ''}, ${Math.round(acked / Math.max(seconds, 0.001)).toLocaleString('en-US')} records/s`
    if (process.stdout.isTTY) process.stdout.write(`\r${line}   `)
    else console.log(line)
  }
}

/**
 * What a program does with a failure it cannot go on from (the cluster unreachable, authentication
 * refused, a bad KAFKA_* variable): the message on stderr, not a stack, and exit code 2 for a bad
 * setting, 1 otherwise.
 */
export function exitOnError(program: string): (error: unknown) => void {
  return (error) => {
    const e = error instanceof Error ? error : new Error(String(error))
    console.error(`${program}: ${e.name === 'Error' ? '' : `${e.name}: `}${e.message}`)
    process.exitCode = e instanceof SidecarConfigError ? 2 : 1
  }
}
