/**
 * SASL as real KafkaJS meets it: every mechanism KafkaJS has (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512,
 * OAUTHBEARER, and a custom one through `authenticationProvider`) authenticates with good
 * credentials and is refused with bad ones, over plaintext (SASL_PLAINTEXT) and TLS (SASL_SSL).
 */
import {
  connectedProducer,
  consumeWithKafkaJS,
  kafkaFor,
  kafkajsSsl,
  randomTopic,
  TEST_TOKEN_MECHANISM,
} from '@kafka-sidecar/test-support'
import type { Kafka, KafkaConfig, Mechanism, SASLOptions } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EmbeddedKafka, unsecuredToken, type SaslOption } from '../src/index.js'

const FAIL_FAST = { retry: { retries: 0 }, connectionTimeout: 3_000 }

const USERS: readonly SaslOption[] = [
  { mechanism: 'plain', username: 'alice', password: 'plain-secret' },
  { mechanism: 'scram-sha-256', username: 'alice', password: 'secret-256' },
  { mechanism: 'scram-sha-512', username: 'alice', password: 'secret-512' },
  { mechanism: 'scram-sha-512', username: 'bob,=odd', password: 'p,ä=ss' },
  { mechanism: 'oauthbearer' },
  TEST_TOKEN_MECHANISM,
]

/** KafkaJS's side of TEST-TOKEN: an authenticationProvider, as a module for MSK IAM would bring. */
function testTokenSasl(name: string): Mechanism {
  return {
    mechanism: 'test-token',
    authenticationProvider: ({ saslAuthenticate }) => ({
      authenticate: async () => {
        const payload = Buffer.from(`token:${name}`)
        const size = Buffer.alloc(4)
        size.writeInt32BE(payload.length)
        await saslAuthenticate({ request: { encode: () => Buffer.concat([size, payload]) } })
      },
    }),
  }
}

const oauth = (token: string): SASLOptions => ({
  mechanism: 'oauthbearer',
  oauthBearerProvider: async () => ({ value: token }),
})

/** Connecting and sending fail with `refusal` (KafkaJS's connect() speaks only ApiVersions to one broker). */
async function expectRefused(kafka: Kafka, refusal: RegExp): Promise<void> {
  const producer = kafka.producer()
  const connectAndSend = async () => {
    await producer.connect()
    await producer.send({ topic: randomTopic('refused'), messages: [{ value: 'x' }] })
  }
  await expect(connectAndSend()).rejects.toThrow(refusal)
  await producer.disconnect()
}

interface Case {
  readonly name: string
  readonly good: SASLOptions | Mechanism
  readonly bad: SASLOptions | Mechanism
  /** What KafkaJS reports for the bad credentials. */
  readonly refusal: RegExp
}

const CASES: readonly Case[] = [
  {
    name: 'PLAIN',
    good: { mechanism: 'plain', username: 'alice', password: 'plain-secret' },
    bad: { mechanism: 'plain', username: 'alice', password: 'wrong' },
    refusal: /SASL PLAIN authentication failed: Authentication failed: Invalid username or password/,
  },
  {
    name: 'SCRAM-SHA-256',
    good: { mechanism: 'scram-sha-256', username: 'alice', password: 'secret-256' },
    bad: { mechanism: 'scram-sha-256', username: 'alice', password: 'secret-512' },
    refusal: /invalid credentials with SASL mechanism SCRAM-SHA-256/,
  },
  {
    name: 'SCRAM-SHA-512',
    good: { mechanism: 'scram-sha-512', username: 'alice', password: 'secret-512' },
    bad: { mechanism: 'scram-sha-512', username: 'alice', password: 'wrong' },
    refusal: /invalid credentials with SASL mechanism SCRAM-SHA-512/,
  },
  {
    name: 'SCRAM-SHA-512 with , and = in the name and non-ASCII in the password',
    good: { mechanism: 'scram-sha-512', username: 'bob,=odd', password: 'p,ä=ss' },
    bad: { mechanism: 'scram-sha-512', username: 'nobody', password: 'p,ä=ss' },
    // An unknown user is answered as a wrong password: Kafka never says whether a user exists.
    refusal: /Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512/,
  },
  {
    name: 'OAUTHBEARER (unsecured token)',
    good: oauth(unsecuredToken('dave')),
    bad: oauth(unsecuredToken('dave', -60_000)),
    // KafkaJS ignores the JSON error the broker sends as a challenge (RFC 7628) and takes itself to
    // be authenticated; its next request then finds the connection closed, as against Kafka.
    refusal: /closed|Connection|disconnected/i,
  },
  {
    name: 'a custom mechanism (TEST-TOKEN, through authenticationProvider)',
    good: testTokenSasl('carol'),
    bad: testTokenSasl('mallory'),
    refusal: /unknown token/,
  },
]

describe.each([
  { transport: 'plaintext', tls: false, protocol: 'SASL_PLAINTEXT' },
  { transport: 'TLS', tls: true, protocol: 'SASL_SSL' },
])('SASL over $transport', ({ tls, protocol }) => {
  let cluster: EmbeddedKafka
  let base: Partial<KafkaConfig>
  beforeAll(async () => {
    cluster = await EmbeddedKafka.start({ brokers: 2, tls, sasl: USERS })
    base = tls ? { ssl: kafkajsSsl(cluster) } : {}
  })
  afterAll(() => cluster.stop())

  it(`says ${protocol} and lists the enabled mechanisms`, () => {
    expect(cluster.securityProtocol).toBe(protocol)
    expect(cluster.saslMechanisms).toEqual(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER', 'TEST-TOKEN'])
  })

  it.each(CASES)('$name: KafkaJS authenticates and produces; bad credentials are refused', async (c) => {
    const topic = randomTopic('sasl')
    const producer = await connectedProducer(kafkaFor(cluster, 'sasl-test', { ...base, sasl: c.good }))
    await producer.send({ topic, messages: [{ value: c.name }] })
    expect((await cluster.records(topic)).map((r) => r.value?.toString())).toEqual([c.name])

    await expectRefused(kafkaFor(cluster, 'sasl-bad', { ...base, ...FAIL_FAST, sasl: c.bad }), c.refusal)
  })

  it('serves a KafkaJS consumer group that authenticated with SCRAM-SHA-512', async () => {
    const topic = randomTopic('sasl-consume')
    const sasl = CASES[2]!.good
    const producer = await connectedProducer(kafkaFor(cluster, 'sasl-producer', { ...base, sasl }))
    await producer.send({ topic, messages: [{ value: 'one' }, { value: 'two' }] })
    const consumed = await consumeWithKafkaJS(cluster, topic, 2, { ...base, sasl })
    expect(consumed.map((m) => m.value?.toString())).toEqual(['one', 'two'])
  })

  it('refuses a client that does not authenticate at all', async () => {
    await expectRefused(kafkaFor(cluster, 'no-sasl', { ...base, ...FAIL_FAST }), /closed|Connection|disconnected/i)
  })
})

describe('OAUTHBEARER with a validator given in code', () => {
  it('accepts what the validator accepts, with the principal it names', async () => {
    const seen: string[] = []
    const cluster = await EmbeddedKafka.start({
      brokers: 1,
      sasl: [
        {
          mechanism: 'oauthbearer',
          validate: (token) => {
            seen.push(token)
            if (token !== 'opaque-good') throw new Error('no')
            return { principal: 'svc' }
          },
        },
      ],
    })
    try {
      const producer = await connectedProducer(kafkaFor(cluster, 'oauth', { sasl: oauth('opaque-good') }))
      await producer.send({ topic: randomTopic('oauth'), messages: [{ value: 'x' }] })
      await expectRefused(kafkaFor(cluster, 'oauth-bad', { ...FAIL_FAST, sasl: oauth('opaque-bad') }), /closed/i)
      expect(seen).toContain('opaque-bad')
    } finally {
      await cluster.stop()
    }
  })
})
