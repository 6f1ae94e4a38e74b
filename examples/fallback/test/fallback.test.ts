/** The fallback example as a user runs it: it must show the breaker cycle and end with nothing lost. */
import { fileURLToPath } from 'node:url'
import { runProgram } from '@kafka-sidecar/test-support'
import { describe, expect, it } from 'vitest'

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url))

describe('examples/fallback', () => {
  it(
    'opens the breaker when the sidecar is killed, comes back when it restarts, loses nothing',
    { timeout: 60_000 },
    async () => {
      const { code, stdout, stderr } = await runProgram(main, {
        args: ['--seconds', '7', '--kill-at', '2', '--restart-at', '3.5'],
      })
      const output = stdout + stderr
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
