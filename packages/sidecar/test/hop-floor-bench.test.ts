/** `pnpm bench:hop-floor` runs to its end and prints a number for each relay (a short run). */
import { fileURLToPath } from 'node:url'
import { runProgram } from '@kafka-sidecar/test-support'
import { describe, expect, it } from 'vitest'

const bench = fileURLToPath(new URL('../bench/hop-floor.ts', import.meta.url))

describe('bench:hop-floor', () => {
  it('measures the direct round trip and both relays, with the relays’ CPU', { timeout: 90_000 }, async () => {
    const run = await runProgram(bench, { args: ['--round-trips', '300', '--warmup', '50'], timeoutMs: 60_000 })
    expect(run.code, run.stderr).toBe(0)
    const row = (name: string) => run.stdout.split('\n').find((line) => line.startsWith(name))
    expect(row('direct (no relay)')).toMatch(/^direct \(no relay\)\s+\d+\.\d{3}\s+\d+\.\d{3}\s+\d+\s+-$/)
    for (const relay of ['relay on plain sockets', 'relay serving a grpc-js stream'])
      expect(row(relay)).toMatch(/\s\d+\.\d{3}\s+\d+\.\d{3}\s+\d+\s+\d+\.\d$/)
    expect(run.stdout).toMatch(/the extra hop at its floor .* p50 \+-?\d+\.\d{3} ms/)
  })
})
