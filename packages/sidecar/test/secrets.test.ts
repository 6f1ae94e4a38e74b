/**
 * Secrets never leave the sidecar: the shared token and the SASL password do not appear in its
 * structured logs (the CLI's JSON lines on stderr, at debug level), on stdout, in /metrics, in
 * replies to clients or in configuration errors that name the token option. security.test.ts
 * checks the same for startSidecar with a logCreator; this file runs the real CLI as a pod does,
 * through startup, refused requests, real traffic and SIGTERM.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js'
import { HealthCheckResponse_ServingStatus, HealthClient, type ProducerSidecarClient } from '@kafka-sidecar/proto'
import {
  grpcTarget,
  randomTopic,
  sidecarStarted,
  spawnProgram,
  startCluster,
  tempDir,
  waitFor,
  type RunningProgram,
} from '@kafka-sidecar/test-support'
import { describe, expect, it, onTestFinished } from 'vitest'
import { bearer, bytes, emit, emitRequest, sidecarClient } from './helpers.js'

const T = { timeout: 20_000 }
const cliPath = fileURLToPath(new URL('../src/cli.ts', import.meta.url))

type Cli = RunningProgram

/** The CLI as a child process with only the given KAFKA_* variables; killed by its PID when the test ends. */
const spawnCli = (env: Record<string, string>, args: readonly string[] = []): Cli =>
  spawnProgram(cliPath, { args, env })

const started = (cli: Cli) => sidecarStarted(cli, 10_000)

async function sigterm(cli: Cli): Promise<void> {
  process.kill(cli.child.pid!, 'SIGTERM')
  expect(await cli.exited).toEqual({ code: 0, signal: null })
}

/** Every stderr line is one JSON object (a structured log line); returns them. */
function jsonLines(stderr: string): Array<Record<string, unknown>> {
  const lines = stderr.split('\n').filter((l) => l !== '')
  return lines.map((line) => {
    expect(() => JSON.parse(line), `not a JSON log line: ${line}`).not.toThrow()
    return JSON.parse(line) as Record<string, unknown>
  })
}

/** The secret as text, and in the encodings a careless log might use. */
function forms(secret: string): string[] {
  return [
    secret,
    Buffer.from(secret).toString('base64'),
    Buffer.from(secret).toString('hex'),
    JSON.stringify(secret).slice(1, -1),
  ]
}

function expectAbsent(where: string, text: string, secrets: readonly string[]): void {
  for (const secret of secrets)
    for (const form of forms(secret))
      expect(text.includes(form), `a secret (${form === secret ? 'as text' : 'encoded'}) in ${where}`).toBe(false)
}

function refusal(
  client: ProducerSidecarClient,
  topic: string,
  metadata = new Metadata(),
): Promise<{ code: string; details: string }> {
  return emit(client, emitRequest(topic, [{ value: bytes('x') }]), metadata).then(
    () => ({ code: 'OK', details: '' }),
    (error: ServiceError) => ({ code: status[error.code]!, details: error.details }),
  )
}

const secretToken = () => `tok-${randomBytes(16).toString('hex')}`

describe('the CLI keeps secrets out of its logs, stdout and /metrics', () => {
  it(
    'token and SASL password: startup, failing SASL connects, wrong and missing tokens, /metrics, SIGTERM',
    T,
    async () => {
      const cluster = await startCluster({ brokers: 1 })
      const token = secretToken()
      const password = `pw-${randomBytes(12).toString('hex')}`
      const cli = spawnCli({
        KAFKA_BROKERS: cluster.bootstrapServers.join(','),
        KAFKA_SIDECAR_LISTEN: `unix://${join(await tempDir(), 's.sock')}`,
        KAFKA_SIDECAR_HTTP: '127.0.0.1:0',
        KAFKA_SIDECAR_TOKEN: token,
        KAFKA_SASL_MECHANISM: 'plain',
        KAFKA_SASL_USERNAME: 'sidecar-user',
        KAFKA_SASL_PASSWORD: password,
        KAFKA_SIDECAR_LOG_LEVEL: 'debug',
        KAFKA_SIDECAR_SHUTDOWN_TIMEOUT_MS: '500',
      })
      const { listening, http } = await started(cli)
      // This cluster has no SASL listener: KafkaJS tries, is refused and logs it; the sidecar retries.
      await waitFor(
        `a failed SASL connect in the logs (stderr: ${cli.stderr().slice(-2000)})`,
        () => /cannot connect to Kafka yet/.test(cli.stderr()),
        15_000,
      )

      // gRPC health answers without a token: NOT_SERVING, since Kafka is not connected.
      const health = new HealthClient(grpcTarget(listening), credentials.createInsecure())
      onTestFinished(() => health.close())
      const serving = await new Promise((resolveCheck, reject) =>
        health.check({ service: '' }, (error, response) => (error ? reject(error) : resolveCheck(response?.status))),
      )
      expect(serving).toBe(HealthCheckResponse_ServingStatus.NOT_SERVING)
      const client = sidecarClient(listening)
      expect(await refusal(client, randomTopic())).toEqual({
        code: 'UNAUTHENTICATED',
        details: 'missing "authorization: Bearer <token>" metadata',
      })
      expect(await refusal(client, randomTopic(), bearer(`${token.slice(0, -1)}x`))).toEqual({
        code: 'UNAUTHENTICATED',
        details: 'invalid token',
      })
      expect(await refusal(client, randomTopic(), bearer(token))).toEqual({
        code: 'UNAVAILABLE',
        details: 'sidecar is not connected to Kafka (not yet, or the brokers stopped answering)',
      })
      const metrics = await (await fetch(`http://${http}/metrics`)).text()
      expect(metrics).toMatch(/^kafka_sidecar_requests_total\{method="Emit",code="UNAUTHENTICATED"\} 2$/m)
      const readyz = await fetch(`http://${http}/readyz`)
      expect(readyz.status).toBe(503)
      await readyz.text()
      await sigterm(cli)

      const logs = jsonLines(cli.stderr())
      expect(logs.length).toBeGreaterThan(3)
      expect(logs.map((l) => l.message)).toEqual(
        expect.arrayContaining(['cannot connect to Kafka yet, retrying', 'stopped']),
      )
      // KafkaJS's own debug lines about the SASL attempt are there too, without the password.
      expect(cli.stderr()).toMatch(/SaslAuthenticate/)
      for (const [where, text] of [
        ['stderr (logs)', cli.stderr()],
        ['stdout', cli.stdout()],
        ['/metrics', metrics],
      ] as const)
        expectAbsent(where, text, [token, password])
    },
  )

  it(
    'token, with real traffic at debug level: accepted and refused requests, delivery, /metrics, SIGTERM',
    T,
    async () => {
      const cluster = await startCluster({ brokers: 1 })
      const topic = randomTopic('secret')
      await cluster.createTopic({ topic, partitions: 1 })
      const token = secretToken()
      const cli = spawnCli(
        {
          KAFKA_BROKERS: cluster.bootstrapServers.join(','),
          KAFKA_SIDECAR_LISTEN: `unix://${join(await tempDir(), 's.sock')}`,
          KAFKA_SIDECAR_HTTP: '127.0.0.1:0',
          KAFKA_SIDECAR_LOG_LEVEL: 'debug',
        },
        // The token as a flag this time (it then sits in the process's argv: prefer the variable).
        ['--token', token],
      )
      const { listening, http } = await started(cli)
      await waitFor(
        '/readyz 200',
        async () =>
          (await fetch(`http://${http}/readyz`).then(
            (r) => r.status,
            () => 0,
          )) === 200,
      )
      const client = sidecarClient(listening)
      const wrong = secretToken()
      expect(await refusal(client, topic, bearer(wrong))).toEqual({ code: 'UNAUTHENTICATED', details: 'invalid token' })
      expect(await refusal(client, 'bad topic!', bearer(token))).toMatchObject({ code: 'INVALID_ARGUMENT' })
      const ack = await emit(client, emitRequest(topic, [{ value: bytes('delivered') }]), bearer(token))
      expect(ack.results).toEqual([expect.objectContaining({ topic, error: undefined })])
      const metrics = await (await fetch(`http://${http}/metrics`)).text()
      expect(metrics).toMatch(/^kafka_sidecar_records_total\{app="test-app",topic="[^"]+",stage="acked"\} 1$/m)
      await sigterm(cli)

      const logs = jsonLines(cli.stderr())
      expect(logs.map((l) => l.message)).toEqual(expect.arrayContaining(['connected to Kafka', 'stopped']))
      for (const [where, text] of [
        ['stderr (logs)', cli.stderr()],
        ['stdout', cli.stdout()],
        ['/metrics', metrics],
      ] as const)
        expectAbsent(where, text, [token, wrong])
      expect((await cluster.records(topic)).map((r) => r.value?.toString())).toEqual(['delivered'])
    },
  )
})

describe('configuration errors name the secret option, never its value', () => {
  const base = { KAFKA_BROKERS: '127.0.0.1:9', KAFKA_SIDECAR_LOG_LEVEL: 'nothing', KAFKA_SIDECAR_HTTP: 'off' }
  const password = `pw-${randomBytes(12).toString('hex')}`
  const shortToken = randomBytes(7).toString('hex') // 14 characters
  const newlineToken = `${secretToken()}\n` // as read from a secret file with its trailing newline

  it.each<{
    name: string
    args: string[]
    env: Record<string, string>
    option: string
    message: string
    secrets: string[]
  }>([
    {
      name: 'a token shorter than 16 characters (variable)',
      args: [],
      env: { KAFKA_SIDECAR_TOKEN: shortToken },
      option: 'KAFKA_SIDECAR_TOKEN',
      message: 'must be at least 16 characters',
      secrets: [shortToken],
    },
    {
      name: 'a token shorter than 16 characters (flag)',
      args: ['--token', shortToken],
      env: {},
      option: '--token',
      message: 'must be at least 16 characters',
      secrets: [shortToken],
    },
    {
      name: 'a token with a trailing newline, which no client could send',
      args: [],
      env: { KAFKA_SIDECAR_TOKEN: newlineToken },
      option: 'KAFKA_SIDECAR_TOKEN',
      message: 'must be printable ASCII without leading or trailing spaces: clients send it as an HTTP/2 header value',
      secrets: [newlineToken.trim()],
    },
    {
      name: 'a SASL mechanism the sidecar does not know, next to a password',
      args: [],
      env: { KAFKA_SASL_MECHANISM: 'GSSAPI', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: password },
      option: 'KAFKA_SASL_MECHANISM',
      message:
        'unknown mechanism "GSSAPI": expected plain, scram-sha-256, scram-sha-512, oauthbearer, or a mechanism KAFKA_SASL_MECHANISM_MODULE provides',
      secrets: [password],
    },
    {
      name: 'a SASL password without its mechanism',
      args: ['--sasl-mechanism', 'scram-sha-512'],
      env: { KAFKA_SASL_PASSWORD: password },
      option: '--sasl-mechanism',
      message: 'needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE)',
      secrets: [password],
    },
  ])('exits 2 on $name', T, async ({ args, env, option, message, secrets }) => {
    const cli = spawnCli({ ...base, ...env }, args)
    const exit = await cli.exited
    expect(exit).toEqual({ code: 2, signal: null })
    expect(cli.stderr()).toBe(`kafka-sidecar: invalid configuration ${option}: ${message}\n`)
    expect(cli.stdout()).toBe('')
    expectAbsent('the error', cli.stderr(), secrets)
  })

  it('--help shows secrets as "(unset)" even when they are set', T, async () => {
    const token = secretToken()
    const cli = spawnCli({ KAFKA_SIDECAR_TOKEN: token, KAFKA_SASL_PASSWORD: password }, ['--help'])
    expect(await cli.exited).toEqual({ code: 0, signal: null })
    expect(cli.stdout()).toMatch(/KAFKA_SIDECAR_TOKEN\n.*default \(unset\)/)
    expectAbsent('--help', cli.stdout() + cli.stderr(), [token, password])
  })
})
