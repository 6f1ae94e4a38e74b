import { SaslAuthenticationError, type SaslOption } from '@kafka-sidecar/embedded-kafka'

/**
 * A made-up SASL mechanism for tests of custom mechanisms (KafkaJS's authenticationProvider, the
 * sidecar's KAFKA_SASL_MECHANISM_MODULE): the client sends `token:<name>`, and the broker knows
 * only carol.
 */
export const TEST_TOKEN_MECHANISM: SaslOption = {
  mechanism: 'TEST-TOKEN',
  start: () => ({
    respond: (message) => {
      const [scheme, name] = message.toString('utf8').split(':')
      if (scheme !== 'token' || name !== 'carol') throw new SaslAuthenticationError('unknown token')
      return { done: true, principal: name }
    },
  }),
}
