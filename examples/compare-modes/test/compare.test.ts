/**
 * The compare-modes program end to end, as a user runs it: a child process that starts its own
 * cluster, sidecar and workers, and must leave a JSON result and a chart behind.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runProgram, tempDir } from '@kafka-sidecar/test-support'
import { describe, expect, it } from 'vitest'

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url))

const run = (args: string[]) => runProgram(main, { args })

describe('pnpm compare', () => {
  it('runs both modes and writes the JSON result and the chart', { timeout: 90_000 }, async () => {
    const dir = await tempDir()
    const json = join(dir, 'result.json')
    const result = await run([
      '--processes',
      '3',
      '--records',
      '600',
      '--batch',
      '5',
      '--concurrency',
      '4',
      '--json',
      json,
    ])
    expect(result.code, result.stdout + result.stderr).toBe(0)
    expect(result.stdout).toContain('peak broker connections')
    const output = JSON.parse(await readFile(json, 'utf8')) as Record<string, Record<string, number>>
    expect(output.config).toMatchObject({ processes: 3, records: 600, batch: 5, concurrency: 4 })
    for (const mode of ['direct', 'sidecar']) {
      expect(output[mode]).toMatchObject({ attempted: 600, acked: 600, lost: 0 })
      for (const field of ['peakBrokerConnections', 'recordsPerSec', 'p50Ms', 'p99Ms'])
        expect(output[mode]![field]).toBeGreaterThan(0)
    }
    // Three processes against three brokers: 9 connections direct, the sidecar's 3 in sidecar mode.
    expect(output.direct!.peakBrokerConnections).toBe(9)
    expect(output.sidecar!.peakBrokerConnections).toBe(3)
    expect(output.sidecar!.sidecarRssMb).toBeGreaterThan(10)
    const svg = await readFile(join(dir, 'result.svg'), 'utf8')
    expect(svg).toMatch(/^<svg /)
    expect(svg).toContain('peak broker connections')
  })

  it('refuses a bad argument with exit code 2 and names it', async () => {
    const result = await run(['--processes', '0'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('--processes must be a positive integer')
  })
})
