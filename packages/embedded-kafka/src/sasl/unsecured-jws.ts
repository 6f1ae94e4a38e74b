/**
 * Kafka's default OAUTHBEARER token check (OAuthBearerUnsecuredJws with
 * OAuthBearerValidationUtils, no required scope, no clock skew allowed): an unsecured JWS,
 * `base64url(header).base64url(claims).` with an empty signature, whose header says `"alg":"none"`
 * and whose claims carry a `sub` (the principal) and an `exp` (seconds) still in the future; an
 * `iat`, if there, is before `exp`. For development only, as in Kafka.
 */

export class UnsecuredTokenError extends Error {
  override name = 'UnsecuredTokenError'
}

function jsonObject(part: string, what: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
  } catch {
    throw new UnsecuredTokenError(`the ${what} is not base64url JSON`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new UnsecuredTokenError(`the ${what} is not a JSON object`)
  return value as Record<string, unknown>
}

function numberClaim(claims: Record<string, unknown>, name: string): number | undefined {
  const value = claims[name]
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new UnsecuredTokenError(`the ${name} claim is not a number`)
  return value
}

/** The principal of a valid unsecured token, or an UnsecuredTokenError saying why not. */
export function validateUnsecuredToken(token: string, _extensions?: unknown, now = Date.now()): { principal: string } {
  const parts = token.split('.')
  if (parts.length !== 3) throw new UnsecuredTokenError('an unsecured JWS has three parts')
  if (parts[2] !== '') throw new UnsecuredTokenError('an unsecured JWS has an empty signature')
  if (jsonObject(parts[0]!, 'header').alg !== 'none') throw new UnsecuredTokenError('the header alg is not "none"')
  const claims = jsonObject(parts[1]!, 'claims')
  const subject = claims.sub
  if (typeof subject !== 'string' || subject.trim() === '')
    throw new UnsecuredTokenError('no sub claim (the principal)')
  const expires = numberClaim(claims, 'exp')
  if (expires === undefined) throw new UnsecuredTokenError('no exp claim')
  if (expires * 1000 <= now) throw new UnsecuredTokenError('the token has expired')
  const issued = numberClaim(claims, 'iat')
  // Kafka's default (no allowed clock skew): issued no later than now (so before exp, checked above).
  if (issued !== undefined && issued * 1000 > now) throw new UnsecuredTokenError('the token is issued in the future')
  const scope = claims.scope
  if (
    scope !== undefined &&
    typeof scope !== 'string' &&
    !(Array.isArray(scope) && scope.every((s) => typeof s === 'string'))
  )
    throw new UnsecuredTokenError('the scope claim is neither a string nor a list of strings')
  return { principal: subject }
}

/** An unsecured token for `subject`, valid for `lifetimeMs`, as Kafka's unsecured login module makes one. */
export function unsecuredToken(subject: string, lifetimeMs = 3_600_000, now = Date.now()): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const iat = now / 1000
  return `${encode({ alg: 'none' })}.${encode({ sub: subject, iat, exp: iat + lifetimeMs / 1000 })}.`
}
