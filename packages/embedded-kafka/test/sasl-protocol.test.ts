/**
 * SASL on the wire, request by request, as Kafka's SaslServerAuthenticator answers it, and hostile
 * input during authentication: each case checks the answer (or the close), the reason logged, and
 * that the broker goes on serving a client that authenticates properly.
 */
import { randomBytes } from 'node:crypto'
import { connectedProducer, kafkaFor, randomTopic, startCluster } from '@kafka-sidecar/test-support'
import { describe, expect, it } from 'vitest'
import { SaslAuthenticationError, unsecuredToken, type EmbeddedKafka, type EmbeddedKafkaOptions } from '../src/index.js'
import { Metadata } from '../src/apis/03-metadata.js'
import { SaslHandshake } from '../src/apis/17-sasl-handshake.js'
import { ApiVersions } from '../src/apis/18-api-versions.js'
import { SaslAuthenticate } from '../src/apis/36-sasl-authenticate.js'
import { ErrorCode } from '../src/protocol/error-codes.js'
import { SASL_MAX_RECEIVE_BYTES } from '../src/server/sasl-session.js'
import type { Logger } from '../src/server/logger.js'
import { frame, openRaw, requestHeader, type RawClient } from './raw-client.js'
import { ScramClient } from './sasl/scram-client.js'

const ALICE = { mechanism: 'scram-sha-512', username: 'alice', password: 'secret' } as const

interface Logged {
  readonly level: string
  readonly message: string
}

async function saslCluster(options: EmbeddedKafkaOptions = {}) {
  const logged: Logged[] = []
  const logger: Logger = (level, message) => void logged.push({ level, message })
  const cluster = await startCluster({
    brokers: 1,
    sasl: [ALICE, { mechanism: 'plain', username: 'alice', password: 'secret' }, { mechanism: 'oauthbearer' }],
    logger,
    ...options,
  })
  return { cluster, logged, open: () => openRaw(cluster.brokers()[0]!) }
}

/** A KafkaJS producer that authenticates with SCRAM-SHA-512 still writes: the broker is unharmed. */
async function expectServes(cluster: EmbeddedKafka): Promise<void> {
  const producer = await connectedProducer(kafkaFor(cluster, 'after', { sasl: ALICE }))
  await producer.send({ topic: randomTopic('after'), messages: [{ value: 'still serving' }] })
}

async function expectClosedFor(client: RawClient, logged: readonly Logged[], reason: RegExp): Promise<void> {
  await client.waitForClose()
  expect(logged.map((l) => l.message)).toContainEqual(expect.stringMatching(reason))
}

async function handshake(client: RawClient, mechanism: string) {
  return client.roundTrip(SaslHandshake, 1, { mechanism })
}

async function scramUpToFinal(client: RawClient, scram: ScramClient): Promise<Buffer> {
  expect((await handshake(client, 'SCRAM-SHA-512')).errorCode).toBe(ErrorCode.NONE)
  const first = await client.roundTrip(SaslAuthenticate, 1, { authBytes: scram.first })
  expect(first.errorCode).toBe(ErrorCode.NONE)
  return first.authBytes
}

describe('SASL requests on the wire', () => {
  it('SCRAM-SHA-512 by hand: the broker proves it knows the credential, then answers Metadata', async () => {
    const { open } = await saslCluster()
    const client = await open()
    const versions = await client.roundTrip(ApiVersions, 3, {})
    expect(versions.apiKeys.map((k) => k.apiKey)).toEqual(expect.arrayContaining([17, 36]))
    const handshakeAnswer = await handshake(client, 'SCRAM-SHA-512')
    expect(handshakeAnswer).toEqual({ errorCode: 0, mechanisms: ['SCRAM-SHA-512', 'PLAIN', 'OAUTHBEARER'] })
    const scram = new ScramClient('sha512', 'alice', 'secret')
    const first = await client.roundTrip(SaslAuthenticate, 2, { authBytes: scram.first })
    const final = await client.roundTrip(SaslAuthenticate, 2, { authBytes: scram.final(first.authBytes) })
    expect(final).toMatchObject({ errorCode: 0, errorMessage: null, sessionLifetimeMs: 0 })
    expect(scram.verifies(final.authBytes)).toBe(true)
    const metadata = await client.roundTrip(Metadata, 1, { topics: null })
    expect(metadata.brokers).toHaveLength(1)
  })

  it("a wrong password: SASL_AUTHENTICATION_FAILED with Kafka's message, then the connection closes", async () => {
    const { cluster, logged, open } = await saslCluster()
    const client = await open()
    const scram = new ScramClient('sha512', 'alice', 'secret')
    const serverFirst = await scramUpToFinal(client, scram)
    const final = await client.roundTrip(SaslAuthenticate, 1, { authBytes: scram.final(serverFirst, 'guess') })
    expect(final).toMatchObject({
      errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED,
      errorMessage:
        'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512',
    })
    await expectClosedFor(client, logged, /SASL SCRAM-SHA-512 authentication failed/)
    expect(logged.map((l) => l.message).join('\n')).not.toContain('guess')
    await expectServes(cluster)
  })

  it('an unknown mechanism: UNSUPPORTED_SASL_MECHANISM with the enabled list, then closed', async () => {
    const { cluster, logged, open } = await saslCluster()
    const client = await open()
    expect(await handshake(client, 'GSSAPI')).toEqual({
      errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM,
      mechanisms: ['SCRAM-SHA-512', 'PLAIN', 'OAUTHBEARER'],
    })
    await expectClosedFor(client, logged, /unsupported SASL mechanism "GSSAPI" \(enabled: SCRAM-SHA-512, PLAIN/)
    await expectServes(cluster)
  })

  it("OAUTHBEARER: a refused token gets RFC 7628 JSON, the client's %x01 gets the failure, then closed", async () => {
    const { logged, open } = await saslCluster()
    const client = await open()
    await handshake(client, 'OAUTHBEARER')
    const expired = Buffer.from(`n,,\u0001auth=Bearer ${unsecuredToken('d', -5)}\u0001\u0001`)
    const first = await client.roundTrip(SaslAuthenticate, 1, { authBytes: expired })
    expect(first).toMatchObject({ errorCode: 0, authBytes: Buffer.from('{"status":"invalid_token"}') })
    const second = await client.roundTrip(SaslAuthenticate, 1, { authBytes: Buffer.from([1]) })
    expect(second).toMatchObject({
      errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED,
      errorMessage: '{"status":"invalid_token"}',
    })
    await expectClosedFor(client, logged, /OAUTHBEARER authentication failed/)
  })

  it('a second SaslHandshake after authentication is ILLEGAL_SASL_STATE, and the connection stays open', async () => {
    const { open } = await saslCluster()
    const client = await open()
    await handshake(client, 'PLAIN')
    const plain = await client.roundTrip(SaslAuthenticate, 0, { authBytes: Buffer.from('\u0000alice\u0000secret') })
    expect(plain.errorCode).toBe(0)
    expect((await handshake(client, 'PLAIN')).errorCode).toBe(ErrorCode.ILLEGAL_SASL_STATE)
    const again = await client.roundTrip(SaslAuthenticate, 0, { authBytes: Buffer.from('x') })
    expect(again).toMatchObject({ errorCode: ErrorCode.ILLEGAL_SASL_STATE })
    expect(await client.staysOpenFor(100)).toBe(true)
  })

  it('a plaintext listener answers both SASL requests with ILLEGAL_SASL_STATE and stays open', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const client = await openRaw(cluster.brokers()[0]!)
    expect(await handshake(client, 'PLAIN')).toEqual({ errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] })
    const answer = await client.roundTrip(SaslAuthenticate, 1, { authBytes: Buffer.from('\u0000a\u0000b') })
    expect(answer.errorCode).toBe(ErrorCode.ILLEGAL_SASL_STATE)
    expect(await client.staysOpenFor(100)).toBe(true)
  })
})

describe('hostile input during SASL authentication', () => {
  it('Metadata before authenticating is not answered: the connection closes', async () => {
    const { cluster, logged, open } = await saslCluster()
    const client = await open()
    await client.send(Metadata, 1, { topics: null })
    await expectClosedFor(client, logged, /Metadata before SASL authentication/)
    await expectServes(cluster)
  })

  it('SaslAuthenticate before SaslHandshake closes the connection', async () => {
    const { cluster, logged, open } = await saslCluster()
    const client = await open()
    await client.send(SaslAuthenticate, 1, { authBytes: Buffer.from('\u0000alice\u0000secret') })
    await expectClosedFor(client, logged, /SaslAuthenticate before SaslHandshake/)
    await expectServes(cluster)
  })

  it('a request other than SaslAuthenticate in the middle of an exchange closes the connection', async () => {
    const { logged, open } = await saslCluster()
    const client = await open()
    await scramUpToFinal(client, new ScramClient('sha512', 'alice', 'secret'))
    await client.send(ApiVersions, 0, {})
    await expectClosedFor(client, logged, /ApiVersions during SASL authentication/)
  })

  it('garbage frames, garbage SASL messages and garbage bytes each close only their connection', async () => {
    const { cluster, open } = await saslCluster()
    const bystander = await open()
    await handshake(bystander, 'SCRAM-SHA-512')
    for (let i = 0; i < 20; i++) {
      const client = await open()
      const kind = i % 3
      // A size of 16 MiB or more (first byte at least 1): over the limit, so closed at once rather
      // than waited on, whatever the rest says.
      if (kind === 0) await client.write(Buffer.concat([Buffer.from([1 + (i % 127)]), randomBytes(63)]))
      else {
        await handshake(client, i % 2 ? 'SCRAM-SHA-512' : 'PLAIN')
        if (kind === 1) await client.send(SaslAuthenticate, 1, { authBytes: randomBytes(1 + (i % 50)) })
        else await client.write(frame(Buffer.concat([requestHeader(36, 1, 9), randomBytes(3)])))
      }
      if (kind === 1) {
        const answer = await client.receive(SaslAuthenticate, 1)
        expect(answer.body.errorCode).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED)
      }
      await client.waitForClose()
    }
    const scram = new ScramClient('sha512', 'alice', 'secret')
    const first = await bystander.roundTrip(SaslAuthenticate, 1, { authBytes: scram.first })
    expect(
      (await bystander.roundTrip(SaslAuthenticate, 1, { authBytes: scram.final(first.authBytes) })).errorCode,
    ).toBe(0)
    await expectServes(cluster)
  })

  it(`a frame over ${SASL_MAX_RECEIVE_BYTES} bytes before authentication is refused unread; after, the usual limit holds`, async () => {
    const { cluster, logged, open } = await saslCluster()
    const client = await open()
    await handshake(client, 'PLAIN')
    const size = Buffer.alloc(4)
    size.writeInt32BE(SASL_MAX_RECEIVE_BYTES + 1)
    await client.write(Buffer.concat([size, requestHeader(36, 1, 5)]))
    await expectClosedFor(client, logged, /sasl\.server\.max\.receive\.size/)

    const authenticated = await open()
    await handshake(authenticated, 'PLAIN')
    await authenticated.roundTrip(SaslAuthenticate, 1, { authBytes: Buffer.from('\u0000alice\u0000secret') })
    await authenticated.write(Buffer.concat([size, requestHeader(3, 1, 6)]))
    expect(await authenticated.staysOpenFor(200)).toBe(true) // waiting for the rest of a frame it accepts
    await expectServes(cluster)
  })

  it('after SaslHandshake v0, SASL messages go as bare frames both ways; a refusal just closes (KIP-152)', async () => {
    const { logged, open } = await saslCluster()
    const good = await open()
    expect((await good.roundTrip(SaslHandshake, 0, { mechanism: 'PLAIN' })).errorCode).toBe(0)
    await good.write(frame(Buffer.from('\u0000alice\u0000secret')))
    expect(await good.nextFrame()).toEqual(Buffer.alloc(0)) // PLAIN's empty answer, size-prefixed
    expect((await good.roundTrip(Metadata, 1, { topics: null })).brokers).toHaveLength(1)

    const bad = await open()
    await bad.roundTrip(SaslHandshake, 0, { mechanism: 'PLAIN' })
    await bad.write(frame(Buffer.from('\u0000alice\u0000wrong')))
    await expectClosedFor(bad, logged, /Invalid username or password/)
    expect(bad.pendingBytes).toBe(0)
  })

  it('a custom mechanism that throws something else fails authentication generically and logs it', async () => {
    const { cluster, logged, open } = await saslCluster({
      sasl: [
        ALICE,
        {
          mechanism: 'BROKEN',
          start: () => ({
            respond: () => {
              throw new TypeError('bug in the test mechanism')
            },
          }),
        },
        {
          mechanism: 'STRICT',
          start: () => ({
            respond: () => {
              throw new SaslAuthenticationError('strictly no')
            },
          }),
        },
      ],
    })
    const broken = await open()
    await handshake(broken, 'BROKEN')
    expect(await broken.roundTrip(SaslAuthenticate, 1, { authBytes: Buffer.from('x') })).toMatchObject({
      errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED,
      errorMessage: 'Authentication failed during authentication due to invalid credentials with SASL mechanism BROKEN',
    })
    expect(logged).toContainEqual({ level: 'error', message: 'SASL mechanism failed unexpectedly' })
    const strict = await open()
    await handshake(strict, 'STRICT')
    expect(await strict.roundTrip(SaslAuthenticate, 1, { authBytes: Buffer.from('x') })).toMatchObject({
      errorMessage: 'strictly no',
    })
    await expectServes(cluster)
  })
})
