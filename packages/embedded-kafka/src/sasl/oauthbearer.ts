/**
 * SASL/OAUTHBEARER (RFC 7628, KIP-255) as Kafka's OAuthBearerSaslServer runs it. The client's one
 * message carries `auth=Bearer <token>`; the token is checked by the validator given in code, or
 * by Kafka's default for unsecured tokens (OAuthBearerUnsecuredValidatorCallbackHandler). A token
 * refused is answered, as RFC 7628 says, with a JSON error as a challenge and no error code; the
 * client must then send %x01, and only that is refused with SASL_AUTHENTICATION_FAILED.
 */
import { invalidCredentials, SaslAuthenticationError, type SaslExchange, type SaslMechanism } from './mechanism.js'
import { validateUnsecuredToken } from './unsecured-jws.js'

/**
 * Checks a bearer token: returns the principal it names, or throws (any error) to refuse it. Kafka's
 * `listener.name.*.oauthbearer.sasl.server.callback.handler.class` in one function.
 */
export type OAuthBearerValidator = (
  token: string,
  extensions: ReadonlyMap<string, string>,
) => { readonly principal: string } | Promise<{ readonly principal: string }>

const SEPARATOR = '\u0001'
// Kafka's OAuthBearerClientInitialResponse grammar.
const SASLNAME = '(?:[\\x01-\\x2B\\x2D-\\x3C\\x3E-\\x7F]|=2C|=3D)+'
const KEY = '[A-Za-z]+'
const VALUE = '[\\x21-\\x7E \\t\\r\\n]+'
const INITIAL_RESPONSE = new RegExp(
  `^n,(?:a=(?<authzid>${SASLNAME}))?,${SEPARATOR}(?<pairs>(?:${KEY}=${VALUE}${SEPARATOR})*)${SEPARATOR}$`,
)
const AUTH = /^(?<scheme>\w+) +(?<token>[-_.a-zA-Z0-9]+)$/

interface InitialResponse {
  readonly token: string
  readonly authorizationId: string | null
  readonly extensions: ReadonlyMap<string, string>
}

export function parseInitialResponse(message: Buffer): InitialResponse {
  const match = INITIAL_RESPONSE.exec(message.toString('latin1'))
  if (!match?.groups) throw invalidCredentials('OAUTHBEARER')
  const pairs = new Map<string, string>()
  for (const pair of match.groups.pairs!.split(SEPARATOR).filter((p) => p !== '')) {
    const at = pair.indexOf('=')
    pairs.set(pair.slice(0, at), pair.slice(at + 1))
  }
  const auth = AUTH.exec(pairs.get('auth') ?? '')
  if (!auth?.groups || auth.groups.scheme!.toLowerCase() !== 'bearer') throw invalidCredentials('OAUTHBEARER')
  pairs.delete('auth')
  const authzid = match.groups.authzid
  return {
    token: auth.groups.token!,
    authorizationId: authzid === undefined ? null : authzid.replace(/=2C/g, ',').replace(/=3D/g, '='),
    extensions: pairs,
  }
}

class OAuthBearerExchange implements SaslExchange {
  /** The JSON error sent as a challenge, once a token was refused: the client's %x01 gets it as a failure. */
  private refusal: string | null = null

  constructor(private readonly validate: OAuthBearerValidator) {}

  async respond(message: Buffer) {
    if (this.refusal !== null) {
      if (message.length === 1 && message[0] === 1) throw new SaslAuthenticationError(this.refusal)
      throw invalidCredentials('OAUTHBEARER')
    }
    const { token, authorizationId, extensions } = parseInitialResponse(message)
    let principal: string
    try {
      ;({ principal } = await this.validate(token, extensions))
    } catch {
      this.refusal = JSON.stringify({ status: 'invalid_token' })
      return { done: false as const, challenge: Buffer.from(this.refusal) }
    }
    if (authorizationId !== null && authorizationId !== '' && authorizationId !== principal)
      throw new SaslAuthenticationError(
        `Authentication failed: Client requested an authorization id (${authorizationId}) that is different from the token's principal name (${principal})`,
      )
    return { done: true as const, principal }
  }
}

export function oauthBearerMechanism(validate: OAuthBearerValidator = validateUnsecuredToken): SaslMechanism {
  return { name: 'OAUTHBEARER', start: () => new OAuthBearerExchange(validate) }
}
