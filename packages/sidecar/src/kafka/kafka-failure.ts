/**
 * Why the sidecar cannot reach Kafka, in the words an operator needs: which broker, which Kafka
 * error (SASL_AUTHENTICATION_FAILED, UNSUPPORTED_SASL_MECHANISM, a TLS verification code such as
 * SELF_SIGNED_CERT_IN_CHAIN, ECONNREFUSED), how the sidecar connects (SASL PLAIN over TLS), and
 * KafkaJS's message. It goes to the log, /readyz and gRPC health, so no secret may be in it: any
 * current password or token is cut out of KafkaJS's message, should a broker ever echo one.
 */
import { authenticationFailureOf } from './sasl-mechanisms.js'

export interface KafkaFailure {
  /** host:port, when the error says which broker. */
  readonly broker: string | null
  readonly kafkaError: string
  readonly message: string
}

interface KafkaJSErrorFields {
  readonly name?: string
  readonly message?: string
  readonly type?: string
  readonly code?: string
  readonly broker?: string
  readonly cause?: unknown
}

/** The errors KafkaJS wrapped, outermost first (KafkaJSNumberOfRetriesExceeded keeps the last attempt's as its cause). */
function chain(error: unknown): KafkaJSErrorFields[] {
  const errors: KafkaJSErrorFields[] = []
  for (let e = error; typeof e === 'object' && e !== null && errors.length < 10; e = (e as KafkaJSErrorFields).cause)
    errors.push(e as KafkaJSErrorFields)
  return errors
}

function kafkaErrorName(errors: readonly KafkaJSErrorFields[]): string {
  for (const e of errors) {
    const failure = authenticationFailureOf(e)
    if (failure?.kafkaError) return failure.kafkaError
    if (typeof e.type === 'string') return e.type
    // A SASL failure without the broker's error code: the broker closed the connection instead.
    if (e.name === 'KafkaJSSASLAuthenticationError') return 'SASL_AUTHENTICATION_FAILED'
    if (e.name === 'KafkaJSConnectionError' && typeof e.code === 'string') return e.code
  }
  return errors[0]?.name ?? 'Error'
}

export function kafkaFailureOf(error: unknown, secrets: readonly string[]): KafkaFailure {
  const errors = chain(error)
  const broker =
    errors
      .map((e) => authenticationFailureOf(e)?.broker ?? (typeof e.broker === 'string' ? e.broker : null))
      .find(Boolean) ?? null
  const message = errors[0]?.message ?? String(error)
  return { broker, kafkaError: kafkaErrorName(errors), message: withoutSecrets(message, secrets) }
}

/** "SASL_AUTHENTICATION_FAILED from 10.0.0.7:9096 (SASL SCRAM-SHA-512 over TLS): …" */
export function formatKafkaFailure(failure: KafkaFailure, connectsWith: string): string {
  return `${failure.kafkaError} from ${failure.broker ?? 'the brokers'} (${connectsWith}): ${failure.message}`
}

export function withoutSecrets(text: string, secrets: readonly string[]): string {
  return secrets.reduce((cut, secret) => (secret === '' ? cut : cut.split(secret).join('[secret]')), text)
}
