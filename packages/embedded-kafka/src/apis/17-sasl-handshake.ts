// SaslHandshake (key 17). Spec: SaslHandshakeRequest.json / SaslHandshakeResponse.json. No tagged fields.
// After v1 the client sends its SASL messages in SaslAuthenticate requests; after v0 (clients
// before Kafka 1.0) as bare size-prefixed frames, answered the same way (the connection handles
// those). Both are advertised, as Kafka does: librdkafka counts on the range including v0.
// Kafka: an enabled mechanism moves the connection on to SaslAuthenticate; another is answered
// UNSUPPORTED_SASL_MECHANISM with the enabled list, and the connection closed; on a plaintext
// listener, or once authenticated (no re-authentication here), the answer is ILLEGAL_SASL_STATE.
import { defineApi } from '../protocol/api.js'
import { array, field, int16, string, struct } from '../protocol/schema.js'
import { answerThenClose, route } from '../server/route.js'

export const SaslHandshake = defineApi({
  key: 17,
  name: 'SaslHandshake',
  minVersion: 0,
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
  const { closeReason, ...response } = ctx.sasl.handshake(request.mechanism, ctx.apiVersion)
  return closeReason === undefined ? response : answerThenClose(response, closeReason)
})
