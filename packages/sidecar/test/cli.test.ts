/**
 * The kafka-sidecar CLI as a pod runs it: a child process (through tsx, against the sources)
 * configured by environment variables and flags (flags win), printing where it listens, refusing
 * bad configuration with exit code 2 and the option's name as the user wrote it, and on SIGTERM
 * flushing or failing every record it acknowledged before exiting 0 within its deadline.
 */
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Metadata, status, type ServiceError } from '@grpc/grpc-js'
import type { DeliveryReportEvent, EmitAck, PartitionResult } from '@kafka-sidecar/proto'
import {
  randomTopic,
  runProgram,
  sidecarStarted,
  spawnProgram,
  startCluster,
  tempDir,
  waitFor,
  within,
} from '@kafka-sidecar/test-support'
import { describe, expect, it, onTestFinished } from 'vitest'
import { OPTIONS } from '../src/config.js'
import { bytes, emitRequest, sidecarClient } from './helpers.js'

const T = { timeout: 15_000 }
const cliPath = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
const START_TIMEOUT_MS = 8_000

/** Spawns the CLI with only the given KAFKA_* variables; killed by its PID and awaited when the test finishes. */
const spawnCli = (args: readonly string[], env: Record<string, string>) => spawnProgram(cliPath, { args, env })

/** Waits for the `listening:` and `http:` lines; fails with the child's stderr if it exits or stalls first. */
const startedLines = (cli: ReturnType<typeof spawnCli>) => sidecarStarted(cli, START_TIMEOUT_MS)

/** Runs the CLI to completion (for configurations that make it exit). */
const runToExit = (args: readonly string[], env: Record<string, string>) =>
  runProgram(cliPath, { args, env, timeoutMs: START_TIMEOUT_MS })

async function readyz(http: string): Promise<number | 'refused'> {
  try {
    const response = await fetch(`http://${http}/readyz`)
    await response.text()
    return response.status
  } catch {
    return 'refused'
  }
}

const DUMMY_BROKERS = { KAFKA_BROKERS: '127.0.0.1:9', KAFKA_SIDECAR_LOG_LEVEL: 'nothing' }

describe('kafka-sidecar CLI: configuration', () => {
  it('--help lists every option with its flag and environment variable, and exits 0', T, async () => {
    const result = await runToExit(['--help'], {})
    expect(result).toMatchObject({ code: 0, signal: null })
    expect(OPTIONS.length).toBeGreaterThan(20)
    for (const option of OPTIONS) {
      const line = result.stdout.split('\n').find((l) => new RegExp(`^\\s+--${option.flag}(\\s|$)`).test(l))
      expect(line, `--${option.flag} in --help`).toBeDefined()
      expect(line).toContain(option.env)
    }
  })

  it('starts from environment variables, lets flags override them, and prints where it listens', T, async () => {
    const cluster = await startCluster({ brokers: 1 })
    const dir = await tempDir()
    const fromEnv = join(dir, 'env.sock')
    const fromFlag = join(dir, 'flag.sock')
    const cli = spawnCli(['--listen', `unix://${fromFlag}`, '--log-level=nothing'], {
      KAFKA_BROKERS: cluster.bootstrapServers.join(','),
      KAFKA_SIDECAR_LISTEN: `unix://${fromEnv}`,
      KAFKA_SIDECAR_HTTP: '127.0.0.1:0',
      KAFKA_SIDECAR_LOG_LEVEL: 'debug',
    })
    const { listening, http } = await startedLines(cli)
    expect(listening).toBe(`unix://${fromFlag}`)
    expect(http).toMatch(/^127\.0\.0\.1:\d+$/)
    expect(http).not.toBe('127.0.0.1:0')
    expect(existsSync(fromFlag)).toBe(true)
    expect(existsSync(fromEnv)).toBe(false)
    await waitFor(
      () => `/readyz 200; stderr: ${cli.stderr()}`,
      async () => (await readyz(http)) === 200,
      5_000,
    )
    // --log-level=nothing won over KAFKA_SIDECAR_LOG_LEVEL=debug: no log lines at all.
    expect(cli.stderr()).toBe('')

    cli.child.kill('SIGTERM')
    expect(await within(cli.exited, 5_000, () => `exit after SIGTERM; stderr: ${cli.stderr()}`)).toEqual({
      code: 0,
      signal: null,
    })
    expect(cli.stdout()).toMatch(/^stopped: 0 records failed at shutdown$/m)
    expect(existsSync(fromFlag)).toBe(false)
  })

  it.each([
    {
      name: 'an invalid environment variable',
      args: [],
      env: { ...DUMMY_BROKERS, KAFKA_SIDECAR_MAX_QUEUED_BYTES: 'abc' },
      names: ['KAFKA_SIDECAR_MAX_QUEUED_BYTES'],
    },
    {
      name: 'an invalid flag value',
      args: ['--max-queued-bytes', 'abc'],
      env: DUMMY_BROKERS,
      names: ['--max-queued-bytes'],
    },
    {
      name: 'an invalid flag value overriding a valid variable',
      args: ['--max-queued-bytes=-5'],
      env: { ...DUMMY_BROKERS, KAFKA_SIDECAR_MAX_QUEUED_BYTES: '1000000' },
      names: ['--max-queued-bytes'],
    },
    { name: 'missing brokers', args: [], env: { KAFKA_SIDECAR_LOG_LEVEL: 'nothing' }, names: ['KAFKA_BROKERS'] },
    {
      name: 'a non-loopback listen address',
      args: ['--listen', '0.0.0.0:0'],
      env: DUMMY_BROKERS,
      names: ['--listen', '--allow-non-loopback'],
    },
    {
      name: 'a non-loopback listen address from the environment',
      args: [],
      env: { ...DUMMY_BROKERS, KAFKA_SIDECAR_LISTEN: '0.0.0.0:0' },
      names: ['KAFKA_SIDECAR_LISTEN', 'KAFKA_SIDECAR_ALLOW_NON_LOOPBACK'],
    },
    { name: 'an invalid choice', args: ['--log-level', 'loud'], env: DUMMY_BROKERS, names: ['--log-level'] },
  ])('exits 2 on $name, naming the option as written', T, async ({ args, env, names }) => {
    const result = await runToExit(args, env)
    expect(result.code, result.stderr).toBe(2)
    expect(result.stdout).not.toMatch(/listening:/)
    for (const name of names) expect(result.stderr).toContain(name)
  })

  it('exits non-zero on an unknown flag, naming it', T, async () => {
    const result = await runToExit(['--no-such-flag', 'x'], DUMMY_BROKERS)
    expect(result.code).not.toBe(0)
    expect(result.code).not.toBeNull()
    expect(result.stderr).toContain('--no-such-flag')
  })

  it('non-loopback listening works with --allow-non-loopback (config accepted, then serves)', T, async () => {
    const cluster = await startCluster({ brokers: 1 })
    const cli = spawnCli(['--listen', '0.0.0.0:0', '--allow-non-loopback', '--http', 'off'], {
      KAFKA_BROKERS: cluster.bootstrapServers.join(','),
      KAFKA_SIDECAR_LOG_LEVEL: 'nothing',
    })
    const { listening, http } = await startedLines(cli)
    expect(listening).toMatch(/^0\.0\.0\.0:[1-9]\d*$/)
    expect(http).toBe('off')
    cli.child.kill('SIGTERM')
    expect(await within(cli.exited, 5_000, () => `exit after SIGTERM; stderr: ${cli.stderr()}`)).toEqual({
      code: 0,
      signal: null,
    })
  })
})

interface Accounting {
  readonly delivered: Map<string, number>
  readonly failed: Map<string, PartitionResult['error']>
  readonly duplicates: string[]
}

describe('kafka-sidecar CLI: SIGTERM with a full queue', () => {
  const REQUESTS = 200
  const PER_REQUEST = 50

  async function sigtermScenario(variant: 'healthy' | 'brokers-down'): Promise<void> {
    const shutdownTimeoutMs = variant === 'healthy' ? 4_000 : 1_000
    const cluster = await startCluster()
    const topic = randomTopic(`sigterm-${variant}`)
    await cluster.createTopic({ topic, partitions: 3 })
    const dir = await tempDir()
    const socket = join(dir, 's.sock')
    const cli = spawnCli([], {
      KAFKA_BROKERS: cluster.bootstrapServers.join(','),
      KAFKA_SIDECAR_LISTEN: `unix://${socket}`,
      KAFKA_SIDECAR_HTTP: '127.0.0.1:0',
      KAFKA_SIDECAR_LOG_LEVEL: 'nothing',
      KAFKA_SIDECAR_SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs),
      // Healthy: hold the records briefly so they are certainly still queued at SIGTERM.
      ...(variant === 'healthy' ? { KAFKA_SIDECAR_LINGER_MS: '1000' } : {}),
    })
    const { listening, http } = await startedLines(cli)
    expect(listening).toBe(`unix://${socket}`)
    await waitFor(
      () => `/readyz 200; stderr: ${cli.stderr()}`,
      async () => (await readyz(http)) === 200,
      5_000,
    )

    const client = sidecarClient(listening)
    const instanceId = `instance-${randomUUID()}`

    if (variant === 'brokers-down') {
      // Load the topic's metadata and connect, then take the whole cluster down: requests are
      // still admitted (metadata is cached) but nothing can be delivered.
      const warm = await new Promise<EmitAck>((resolveAck, reject) =>
        client.emit(
          emitRequest(topic, [{ value: bytes('warm-up') }], { instanceId: `warm-${randomUUID()}` }),
          (e, ack) => (e ? reject(e) : resolveAck(ack)),
        ),
      )
      expect(warm.results.map((r) => r.error)).toEqual([undefined])
      await cluster.stopBrokers()
    }

    // Delivery reports for the instance: every record's fate, by request id and record index.
    const accounting: Accounting = { delivered: new Map(), failed: new Map(), duplicates: [] }
    const reports = client.deliveryReports({ instanceId, afterSequence: 0 })
    onTestFinished(() => reports.cancel())
    const gaps: DeliveryReportEvent[] = []
    let reportEvents = 0
    reports.on('data', (event: DeliveryReportEvent) => {
      if (event.event?.$case !== 'report') return void gaps.push(event)
      const { requestId, result } = event.event.value
      reportEvents++
      for (const [i, index] of result!.recordIndexes.entries()) {
        const key = `${requestId}/${index}`
        if (accounting.delivered.has(key) || accounting.failed.has(key)) accounting.duplicates.push(key)
        if (result!.error) accounting.failed.set(key, result!.error)
        else accounting.delivered.set(key, result!.baseOffset + i)
      }
    })
    const reportsEnded = new Promise<number>((resolveEnd) =>
      reports.on('status', (s: { code: number }) => resolveEnd(s.code)),
    )
    reports.on('error', () => {})

    const stream = client.emitStream()
    onTestFinished(() => stream.cancel())
    const acks = new Map<number, EmitAck>()
    stream.on('data', (ack: EmitAck) => acks.set(ack.requestId, ack))
    stream.on('error', () => {})
    const sent = new Map<number, string[]>()
    for (let i = 0; i < REQUESTS; i++) {
      const values = Array.from({ length: PER_REQUEST }, (_, j) => `${i}-${j}`)
      const request = emitRequest(
        topic,
        values.map((v) => ({ value: bytes(v) })),
        { instanceId, awaitDelivery: false },
      )
      sent.set(request.requestId, values)
      stream.write(request)
    }
    await waitFor(
      () => `${REQUESTS} received acks (got ${acks.size})`,
      () => acks.size === REQUESTS,
      5_000,
    )
    for (const ack of acks.values()) expect(ack).toMatchObject({ received: true, error: undefined })

    const deliveredBeforeSigterm = (await cluster.records(topic)).length
    const total = REQUESTS * PER_REQUEST
    // The queue must still hold records at SIGTERM (lingering, or undeliverable: only the warm-up is in).
    if (variant === 'healthy') expect(deliveredBeforeSigterm).toBeLessThan(total)
    else expect(deliveredBeforeSigterm).toBe(1)

    const signalledAt = Date.now()
    cli.child.kill('SIGTERM')

    // Once shutdown has begun, a new request is refused at once (or the connection is), never held.
    await waitFor('/readyz to stop answering 200 after SIGTERM', async () => (await readyz(http)) !== 200, 3_000)
    const late = await new Promise<ServiceError | null>((resolveLate) =>
      client.emit(
        emitRequest(topic, [{ value: bytes('late') }], { instanceId }),
        new Metadata(),
        { deadline: Date.now() + 2_000 },
        (error) => resolveLate(error),
      ),
    )
    expect(late?.code, late?.details).toBe(status.UNAVAILABLE)

    const exit = await within(
      cli.exited,
      shutdownTimeoutMs + 5_000,
      () => `exit after SIGTERM; stderr: ${cli.stderr()}`,
    )
    const exitMs = Date.now() - signalledAt
    expect(exit, cli.stderr()).toEqual({ code: 0, signal: null })
    expect
      .soft(exitMs, `exit latency after SIGTERM (shutdown timeout ${shutdownTimeoutMs} ms)`)
      .toBeLessThan(shutdownTimeoutMs + 2_500)
    await within(reportsEnded, 2_000, () => 'the delivery-report stream to end')

    // Every record acknowledged as received is accounted for, exactly once.
    const inCluster = new Map<string, number>()
    for (const r of await cluster.records(topic))
      inCluster.set(r.value!.toString(), (inCluster.get(r.value!.toString()) ?? 0) + 1)
    const unaccounted: string[] = []
    const deliveredButMissing: string[] = []
    for (const [requestId, values] of sent) {
      values.forEach((value, index) => {
        const key = `${requestId}/${index}`
        if (accounting.delivered.has(key)) {
          if (inCluster.get(value) !== 1) deliveredButMissing.push(value)
        } else if (!accounting.failed.has(key)) unaccounted.push(value)
      })
    }
    const summary = `${reportEvents} report events: ${accounting.delivered.size} records delivered, ${accounting.failed.size} failed, ${unaccounted.length} unaccounted (e.g. ${unaccounted.slice(0, 3).join(', ')}); ${deliveredBeforeSigterm} in the cluster at SIGTERM; exit after ${exitMs} ms; stdout ${JSON.stringify(cli.stdout())}`
    expect(gaps).toEqual([])
    expect(accounting.duplicates).toEqual([])
    expect(deliveredButMissing).toEqual([])
    expect.soft(unaccounted.length, `records acked as received but never reported: ${summary}`).toBe(0)
    expect.soft(accounting.delivered.size + accounting.failed.size, summary).toBe(total)
    expect(inCluster.has('late')).toBe(false)

    const failedLine = /^stopped: (\d+) records failed at shutdown$/m.exec(cli.stdout())
    expect(failedLine, cli.stdout()).not.toBeNull()
    if (variant === 'healthy') {
      expect.soft(accounting.delivered.size, summary).toBe(total)
      expect(inCluster.size).toBe(total)
      expect([...inCluster.values()].reduce((a, b) => a + b, 0)).toBe(total)
      expect(Number(failedLine![1])).toBe(0)
    } else {
      expect(accounting.failed.size).toBeGreaterThan(0)
      const unexpected = [...accounting.failed.values()].filter(
        (error) => !(error!.grpcCode === status.UNAVAILABLE || error!.kafkaErrorName !== ''),
      )
      expect(unexpected.slice(0, 3)).toEqual([])
      // The summary line counts the records failed at the deadline (queued, never sent).
      expect(Number(failedLine![1])).toBeGreaterThan(0)
      expect(Number(failedLine![1])).toBeLessThanOrEqual(accounting.failed.size)
    }
  }

  it('healthy cluster: flushes every queued record, reports it delivered, exits 0 within the deadline', T, () =>
    sigtermScenario('healthy'),
  )

  it('brokers down: reports every undeliverable record failed (none lost), exits 0 within the deadline', T, () =>
    sigtermScenario('brokers-down'),
  )
})
