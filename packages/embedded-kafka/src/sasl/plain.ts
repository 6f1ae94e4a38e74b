/**
 * SASL/PLAIN (RFC 4616) as Kafka's PlainSaslServer checks it: one message,
 * `authzid NUL username NUL password`, against the configured users; an authorization id other
 * than the username is refused. The wording of each refusal is Kafka's.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { SaslAuthenticationError, type SaslExchange, type SaslMechanism } from './mechanism.js'

/**
 * Compared as SHA-256 digests in constant time, as Kafka's Utils.isEqualConstantTime does, so the
 * time taken tells neither the password's length nor whether the user exists (an unknown user is
 * compared against a random value).
 */
function samePassword(given: string, expected: string | undefined): boolean {
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest()
  const same = timingSafeEqual(digest(given), digest(expected ?? UNKNOWN_USER_PASSWORD))
  return expected !== undefined && same
}

const UNKNOWN_USER_PASSWORD = randomBytes(32).toString('hex')

/** The principal `message` authenticates, or a refusal. */
export function checkPlain(message: Buffer, passwords: ReadonlyMap<string, string>): string {
  const tokens = message.toString('utf8').split('\u0000')
  if (tokens.length !== 3)
    throw new SaslAuthenticationError(`Invalid SASL/PLAIN response: expected 3 tokens, got ${tokens.length}`)
  const [authorizationId, username, password] = tokens as [string, string, string]
  if (username === '') throw new SaslAuthenticationError('Authentication failed: username not specified')
  if (password === '') throw new SaslAuthenticationError('Authentication failed: password not specified')
  if (!samePassword(password, passwords.get(username)))
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
