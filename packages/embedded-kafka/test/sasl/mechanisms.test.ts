/**
 * The mechanisms alone, without a socket. SCRAM's messages are the first bytes an unauthenticated
 * client controls, so their parsing is checked with generated input (fast-check): every message a
 * client may write reads back as written, and anything else is refused with a parse error, never
 * another exception. The exchanges are driven by a client written from the RFC (scram-client.ts).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SaslAuthenticationError, type SaslExchange } from '../../src/sasl/mechanism.js'
import { oauthBearerMechanism, parseInitialResponse } from '../../src/sasl/oauthbearer.js'
import { checkPlain } from '../../src/sasl/plain.js'
import { scramCredential, scramMechanism, type ScramHash } from '../../src/sasl/scram.js'
import {
  decodeSaslName,
  encodeSaslName,
  parseClientFinal,
  parseClientFirst,
  ScramParseError,
} from '../../src/sasl/scram-messages.js'
import { UnsecuredTokenError, unsecuredToken, validateUnsecuredToken } from '../../src/sasl/unsecured-jws.js'
import { ScramClient } from './scram-client.js'

/** 7-bit names, ',' and '=' included (they are escaped on the wire). */
const saslName = fc.string({ unit: fc.integer({ min: 1, max: 0x7f }).map((c) => String.fromCharCode(c)), minLength: 1 })
/** A nonce: printable ASCII without ','. */
const nonce = fc.string({
  unit: fc
    .integer({ min: 0x21, max: 0x7e })
    .filter((c) => c !== 0x2c)
    .map((c) => String.fromCharCode(c)),
  minLength: 1,
})
const anyBytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a))
const stringsLikeScram = fc
  .array(fc.constantFrom('n', 'a=', 'n=', 'r=', 'c=', 'p=', 'm=', ',', '=', '=2C', '=3D', 'biws', 'x', '\u0001', 'é'), {
    maxLength: 20,
  })
  .map((parts) => Buffer.from(parts.join(''), 'utf8'))

function thrownBy(read: () => unknown): unknown {
  try {
    read()
    return undefined
  } catch (error) {
    return error
  }
}

async function refusalOf(exchange: SaslExchange, message: Buffer): Promise<unknown> {
  try {
    await exchange.respond(message)
    return undefined
  } catch (error) {
    return error
  }
}

describe('SCRAM messages', () => {
  it('a saslname with , and = reads back as written', () => {
    fc.assert(fc.property(saslName, (name) => decodeSaslName(encodeSaslName(name)) === name))
  })

  it('every client-first a client may write reads back as written', () => {
    fc.assert(
      fc.property(saslName, nonce, fc.option(saslName, { nil: undefined }), (user, r, authzid) => {
        const header = authzid === undefined ? 'n,,' : `n,a=${encodeSaslName(authzid)},`
        const bare = `n=${encodeSaslName(user)},r=${r}`
        const parsed = parseClientFirst(Buffer.from(`${header}${bare}`, 'latin1'))
        expect(parsed).toMatchObject({ gs2Header: header, username: user, nonce: r, bare })
        expect(parsed.authorizationId).toBe(authzid ?? null)
      }),
    )
  })

  it('extensions and the reserved m= are read, as Kafka reads them', () => {
    const parsed = parseClientFirst(Buffer.from('n,,m=ext,n=u,r=abc,tokenauth=true'))
    expect(parsed.extensions).toEqual(new Map([['tokenauth', 'true']]))
    expect(parsed.username).toBe('u')
  })

  it('anything else is a ScramParseError, never another exception', () => {
    for (const input of [anyBytes, stringsLikeScram]) {
      fc.assert(
        fc.property(input, (bytes) => {
          for (const parse of [parseClientFirst, parseClientFinal]) {
            const error = thrownBy(() => parse(bytes))
            if (error !== undefined) expect(error).toBeInstanceOf(ScramParseError)
          }
        }),
      )
    }
  })

  it.each([
    ['channel binding asked for', 'p=tls-unique,,n=u,r=abc'],
    ['channel binding supported', 'y,,n=u,r=abc'],
    ['a bare = in the name', 'n,,n=a=b,r=abc'],
    ['no nonce', 'n,,n=u'],
    ['an empty name', 'n,,n=,r=abc'],
  ])('refuses a client-first with %s', (_, text) => {
    expect(() => parseClientFirst(Buffer.from(text))).toThrow(ScramParseError)
  })
})

describe.each<ScramHash>(['sha256', 'sha512'])('SCRAM-%s exchange', (hash) => {
  const password = 'pencil'
  const credentials = new Map([['user', scramCredential(hash, password)]])
  const mechanism = scramMechanism(hash, credentials)

  it('authenticates a client that knows the password, and proves it knows the credential', async () => {
    const client = new ScramClient(hash, 'user', password)
    const exchange = mechanism.start()
    const first = await exchange.respond(client.first)
    expect(first.done).toBe(false)
    expect(first.challenge!.toString()).toMatch(new RegExp(`^r=${escapeRegExp(client.nonce)}[^,]+,s=[^,]+,i=4096$`))
    const final = await exchange.respond(client.final(first.challenge!))
    expect(final).toMatchObject({ done: true, principal: 'user' })
    expect(client.verifies(final.challenge!)).toBe(true)
  })

  it("accepts librdkafka's client-final, whose nonce repeats the client's in front, as Kafka does", async () => {
    const client = new ScramClient(hash, 'user', password)
    const exchange = mechanism.start()
    const first = await exchange.respond(client.first)
    const final = await exchange.respond(client.final(first.challenge!, password, true))
    expect(final).toMatchObject({ done: true, principal: 'user' })
    expect(client.verifies(final.challenge!)).toBe(true)
  })

  it('refuses a wrong password, a replayed nonce, and a second client-final, in Kafka words', async () => {
    const client = new ScramClient(hash, 'user', password)
    const exchange = mechanism.start()
    const first = await exchange.respond(client.first)
    const wrong = await refusalOf(exchange, client.final(first.challenge!, 'not-pencil'))
    expect(wrong).toBeInstanceOf(SaslAuthenticationError)
    expect((wrong as Error).message).toBe(
      `Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism.name}`,
    )
    const other = mechanism.start()
    const otherFirst = await other.respond(new ScramClient(hash, 'user', password).first)
    expect(otherFirst.done).toBe(false)
    // client-final for another exchange's nonce.
    expect(await refusalOf(other, client.final(first.challenge!))).toBeInstanceOf(SaslAuthenticationError)
  })

  it('refuses an unknown user as a wrong password (never saying which), and an authorization id other than the user', async () => {
    expect(await refusalOf(mechanism.start(), new ScramClient(hash, 'nobody', password).first)).toMatchObject({
      message: `Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism.name}`,
    })
    expect(await refusalOf(mechanism.start(), Buffer.from('n,a=admin,n=user,r=abc'))).toMatchObject({
      message: expect.stringContaining('authorization id that is different from username'),
    })
  })

  it('ignores an extension it does not know, as Kafka does; refuses tokenauth (no delegation tokens here)', async () => {
    const known = new ScramClient(hash, 'user', password, 'traceId=42')
    const exchange = mechanism.start()
    const first = await exchange.respond(known.first)
    expect(await exchange.respond(known.final(first.challenge!))).toMatchObject({ done: true, principal: 'user' })
    const token = new ScramClient(hash, 'user', password, 'tokenauth=true')
    expect(await refusalOf(mechanism.start(), token.first)).toBeInstanceOf(SaslAuthenticationError)
  })

  it('authenticates any name and password, and only that password (generated)', async () => {
    await fc.assert(
      fc.asyncProperty(saslName, fc.string({ minLength: 1, maxLength: 40 }), async (user, secret) => {
        const generated = scramMechanism(hash, new Map([[user, scramCredential(hash, secret, 4096)]]))
        const good = new ScramClient(hash, user, secret)
        const exchange = generated.start()
        const first = await exchange.respond(good.first)
        expect(await exchange.respond(good.final(first.challenge!))).toMatchObject({ done: true, principal: user })
        const bad = new ScramClient(hash, user, secret)
        const badExchange = generated.start()
        const badFirst = await badExchange.respond(bad.first)
        const refusal = await refusalOf(badExchange, bad.final(badFirst.challenge!, `${secret}x`))
        expect(refusal).toBeInstanceOf(SaslAuthenticationError)
      }),
      { numRuns: 15 },
    )
  })

  it('answers any bytes with a challenge or a SaslAuthenticationError, never another exception (generated)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(anyBytes, stringsLikeScram), { minLength: 1, maxLength: 3 }),
        async (messages) => {
          const exchange = mechanism.start()
          for (const message of messages) {
            const refusal = await refusalOf(exchange, message)
            if (refusal !== undefined) {
              expect(refusal).toBeInstanceOf(SaslAuthenticationError)
              return
            }
          }
        },
      ),
    )
  })
})

describe('PLAIN', () => {
  const users = new Map([['alice', 'secret']])
  it.each([
    ['\u0000alice\u0000secret', 'alice'],
    ['alice\u0000alice\u0000secret', 'alice'],
  ])('authenticates %j', (message, principal) => {
    expect(checkPlain(Buffer.from(message), users)).toBe(principal)
  })

  it.each([
    ['\u0000alice\u0000wrong', 'Authentication failed: Invalid username or password'],
    ['\u0000nobody\u0000secret', 'Authentication failed: Invalid username or password'],
    ['alice\u0000secret', 'Invalid SASL/PLAIN response: expected 3 tokens, got 2'],
    ['\u0000\u0000secret', 'Authentication failed: username not specified'],
    [
      'bob\u0000alice\u0000secret',
      'Authentication failed: Client requested an authorization id that is different from username',
    ],
  ])('refuses %j: %s', (message, reason) => {
    expect(() => checkPlain(Buffer.from(message), users)).toThrow(reason)
  })
})

describe('OAUTHBEARER', () => {
  const message = (token: string, extra = '') => Buffer.from(`n,,\u0001auth=Bearer ${token}\u0001${extra}\u0001`)

  it('reads the token, the authorization id and the extensions of a client initial response', () => {
    expect(parseInitialResponse(Buffer.from('n,a=svc,\u0001auth=Bearer abc.def.\u0001traceId=42\u0001\u0001'))).toEqual(
      {
        token: 'abc.def.',
        authorizationId: 'svc',
        extensions: new Map([['traceId', '42']]),
      },
    )
  })

  it('accepts an unsecured token that has not expired, as principal its sub', async () => {
    const exchange = oauthBearerMechanism().start()
    expect(await exchange.respond(message(unsecuredToken('dave')))).toEqual({ done: true, principal: 'dave' })
  })

  it("answers a refused token with RFC 7628 JSON, then fails on the client's %x01", async () => {
    const exchange = oauthBearerMechanism().start()
    const step = await exchange.respond(message(unsecuredToken('dave', -1_000)))
    expect(step).toEqual({ done: false, challenge: Buffer.from('{"status":"invalid_token"}') })
    expect(await refusalOf(exchange, Buffer.from([1]))).toMatchObject({ message: '{"status":"invalid_token"}' })
  })

  it.each([
    ['signed', (t: string) => `${t}c2ln`],
    ['with another alg', () => `${b64({ alg: 'HS256' })}.${b64({ sub: 'x', exp: 4e9 })}.`],
    ['without sub', () => `${b64({ alg: 'none' })}.${b64({ exp: 4e9 })}.`],
    ['without exp', () => `${b64({ alg: 'none' })}.${b64({ sub: 'x' })}.`],
    ['expired', () => unsecuredToken('x', -1)],
    ['issued after it expires', () => `${b64({ alg: 'none' })}.${b64({ sub: 'x', exp: 4e9, iat: 5e9 })}.`],
    [
      'issued in the future',
      () => `${b64({ alg: 'none' })}.${b64({ sub: 'x', exp: 4e9, iat: Date.now() / 1000 + 60 })}.`,
    ],
    ['with a scope that is a number', () => `${b64({ alg: 'none' })}.${b64({ sub: 'x', exp: 4e9, scope: 7 })}.`],
    [
      'with a scope list holding a number',
      () => `${b64({ alg: 'none' })}.${b64({ sub: 'x', exp: 4e9, scope: ['a', 7] })}.`,
    ],
    ['not JSON', () => 'bm90.anNvbg.'],
  ])('the unsecured check refuses a token %s', (_, make) => {
    expect(() => validateUnsecuredToken(make(unsecuredToken('x')))).toThrow(UnsecuredTokenError)
  })

  it('the unsecured check throws only UnsecuredTokenError, whatever the token (generated)', () => {
    fc.assert(
      fc.property(fc.string(), (token) => {
        const error = thrownBy(() => validateUnsecuredToken(token))
        if (error !== undefined) expect(error).toBeInstanceOf(UnsecuredTokenError)
      }),
    )
  })
})

function b64(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
