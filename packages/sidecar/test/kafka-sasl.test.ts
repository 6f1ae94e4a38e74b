/**
 * The sidecar authenticating with SASL against an embedded cluster that checks, as Kafka does:
 * PLAIN and SCRAM with a password from a file (its trailing newline dropped) or a variable,
 * OAUTHBEARER with a token from a file, and a mechanism KafkaJS lacks loaded from a module (a test
 * mechanism the cluster accepts, made by the module's createMechanism from
 * KAFKA_SASL_MECHANISM_OPTIONS). A refused authentication makes the sidecar not ready, and
 * /readyz, gRPC health and the log say why (broker, mechanism, SASL_AUTHENTICATION_FAILED) without
 * the password; a password or token rotated into its file is used by the next connection, without
 * a restart.
 */
import { lookup } from 'node:dns/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SaslAuthenticationError, unsecuredToken, type SaslOption } from '@kafka-sidecar/embedded-kafka'
import {
  asText,
  fileWith,
  replaceFile,
  sidecarStarted,
  spawnProgram,
  startCluster,
  startTestSidecar,
  tempDir,
  TEST_TOKEN_MECHANISM,
  waitFor,
} from '@kafka-sidecar/test-support'
import { describe, expect, it } from 'vitest'
import type { StartOptions } from '../src/index.js'
import { writeOneRecord } from './helpers.js'
import { healthCheck, notReadyBecause, readyWithin, startWatchedSidecar } from './readiness-helpers.js'

const T = { timeout: 30_000 }
const PASSWORDS = {
  plain: 'plain-pw-7c1e',
  'scram-sha-256': 'scram256-pw-42d0',
  'scram-sha-512': 'scram512-pw-9b3a',
} as const

const USERS: readonly SaslOption[] = [
  ...Object.entries(PASSWORDS).map(([mechanism, password]) => ({
    mechanism: mechanism as keyof typeof PASSWORDS,
    username: 'sidecar',
    password,
  })),
  { mechanism: 'oauthbearer' },
  TEST_TOKEN_MECHANISM,
]

/**
 * KafkaJS's side of TEST-TOKEN, as a module a pod would mount: createMechanism(options) returns
 * { mechanism, authenticationProvider }, as @jm18457/kafkajs-msk-iam-authentication-mechanism's does.
 */
const TEST_TOKEN_MODULE = `
export function createMechanism({ name }) {
  return {
    mechanism: 'TEST-TOKEN',
    authenticationProvider: ({ saslAuthenticate }) => ({
      authenticate: async () => {
        const payload = Buffer.from('token:' + name)
        const size = Buffer.alloc(4)
        size.writeInt32BE(payload.length)
        await saslAuthenticate({ request: { encode: () => Buffer.concat([size, payload]) } })
      },
    }),
  }
}
`

describe('the sidecar authenticates with each mechanism', () => {
  it.each<[string, boolean, (ca: string | undefined) => Promise<StartOptions>]>([
    [
      'PLAIN over plaintext, the password from a file ending in a newline',
      false,
      async () => ({
        saslMechanism: 'plain',
        saslUsername: 'sidecar',
        saslPasswordFile: await fileWith(`${PASSWORDS.plain}\n`),
      }),
    ],
    [
      'SCRAM-SHA-256 over TLS, the password from a variable',
      true,
      async () => ({
        saslMechanism: 'SCRAM-SHA-256',
        saslUsername: 'sidecar',
        saslPassword: PASSWORDS['scram-sha-256'],
      }),
    ],
    [
      'SCRAM-SHA-512 over TLS, the password from a file ending in CRLF',
      true,
      async () => ({
        saslMechanism: 'scram-sha-512',
        saslUsername: 'sidecar',
        saslPasswordFile: await fileWith(`${PASSWORDS['scram-sha-512']}\r\n`),
      }),
    ],
    [
      'OAUTHBEARER over TLS, the token from a file',
      true,
      async () => ({
        saslMechanism: 'oauthbearer',
        saslOauthbearerTokenFile: await fileWith(`${unsecuredToken('sidecar')}\n`),
      }),
    ],
    [
      'a module’s mechanism (TEST-TOKEN) over TLS, made by its createMechanism from the options',
      true,
      async () => ({
        saslMechanism: 'test-token',
        saslMechanismModule: await fileWith(TEST_TOKEN_MODULE, 'test-token.mjs'),
        saslMechanismOptions: { name: 'carol' },
      }),
    ],
  ])('%s', T, async (_name, tls, options) => {
    const cluster = await startCluster({ brokers: 2, tls, sasl: USERS })
    const ssl = tls ? { ssl: true, sslCaFile: await fileWith(cluster.caCertificate!, 'ca.pem') } : {}
    const sidecar = await startTestSidecar(cluster, { ...ssl, ...(await options(cluster.caCertificate)) })
    await writeOneRecord(sidecar, cluster, 'authenticated')
  })
})

describe('a refused authentication: not ready, why, no secret; the rotated secret is used without a restart', () => {
  it('SCRAM-SHA-512 with a wrong password, then the right one written to KAFKA_SASL_PASSWORD_FILE', T, async () => {
    const cluster = await startCluster({ brokers: 1, tls: true, sasl: USERS })
    const wrong = 'wrong-pw-5e9f0c'
    const passwordFile = await fileWith(`${wrong}\n`)
    const { sidecar, logs } = await startWatchedSidecar(cluster, {
      ssl: true,
      sslCaFile: await fileWith(cluster.caCertificate!, 'ca.pem'),
      saslMechanism: 'scram-sha-512',
      saslUsername: 'sidecar',
      saslPasswordFile: passwordFile,
    })
    const broker = cluster.bootstrapServers[0]!
    const reason = await notReadyBecause(sidecar, /SASL_AUTHENTICATION_FAILED/)
    expect(reason).toBe(
      `not connected to Kafka: cannot connect: SASL_AUTHENTICATION_FAILED from ${broker} (SASL SCRAM-SHA-512 over TLS): SASL SCRAM SHA512 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512`,
    )
    const health = await healthCheck(sidecar)
    expect(health).toEqual({ serving: false, reason: reason.replace('not connected to Kafka: ', '') })
    await waitFor('the failed connect in the log', () =>
      logs.some((l) => l.log.message === 'cannot connect to Kafka yet, retrying'),
    )
    expect(logs.find((l) => l.log.message === 'cannot connect to Kafka yet, retrying')!.log).toMatchObject({
      kafkaError: 'SASL_AUTHENTICATION_FAILED',
      broker,
      connectsWith: 'SASL SCRAM-SHA-512 over TLS',
    })

    await replaceFile(passwordFile, `${PASSWORDS['scram-sha-512']}\n`)
    await readyWithin(sidecar, 10_000)
    await writeOneRecord(sidecar, cluster, 'after the password was rotated')
    const everything = `${asText(logs)}\n${reason}\n${health.reason}`
    for (const secret of [wrong, PASSWORDS['scram-sha-512']]) expect(everything).not.toContain(secret)
  })

  it(
    'OAUTHBEARER with an expired token, then a fresh one written to KAFKA_SASL_OAUTHBEARER_TOKEN_FILE',
    T,
    async () => {
      const cluster = await startCluster({ brokers: 1, sasl: USERS })
      const expired = unsecuredToken('sidecar', 60_000, Date.now() - 3_600_000)
      const tokenFile = await fileWith(expired)
      const { sidecar, logs } = await startWatchedSidecar(cluster, {
        saslMechanism: 'oauthbearer',
        saslOauthbearerTokenFile: tokenFile,
      })
      // The broker answers a refused token with a challenge KafkaJS ignores, then closes (as Kafka).
      const reason = await notReadyBecause(sidecar, /\(SASL OAUTHBEARER over plaintext\)/, 20_000)
      expect(reason).toBe(
        `not connected to Kafka: cannot connect: KafkaJSConnectionClosedError from ${cluster.bootstrapServers[0]} (SASL OAUTHBEARER over plaintext): Closed connection (brokers close the connection when they refuse the token)`,
      )
      // Never ready in between: KafkaJS's connect() takes the refused token for accepted.
      expect(logs.map((l) => l.log.message)).not.toContain('connected to Kafka')

      const fresh = unsecuredToken('sidecar')
      await replaceFile(tokenFile, `${fresh}\n`)
      await readyWithin(sidecar, 15_000)
      await writeOneRecord(sidecar, cluster, 'after the token was refreshed')
      for (const secret of [expired, fresh]) expect(`${asText(logs)}\n${reason}`).not.toContain(secret)
    },
  )

  it(
    'while connected, the file is rotated (to a wrong password): connections open stay, the next new one uses it',
    T,
    async () => {
      const cluster = await startCluster({ brokers: 1, sasl: USERS })
      const passwordFile = await fileWith(PASSWORDS.plain)
      const { sidecar } = await startWatchedSidecar(cluster, {
        saslMechanism: 'plain',
        saslUsername: 'sidecar',
        saslPasswordFile: passwordFile,
      })
      await readyWithin(sidecar, 10_000)
      await replaceFile(passwordFile, 'revoked-pw-0d4e')
      // The connection authenticated before the rotation keeps working.
      await writeOneRecord(sidecar, cluster, 'on the connection opened before')
      // The broker restarts: every connection is new, and reads the file as it is now.
      await cluster.stopBrokers()
      await cluster.startBrokers()
      const reason = await notReadyBecause(sidecar, /SASL_AUTHENTICATION_FAILED/)
      expect(reason).toMatch(
        /^not connected to Kafka: the brokers stopped answering: SASL_AUTHENTICATION_FAILED from 127\.0\.0\.1:\d+ \(SASL PLAIN over plaintext\): /,
      )
      await replaceFile(passwordFile, PASSWORDS.plain)
      await waitFor('/readyz 200', async () => (await fetch(`http://${sidecar.httpAddress}/readyz`)).status === 200)
      await writeOneRecord(sidecar, cluster, 'after the password was put back')
    },
  )

  it('a mechanism the brokers do not enable: UNSUPPORTED_SASL_MECHANISM', T, async () => {
    const cluster = await startCluster({
      brokers: 1,
      sasl: [{ mechanism: 'scram-sha-512', username: 'u', password: 'p' }],
    })
    const { sidecar } = await startWatchedSidecar(cluster, {
      saslMechanism: 'plain',
      saslUsername: 'u',
      saslPassword: 'p',
    })
    const reason = await notReadyBecause(sidecar, /UNSUPPORTED_SASL_MECHANISM/)
    expect(reason).toMatch(
      /^not connected to Kafka: cannot connect: UNSUPPORTED_SASL_MECHANISM from .* \(SASL PLAIN over plaintext\): /,
    )
  })

  it(
    'the module’s mechanism refused (an unknown name): SASL_AUTHENTICATION_FAILED with the broker’s message',
    T,
    async () => {
      const cluster = await startCluster({ brokers: 1, sasl: USERS })
      const { sidecar } = await startWatchedSidecar(cluster, {
        saslMechanism: 'TEST-TOKEN',
        saslMechanismModule: await fileWith(TEST_TOKEN_MODULE, 'test-token.mjs'),
        saslMechanismOptions: { name: 'mallory' },
      })
      const reason = await notReadyBecause(sidecar, /SASL_AUTHENTICATION_FAILED/)
      expect(reason).toBe(
        `not connected to Kafka: cannot connect: SASL_AUTHENTICATION_FAILED from ${cluster.bootstrapServers[0]} (SASL TEST-TOKEN over plaintext): unknown token`,
      )
    },
  )
})

describe('what an operator must not miss, and what no output may hold', () => {
  it(
    'a broker that echoes a mechanism option (a credential): the whole message is withheld in /readyz, health and every log line, KafkaJS’s included',
    T,
    async () => {
      const credential = 'AKIA-echoed-access-key-5f3e'
      // A broker whose refusal quotes what the client sent, as a careless custom broker might.
      const echoing: SaslOption = {
        mechanism: 'TEST-TOKEN',
        start: () => ({
          respond: (message) => {
            throw new SaslAuthenticationError(`unknown token ${message.toString('utf8')}`)
          },
        }),
      }
      const cluster = await startCluster({ brokers: 1, sasl: [echoing] })
      const { sidecar, logs } = await startWatchedSidecar(cluster, {
        saslMechanism: 'TEST-TOKEN',
        saslMechanismModule: await fileWith(TEST_TOKEN_MODULE, 'test-token.mjs'),
        saslMechanismOptions: { name: credential },
      })
      const reason = await notReadyBecause(sidecar, /SASL_AUTHENTICATION_FAILED/)
      expect(reason).toBe(
        `not connected to Kafka: cannot connect: SASL_AUTHENTICATION_FAILED from ${cluster.bootstrapServers[0]} (SASL TEST-TOKEN over plaintext): message withheld: it contained a configured secret`,
      )
      expect(reason).toBe(`not connected to Kafka: ${(await healthCheck(sidecar)).reason}`)
      expect(asText(logs)).toMatch(/message withheld: it contained a configured secret/)
      expect(`${asText(logs)}\n${reason}`).not.toContain(credential)
    },
  )

  it('a one-letter password is withheld whole, never cut out of the words around it', T, async () => {
    const cluster = await startCluster({ brokers: 1, sasl: USERS })
    const { sidecar, logs } = await startWatchedSidecar(cluster, {
      saslMechanism: 'plain',
      saslUsername: 'sidecar',
      saslPassword: 'a',
    })
    const reason = await notReadyBecause(sidecar, /SASL_AUTHENTICATION_FAILED/)
    expect(reason).toMatch(/\(SASL PLAIN over plaintext\): message withheld: it contained a configured secret$/)
    expect(`${asText(logs)}\n${reason}`).not.toMatch(/\[secret\]/)
  })

  it('a broker asking for two billion SCRAM iterations is refused at once, not computed', T, async () => {
    // A SCRAM server whose first answer asks for a cost that would keep libuv's threads busy for minutes.
    const costly: SaslOption = {
      mechanism: 'SCRAM-SHA-512',
      start: () => ({
        respond: (message) => {
          const nonce = /r=([^,]+)/.exec(message.toString('utf8'))![1]
          return { done: false, challenge: Buffer.from(`r=${nonce}server,s=c2FsdA==,i=2000000000`) }
        },
      }),
    }
    const cluster = await startCluster({ brokers: 1, sasl: [costly] })
    const { sidecar } = await startWatchedSidecar(cluster, {
      saslMechanism: 'scram-sha-512',
      saslUsername: 'sidecar',
      saslPassword: PASSWORDS['scram-sha-512'],
    })
    const reason = await notReadyBecause(sidecar, /SCRAM iterations/, 10_000)
    expect(reason).toMatch(
      /the broker asked for 2000000000 SCRAM iterations, more than the 100000 the sidecar allows \(Kafka allows at most 16384\)$/,
    )
    // The thread pool is free: a DNS lookup (libuv's pool too) answers at once.
    const started = performance.now()
    await lookup('localhost')
    expect(performance.now() - started).toBeLessThan(5_000)
  })

  it.each<[string, StartOptions, RegExp]>([
    [
      'SASL PLAIN without TLS',
      { saslMechanism: 'plain', saslUsername: 'sidecar', saslPassword: PASSWORDS.plain },
      /^SASL PLAIN without TLS \(KAFKA_SSL is off\): the password crosses the network in clear text$/,
    ],
    [
      'certificates not verified',
      { ssl: true, sslRejectUnauthorized: false },
      /^KAFKA_SSL_REJECT_UNAUTHORIZED=false: the brokers' certificates are not verified/,
    ],
  ])('%s: a warning at start, and the connection described as it is', T, async (_name, options, warning) => {
    const tls = options.ssl === true
    const cluster = await startCluster({ brokers: 1, tls, ...(tls ? {} : { sasl: USERS }) })
    const { sidecar, logs } = await startWatchedSidecar(cluster, options)
    await readyWithin(sidecar, 10_000)
    const warnings = logs.filter((entry) => entry.label === 'WARN').map((entry) => entry.log.message)
    expect(warnings.filter((message) => warning.test(message))).toHaveLength(1)
    const described = logs.find((entry) => warning.test(entry.log.message))!.log
    expect(described.connectsWith).toBe(options.ssl ? 'TLS (certificates not verified)' : 'SASL PLAIN over plaintext')
  })
})

describe('the CLI, configured as a pod is', () => {
  it(
    'KAFKA_SASL_* variables and a password file: refused, then ready once the file is rotated; the password in no output, at debug',
    T,
    async () => {
      const cluster = await startCluster({ brokers: 1, tls: true, sasl: USERS })
      const wrong = 'wrong-pw-a71b2c'
      const passwordFile = await fileWith(`${wrong}\n`)
      const cli = spawnProgram(fileURLToPath(new URL('../src/cli.ts', import.meta.url)), {
        env: {
          KAFKA_BROKERS: cluster.bootstrapServers.join(','),
          KAFKA_SIDECAR_LISTEN: `unix://${join(await tempDir(), 's.sock')}`,
          KAFKA_SIDECAR_HTTP: '127.0.0.1:0',
          KAFKA_SIDECAR_LOG_LEVEL: 'debug',
          KAFKA_SIDECAR_SHUTDOWN_TIMEOUT_MS: '500',
          KAFKA_SSL: 'true',
          KAFKA_SSL_CA_FILE: await fileWith(cluster.caCertificate!, 'ca.pem'),
          KAFKA_SASL_MECHANISM: 'PLAIN',
          KAFKA_SASL_USERNAME: 'sidecar',
          KAFKA_SASL_PASSWORD_FILE: passwordFile,
        },
      })
      const { http } = await sidecarStarted(cli, 10_000)
      const readyz = async () => {
        const response = await fetch(`http://${http}/readyz`)
        return { status: response.status, text: await response.text() }
      }
      let last = { status: 0, text: '' }
      await waitFor(
        () => `/readyz to say SASL_AUTHENTICATION_FAILED (last: ${last.text})`,
        async () => /SASL_AUTHENTICATION_FAILED/.test((last = await readyz()).text),
      )
      expect(last).toEqual({
        status: 503,
        text: `not connected to Kafka: cannot connect: SASL_AUTHENTICATION_FAILED from ${cluster.bootstrapServers[0]} (SASL PLAIN over TLS): SASL PLAIN authentication failed: Authentication failed: Invalid username or password\n`,
      })
      await replaceFile(passwordFile, PASSWORDS.plain)
      await waitFor('/readyz 200', async () => (await readyz()).status === 200, 10_000)
      process.kill(cli.child.pid!, 'SIGTERM')
      expect(await cli.exited).toEqual({ code: 0, signal: null })
      const output = `${cli.stdout()}\n${cli.stderr()}`
      expect(output).toMatch(/SaslAuthenticate/)
      for (const secret of [wrong, PASSWORDS.plain])
        for (const form of [secret, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('hex')])
          expect(output).not.toContain(form)
    },
  )
})
