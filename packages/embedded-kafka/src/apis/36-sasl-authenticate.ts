// SaslAuthenticate (key 36). Spec: SaslAuthenticateRequest.json / SaslAuthenticateResponse.json.
// v1 adds sessionLifetimeMs, always 0 here (connections.max.reauth.ms=0, Kafka's default: no
// re-authentication, KIP-368). v2 is flexible.
// Each request carries one SASL message of the mechanism chosen in SaslHandshake; the answer
// carries the mechanism's challenge. A refusal is SASL_AUTHENTICATION_FAILED with Kafka's message,
// and the connection is closed once it is written (KIP-152).
import { defineApi } from '../protocol/api.js'
import { bytes, field, int16, int64, nullableString, struct } from '../protocol/schema.js'
import { answerThenClose, route } from '../server/route.js'

export const SaslAuthenticate = defineApi({
  key: 36,
  name: 'SaslAuthenticate',
  minVersion: 0,
  maxVersion: 2,
  flexibleSince: 2,
  request: struct({
    authBytes: field(bytes),
  }),
  response: struct({
    errorCode: field(int16),
    errorMessage: field(nullableString),
    authBytes: field(bytes),
    sessionLifetimeMs: field(int64, '1+'),
  }),
})

export const saslAuthenticateRoute = route(SaslAuthenticate, async (ctx, request) => {
  const { closeReason, ...answer } = await ctx.sasl.authenticate(request.authBytes)
  const response = { ...answer, sessionLifetimeMs: 0 }
  return closeReason === undefined ? response : answerThenClose(response, closeReason)
})
