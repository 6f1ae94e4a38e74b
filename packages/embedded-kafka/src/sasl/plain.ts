/**
 * SASL/PLAIN (RFC 4616) as Kafka's PlainSaslServer checks it: one message,
 * `authzid NUL username NUL password`, against the configured users; an authorization id other
 * than the username is refused. The wording of each refusal is Kafka's.
 */
import { timingSafeEqual } from 'node:crypto'
import { SaslAuthenticationError, type SaslExchange, type SaslMechanism } from './mechanism.js'

function samePassword(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'utf8')
  const b = Buffer.from(expected, 'utf8')
  return a.length === b.length && timingSafeEqual(a, b)
}

/** The principal `message` authenticates, or a refusal. */
export function checkPlain(message: Buffer, passwords: ReadonlyMap<string, string>): string {
  const tokens = message.toString('utf8').split('\u0000')
  if (tokens.length !== 3)
    throw new SaslAuthenticationError(`Invalid SASL/PLAIN response: expected 3 tokens, got ${tokens.length}`)
  const [authorizationId, username, password] = tokens as [string, string, string]
  if (username === '') throw new SaslAuthenticationError('Authentication failed: username not specified')
  if (password === '') throw new SaslAuthenticationError('Authentication failed: password not specified')
  const expected = passwords.get(username)
  if (expected === undefined || !samePassword(password, expected))
    throw new SaslAuthenticationError('Authentication failed: Invalid username or password')
  if (authorizationId !== '' && authorizationId !== username)
    throw new SaslAuthenticationError(
      'Authentication failed: Client requested an authorization id that is different from username',
    )
  return username
}

export function plainMechanism(passwords: ReadonlyMap<string, string>): SaslMechanism {
  const exchange: SaslExchange = {
    respond: (message) => ({ done: true, principal: checkPlain(message, passwords) }),
  }
  return { name: 'PLAIN', start: () => exchange }
}
