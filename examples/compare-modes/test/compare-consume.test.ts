/**
 * pnpm compare:consume end to end, as a user runs it, small: two worker processes, a backlog of
 * 1,000 records, 2 s of live records, a rolling restart of both workers, in both modes on an
 * embedded cluster the program starts. The JSON must show every record processed, the group's
 * members (2 direct, the sidecar's 1) and the Kafka rebalances the restart caused, counted.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runProgram, tempDir } from '@kafka-sidecar/test-support'
import { describe, expect, it } from 'vitest'

const main = fileURLToPath(new URL('../src/consume/main.ts', import.meta.url))

type ModeResult = {
  groupMembers: number
  peakBrokerConnections: number
  lost: number
  backlog: {
    produced: number
    lost: number
    recordsPerSec: number
    cpu: { workersUs: number; sidecarUs: number | null; harnessUs: number }
  }
  live: { produced: number; lost: number; p50Ms: number }
  restart: {
    produced: number
    lost: number
    rebalances: number
    source: string
    counts: { generation?: number; sidecarMetric?: number; leaderGroupJoins?: number }
  }
}

describe('pnpm compare:consume', () => {
  it('measures both modes and writes the JSON result', { timeout: 180_000 }, async () => {
    const json = join(await tempDir(), 'consume.json')
    const args = ['--processes', '2', '--partitions', '4', '--records', '1000', '--rate', '200', '--seconds', '2']
    const result = await runProgram(main, { args: [...args, '--json', json], timeoutMs: 170_000 })
    expect(result.code, result.stdout + result.stderr).toBe(0)
    expect(result.stdout).toContain('restart: Kafka rebalances')
    const output = JSON.parse(await readFile(json, 'utf8')) as Record<'direct' | 'sidecar', ModeResult> & {
      config: Record<string, unknown>
    }
    expect(output.config).toMatchObject({ processes: 2, partitions: 4, records: 1000, cluster: 'embedded' })
    for (const mode of ['direct', 'sidecar'] as const) {
      const r = output[mode]
      expect(r.lost, mode).toBe(0)
      expect(r.backlog, mode).toMatchObject({ produced: 1000, lost: 0 })
      expect(r.live.produced, mode).toBeGreaterThan(0)
      expect(r.restart.produced, mode).toBeGreaterThan(0)
      expect(r.backlog.recordsPerSec, mode).toBeGreaterThan(0)
      // The workers consumed the backlog: their CPU per record is something; this process's too.
      expect(r.backlog.cpu.workersUs, mode).toBeGreaterThan(0)
      expect(r.backlog.cpu.harnessUs, mode).toBeGreaterThan(0)
      expect(r.live.p50Ms, mode).toBeGreaterThan(0)
      expect(r.restart.source, mode).toBe('group generation (embedded-kafka)')
    }
    expect(output.direct.groupMembers).toBe(2)
    expect(output.sidecar.groupMembers).toBe(1)
    // Only sidecar mode has a sidecar whose CPU is counted (/proc counts in 10 ms ticks: a
    // small backlog may read 0).
    expect(output.direct.backlog.cpu.sidecarUs).toBeNull()
    expect(output.sidecar.backlog.cpu.sidecarUs).toBeTypeOf('number')
    // Each restarted direct worker leaves and joins the group: rebalances, counted by the
    // generation and, the same, by the leader's GROUP_JOIN events.
    expect(output.direct.restart.rebalances).toBeGreaterThanOrEqual(2)
    expect(output.direct.restart.counts.leaderGroupJoins).toBe(output.direct.restart.rebalances)
    // The sidecar's member stays in the group while its processes come and go.
    expect(output.sidecar.restart.rebalances).toBe(0)
    expect(output.sidecar.restart.counts.sidecarMetric).toBe(0)
    expect(output.sidecar.peakBrokerConnections).toBeGreaterThan(0)
  })

  it('refuses more processes than partitions with exit code 2', async () => {
    const result = await runProgram(main, { args: ['--processes', '5', '--partitions', '4'], timeoutMs: 30_000 })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('--processes (5) must not exceed --partitions (4)')
  })
})
