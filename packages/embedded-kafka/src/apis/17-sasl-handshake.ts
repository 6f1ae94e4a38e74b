// SaslHandshake (key 17). Spec: SaslHandshakeRequest.json / SaslHandshakeResponse.json. No tagged fields.
// Only v1: the client then sends its SASL messages in SaslAuthenticate requests. v0, after which
// the raw SASL tokens follow unframed (clients before Kafka 1.0), is not implemented.
// Kafka: an enabled mechanism moves the connection on to SaslAuthenticate; another is answered
// UNSUPPORTED_SASL_MECHANISM with the enabled list, and the connection closed; on a plaintext
// listener, or once authenticated (no re-authentication here), the answer is ILLEGAL_SASL_STATE.
import { defineApi } from '../protocol/api.js'
import { array, field, int16, string, struct } from '../protocol/schema.js'
import { answerThenClose, route } from '../server/route.js'

export const SaslHandshake = defineApi({
  key: 17,
  name: 'SaslHandshake',
  minVersion: 1,
  maxVersion: 1,
  flexibleSince: Infinity,
  request: struct({
    mechanism: field(string),
  }),
  response: struct({
    errorCode: field(int16),
    mechanisms: field(array(string)),
  }),
})

export const saslHandshakeRoute = route(SaslHandshake, (ctx, request) => {
  const { closeReason, ...response } = ctx.sasl.handshake(request.mechanism)
  return closeReason === undefined ? response : answerThenClose(response, closeReason)
})
