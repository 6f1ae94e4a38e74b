/**
 * The compare-modes program end to end, as a user runs it: a child process that starts its own
 * cluster (or, with KAFKA_BROKERS, uses one the test started, as a team uses its own), the sidecar
 * and the workers, and must leave a JSON result and a chart behind.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import { fileWith, runProgram, startCluster, tempDir } from '@kafka-sidecar/test-support'
import { describe, expect, it } from 'vitest'
import { pinningUnavailable } from '../src/cpu-pinning.js'

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url))

const run = (args: string[], env: Record<string, string> = {}) => runProgram(main, { args, env, timeoutMs: 60_000 })

const SMALL = ['--processes', '3', '--records', '300', '--batch', '5', '--concurrency', '4']
const SCRAM = { mechanism: 'scram-sha-512', username: 'team', password: 'team-pw-61d2' } as const

type Result = Record<'config' | 'direct' | 'sidecar', Record<string, unknown>>

async function runWithJson(args: string[], env: Record<string, string> = {}) {
  const json = join(await tempDir(), 'result.json')
  const result = await run([...args, '--json', json], env)
  expect(result.code, result.stdout + result.stderr).toBe(0)
  return { ...result, output: JSON.parse(await readFile(json, 'utf8')) as Result }
}

function expectEveryRecordDelivered(output: Result, records: number): void {
  for (const mode of ['direct', 'sidecar'] as const)
    expect(output[mode]).toMatchObject({ attempted: records, acked: records, lost: 0, duplicates: 0 })
}

/** What a team sets for its own cluster: the brokers and the sidecar's TLS and SASL variables. */
async function clusterEnv(cluster: EmbeddedKafka, password: string): Promise<Record<string, string>> {
  return {
    KAFKA_BROKERS: cluster.bootstrapServers.join(','),
    KAFKA_SSL: 'true',
    KAFKA_SSL_CA_FILE: await fileWith(cluster.caCertificate!, 'ca.pem'),
    KAFKA_SASL_MECHANISM: SCRAM.mechanism.toUpperCase(),
    KAFKA_SASL_USERNAME: SCRAM.username,
    KAFKA_SASL_PASSWORD_FILE: await fileWith(`${password}\n`),
  }
}

describe('pnpm compare', () => {
  it('runs both modes and writes the JSON result and the chart', { timeout: 90_000 }, async () => {
    const dir = await tempDir()
    const json = join(dir, 'result.json')
    // Pinned where it can be (Linux, two cores): the workers on one core, the sidecar on the other.
    const pin = pinningUnavailable() === null
    const result = await run([
      ...(pin ? ['--pin'] : []),
      '--processes',
      '3',
      '--records',
      '600',
      '--batch',
      '5',
      '--concurrency',
      '4',
      '--warmup',
      '300',
      '--json',
      json,
    ])
    expect(result.code, result.stdout + result.stderr).toBe(0)
    expect(result.stdout).toContain('peak broker connections')
    const output = JSON.parse(await readFile(json, 'utf8')) as Record<string, Record<string, number>>
    expect(output.config).toMatchObject({ processes: 3, records: 600, batch: 5, concurrency: 4, pinned: pin })
    // The warm-up's 100 records per process go to topics of their own, outside what is measured.
    expect(output.config).toMatchObject({ warmupPerProcess: 100 })
    expect(result.stdout).toContain('after 100 unmeasured records per process')
    if (pin) expect(result.stdout).toContain('workers pinned to core 0 and the sidecar to core 1')
    for (const mode of ['direct', 'sidecar']) {
      // duplicates 0: the warm-up's records (the same values) went to a topic of their own.
      expect(output[mode]).toMatchObject({ attempted: 600, acked: 600, lost: 0, duplicates: 0 })
      for (const field of ['peakBrokerConnections', 'recordsPerSec', 'p50Ms', 'p99Ms'])
        expect(output[mode]![field]).toBeGreaterThan(0)
    }
    // Three processes against three brokers: 9 connections direct, the sidecar's 3 in sidecar mode.
    expect(output.direct!.peakBrokerConnections).toBe(9)
    expect(output.sidecar!.peakBrokerConnections).toBe(3)
    expect(output.sidecar!.sidecarRssMb).toBeGreaterThan(10)
    // CPU per record, read from /proc in 10 ms ticks (a run this small may read 0): the workers' in
    // both modes, the sidecar's in sidecar mode only.
    for (const mode of ['direct', 'sidecar']) expect(output[mode]!.workersCpuUsPerRecord).toBeTypeOf('number')
    expect(output.sidecar!.sidecarCpuUsPerRecord).toBeTypeOf('number')
    expect(output.direct!.sidecarCpuUsPerRecord).toBeUndefined()
    const svg = await readFile(join(dir, 'result.svg'), 'utf8')
    expect(svg).toMatch(/^<svg /)
    expect(svg).toContain('peak broker connections')
  })

  it('refuses a bad argument with exit code 2 and names it', async () => {
    const result = await run(['--processes', '0'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('--processes must be a positive integer')
    const warmup = await run(['--warmup', '1.5'])
    expect(warmup.code).toBe(2)
    expect(warmup.stderr).toContain('--warmup must be 0 or a positive integer, got "1.5"')
  })

  it(
    '--security tls+scram: the embedded cluster asks for TLS and SCRAM-SHA-512, and both modes use them',
    { timeout: 60_000 },
    async () => {
      const { output, stdout } = await runWithJson([...SMALL, '--security', 'tls+scram'])
      expect(stdout).toContain('tls+scram (SASL_SSL)')
      expect(output.config).toMatchObject({ cluster: 'embedded', security: 'tls+scram' })
      expectEveryRecordDelivered(output, 300)
      expect(output.direct!.peakBrokerConnections).toBe(9)
      expect(output.sidecar!.peakBrokerConnections).toBe(3)
    },
  )
})

describe('pnpm compare against your own cluster (KAFKA_BROKERS)', () => {
  it(
    'connects as the sidecar does (TLS + SCRAM-SHA-512), samples connections, deletes its topics',
    { timeout: 60_000 },
    async () => {
      const cluster = await startCluster({ tls: true, sasl: [SCRAM] })
      const { output, stdout } = await runWithJson(SMALL, await clusterEnv(cluster, SCRAM.password))
      expect(stdout).toContain('external cluster: 3 brokers')
      expect(stdout).toContain('TLS + SASL SCRAM-SHA-512')
      expect(output.config).toMatchObject({
        cluster: 'external',
        brokers: 3,
        connectionCounting: 'sampled from /proc every 0.5 s',
      })
      expectEveryRecordDelivered(output, 300)
      const direct = output.direct!.peakBrokerConnections as number
      const sidecar = output.sidecar!.peakBrokerConnections as number
      expect(sidecar).toBeGreaterThan(0)
      expect(direct).toBeGreaterThan(sidecar)
      // The records were written to, and read back from, the run's own topics, gone afterwards.
      const topics = output.config.topics as Record<string, string>
      expect(topics.direct).toMatch(/^kafka-sidecar-compare-[a-z0-9]+-[0-9a-f]+-direct$/)
      expect(cluster.topics()).not.toContain(topics.direct)
      expect(cluster.topics()).not.toContain(topics.sidecar)
    },
  )

  it('a wrong password: exits 1 at once, naming the authentication failure', { timeout: 30_000 }, async () => {
    const cluster = await startCluster({ brokers: 1, tls: true, sasl: [SCRAM] })
    const result = await run(SMALL, await clusterEnv(cluster, 'not-the-password'))
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(
      /cannot connect to .* \(TLS \+ SASL SCRAM-SHA-512\): KafkaJSSASLAuthenticationError: SASL SCRAM SHA512 authentication failed/,
    )
    expect(result.stderr).not.toContain('not-the-password')
    expect(cluster.topics()).toEqual([])
  })

  it('refuses --security beside KAFKA_BROKERS with exit code 2, naming both', async () => {
    const result = await run(['--security', 'tls'], { KAFKA_BROKERS: '127.0.0.1:1' })
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/--security .*KAFKA_BROKERS=127\.0\.0\.1:1/)
  })
})
