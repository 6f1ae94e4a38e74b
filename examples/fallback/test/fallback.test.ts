/** The fallback example as a user runs it: it must show the breaker cycle and end with nothing lost. */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it, onTestFinished } from 'vitest'

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url))

describe('examples/fallback', () => {
  it(
    'opens the breaker when the sidecar is killed, comes back when it restarts, loses nothing',
    { timeout: 60_000 },
    async () => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          '--conditions=@kafka-sidecar/source',
          main,
          '--seconds',
          '7',
          '--kill-at',
          '2',
          '--restart-at',
          '3.5',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      )
      onTestFinished(() => {
        if (child.exitCode === null) child.kill('SIGKILL')
      })
      let output = ''
      child.stdout.on('data', (d: Buffer) => (output += d.toString()))
      child.stderr.on('data', (d: Buffer) => (output += d.toString()))
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
      expect(code, output).toBe(0)
      expect(output).toContain('breaker OPEN')
      expect(output).toContain('breaker CLOSED: back on the sidecar')
      const summary = /attempted (\d+), acked (\d+), failed (\d+), lost (\d+)/.exec(output)
      expect(summary, output).not.toBeNull()
      const [, attempted, acked, failed, lost] = summary!.map(Number)
      expect(attempted).toBeGreaterThan(0)
      expect(acked).toBe(attempted)
      expect(failed).toBe(0)
      expect(lost).toBe(0)
      const paths = /delivered via sidecar (\d+), via direct fallback (\d+)/.exec(output)!
      expect(Number(paths[1])).toBeGreaterThan(0)
      expect(Number(paths[2])).toBeGreaterThan(0)
    },
  )
})
