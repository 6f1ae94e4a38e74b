/**
 * Why the sidecar cannot reach Kafka, in the words an operator needs: which broker, which Kafka
 * error (SASL_AUTHENTICATION_FAILED, UNSUPPORTED_SASL_MECHANISM, a TLS verification code such as
 * SELF_SIGNED_CERT_IN_CHAIN, ECONNREFUSED), how the sidecar connects (SASL PLAIN over TLS), and
 * KafkaJS's message. It goes to the log, /readyz and gRPC health, so no secret may be in it: a
 * message holding any current password, token or mechanism option is withheld whole.
 */
import { authenticationFailureOf } from './sasl-mechanisms.js'

/** Told of each failed connection attempt (TLS handshake, authentication) with its broker, as it happens. */
export type AttemptFailureListener = (error: unknown, broker: string) => void

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
    // A socket's or TLS's code (ECONNREFUSED, UNABLE_TO_VERIFY_LEAF_SIGNATURE), as is or wrapped by KafkaJS.
    if (typeof e.code === 'string') return e.code
  }
  // The innermost error's name: KafkaJSNumberOfRetriesExceeded says less than the KafkaJSConnectionClosedError it wraps.
  return errors.at(-1)?.name ?? 'Error'
}

/** What `error` says about the failure; `broker` when the error itself does not say which. */
export function kafkaFailureOf(error: unknown, secrets: readonly string[], broker: string | null = null): KafkaFailure {
  const errors = chain(error)
  const named = errors
    .map((e) => authenticationFailureOf(e)?.broker ?? (typeof e.broker === 'string' ? e.broker : null))
    .find(Boolean)
  const message = errors[0]?.message ?? String(error)
  return { broker: named ?? broker, kafkaError: kafkaErrorName(errors), message: withoutSecrets(message, secrets) }
}

/** "SASL_AUTHENTICATION_FAILED from 10.0.0.7:9096 (SASL SCRAM-SHA-512 over TLS): …" */
export function formatKafkaFailure(failure: KafkaFailure, connectsWith: string): string {
  const text = `${failure.kafkaError} from ${failure.broker ?? 'the brokers'} (${connectsWith}): ${failure.message}`
  const hint = failure.kafkaError === 'KafkaJSConnectionClosedError' ? closedConnectionHint(connectsWith) : null
  return hint ? `${text} (${hint})` : text
}

/**
 * Two refusals KafkaJS sees only as a closed connection: a client certificate refused after the
 * TLS 1.3 handshake, and an OAUTHBEARER token refused (KafkaJS ignores the broker's error
 * challenge). Said as likely, not as certain: a broker may close a connection for other reasons.
 */
function closedConnectionHint(connectsWith: string): string | null {
  if (connectsWith.includes('OAUTHBEARER')) return 'brokers close the connection when they refuse the token'
  if (connectsWith.includes('mutual TLS')) return 'brokers close the connection when they refuse the client certificate'
  return null
}

/** Said instead of a message that contained a secret. */
export const SECRET_WITHHELD = 'message withheld: it contained a configured secret'

/**
 * The text, or SECRET_WITHHELD when a current secret is in it. Never the text with the secret cut
 * out: the gaps would show it (a password "a" cut from "authentication failed" leaves
 * "[secret]uthentic[secret]tion f[secret]iled").
 */
export function withoutSecrets(text: string, secrets: readonly string[]): string {
  return containsSecret(text, secrets) ? SECRET_WITHHELD : text
}

export function containsSecret(text: string, secrets: readonly string[]): boolean {
  return secrets.some((secret) => secret !== '' && text.includes(secret))
}
