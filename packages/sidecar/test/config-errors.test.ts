/**
 * startSidecar refuses every wrongly typed or inconsistent option with a SidecarConfigError that
 * names it, before binding anything (bad-input.test.ts covers brokers, limits, addresses, the
 * token's length and unknown options; cli.test.ts the same through variables and flags). Options
 * from code are typed only by TypeScript, so a JavaScript caller or a config file can hand over
 * anything: before these checks, `allowedTopics: 'orders'` started a sidecar that answered every
 * request with INTERNAL, and `logLevel: 'loud'` was silently ignored. A secret's value is never
 * echoed. Afterwards a correct configuration starts and serves.
 */
import { existsSync } from 'node:fs'
import { createConnection } from 'node:net'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { freePort, randomTopic, startCluster, startTestSidecar, tempDir } from '@kafka-sidecar/test-support'
import { SidecarConfigError, startSidecar, type RunningSidecar, type StartOptions } from '../src/index.js'
import { bearer, bytes, emit, emitRequest, sidecarClient } from './helpers.js'

async function refusedStart(
  options: Record<string, unknown>,
): Promise<{ error: unknown; socketPath: string; port: number }> {
  const socketPath = join(await tempDir(), 'sidecar.sock')
  const port = await freePort()
  const all = {
    brokers: ['127.0.0.1:9092'],
    listen: `unix://${socketPath}`,
    http: `127.0.0.1:${port}`,
    logLevel: 'nothing',
    ...options,
  }
  let started: RunningSidecar | null = null
  const error = await startSidecar(all as StartOptions).then(
    (sidecar) => {
      started = sidecar
      return null
    },
    (e: unknown) => e,
  )
  if (started) await (started as RunningSidecar).stop()
  return { error, socketPath, port }
}

const TOKEN_WITH_NEWLINE = `${'s3cr3t-'.repeat(4)}\n`

describe('startSidecar refuses wrongly typed options, naming them', () => {
  it.each<[string, Record<string, unknown>, string, string]>([
    [
      'logLevel: "loud"',
      { logLevel: 'loud' },
      'logLevel',
      'expected one of nothing, error, warn, info, debug, got "loud"',
    ],
    [
      'saslMechanism: "GSSAPI" (a mechanism KafkaJS does not implement, without a module)',
      { saslMechanism: 'GSSAPI', saslUsername: 'u', saslPassword: 'p' },
      'saslMechanism',
      'unknown mechanism "GSSAPI": expected plain, scram-sha-256, scram-sha-512, oauthbearer, or a mechanism KAFKA_SASL_MECHANISM_MODULE provides',
    ],
    [
      'allowedTopics: "orders" (a string, not a list)',
      { allowedTopics: 'orders' },
      'allowedTopics',
      'expected a list of strings, got "orders"',
    ],
    [
      'allowedTopics with a number in the list',
      { allowedTopics: ['orders', 7] },
      'allowedTopics',
      'expected a list of strings, got ["orders",7]',
    ],
    [
      'allowedTopics with an entry no topic can match',
      { allowedTopics: ['orders', 'payment events*'] },
      'allowedTopics',
      "entry \"payment events*\" can never match a topic (topic name \"payment events\" contains a character other than ASCII letters, digits, '.', '_' and '-'); entries are topic names, or prefixes ending in *",
    ],
    ['clientId: 5', { clientId: 5 }, 'clientId', 'expected a string, got 5'],
    [
      'http: 9464 (a number, not an address)',
      { http: 9464 },
      'http',
      'expected unix:///path.sock or host:port (or null), got 9464',
    ],
    ['listen: null', { listen: null }, 'listen', 'expected unix:///path.sock or host:port, got null'],
    ['allowNonLoopback: "yes"', { allowNonLoopback: 'yes' }, 'allowNonLoopback', 'expected a boolean, got "yes"'],
    ['maxQueuedRecords: 1.5', { maxQueuedRecords: 1.5 }, 'maxQueuedRecords', 'expected an integer >= 1, got 1.5'],
    [
      'maxRequestBytes: 512 (below 1 KiB)',
      { maxRequestBytes: 512 },
      'maxRequestBytes',
      'expected an integer >= 1024, got 512',
    ],
    [
      'kafkaProbeIntervalMs: 10',
      { kafkaProbeIntervalMs: 10 },
      'kafkaProbeIntervalMs',
      'expected an integer >= 100, got 10',
    ],
    ['lingerMs: -1', { lingerMs: -1 }, 'lingerMs', 'expected an integer >= 0, got -1'],
    [
      'requestTimeoutMs above 30000 (clients wait no longer)',
      { requestTimeoutMs: 60_000 },
      'requestTimeoutMs',
      'expected an integer <= 30000, got 60000',
    ],
    [
      'maxQueuedBytesPerPartition above maxQueuedBytes',
      { maxQueuedBytes: 1_000_000, maxQueuedBytesPerPartition: 2_000_000 },
      'maxQueuedBytesPerPartition',
      'must not exceed maxQueuedBytes',
    ],
    [
      'maxRecordBytes above maxQueuedBytesPerPartition',
      { maxQueuedBytesPerPartition: 100_000, maxRecordBytes: 200_000 },
      'maxRecordBytes',
      'must not exceed maxQueuedBytesPerPartition (such a record could never be queued)',
    ],
    [
      'a SASL mechanism without username and password',
      { saslMechanism: 'scram-sha-256' },
      'saslMechanism',
      'needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE)',
    ],
    [
      'listen on a relative socket path',
      { listen: 'unix://sidecar.sock' },
      'listen',
      '"unix://sidecar.sock" must be unix:///absolute/path.sock',
    ],
    ['an HTTP port beyond 65535', { http: '127.0.0.1:70000' }, 'http', 'port 70000 is out of range'],
    [
      'a token that is not a string (not echoed)',
      { token: 1234567890123456 },
      'token',
      'expected a string, got number',
    ],
    [
      'a SASL password that is not a string (not echoed)',
      { saslMechanism: 'plain', saslUsername: 'u', saslPassword: 98765432109876 },
      'saslPassword',
      'expected a string, got number',
    ],
    [
      'a token with a trailing newline (not echoed)',
      { token: TOKEN_WITH_NEWLINE },
      'token',
      'must be printable ASCII without leading or trailing spaces: clients send it as an HTTP/2 header value',
    ],
  ])('%s', async (_name, options, option, message) => {
    const { error, socketPath, port } = await refusedStart(options)
    expect(error).toBeInstanceOf(SidecarConfigError)
    expect({ option: (error as SidecarConfigError).option, message: (error as SidecarConfigError).message }).toEqual({
      option,
      message: `invalid configuration ${option}: ${message}`,
    })
    for (const secret of ['1234567890123456', '98765432109876', TOKEN_WITH_NEWLINE.trim()])
      expect((error as Error).message).not.toContain(secret)
    // Refused before binding: no socket file, the HTTP port free.
    expect(existsSync(socketPath)).toBe(false)
    const probe = createConnection(port, '127.0.0.1')
    const outcome = await new Promise<string | undefined>((resolve) => {
      probe.once('connect', () => resolve('connected'))
      probe.once('error', (e: NodeJS.ErrnoException) => resolve(e.code))
    })
    probe.destroy()
    expect(outcome).toBe('ECONNREFUSED')
  })

  it('after all of the above, a correct configuration starts and serves', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const topic = randomTopic('config')
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster, {
      logLevel: 'warn',
      saslMechanism: null,
      allowedTopics: [topic],
      clientId: 'five',
      token: 'a-token-of-printable-ascii with spaces',
    })
    expect(sidecar.config.allowedTopics).toEqual([topic])
    const ack = await emit(
      sidecarClient(sidecar),
      emitRequest(topic, [{ value: bytes('configured') }]),
      bearer('a-token-of-printable-ascii with spaces'),
    )
    expect(ack.results).toEqual([expect.objectContaining({ topic, error: undefined })])
    expect((await cluster.records(topic)).map((r) => r.value?.toString())).toEqual(['configured'])
  })
})
