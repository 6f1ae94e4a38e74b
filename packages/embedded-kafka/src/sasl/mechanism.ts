/**
 * A SASL mechanism as the broker runs it: one exchange per connection, fed each client message
 * (the bytes of one SaslAuthenticate request), answering a challenge until it is done, with the
 * principal it authenticated, or refuses. The built-in mechanisms and a test's custom one are all
 * this shape, so the connection's state machine knows none of them.
 */

/** What one client message is answered with. */
export type SaslStep =
  /** The exchange goes on: the client answers `challenge` with its next message. */
  | { readonly done: false; readonly challenge: Buffer }
  /** Authenticated as `principal`; `challenge` (SCRAM's server signature) goes back with the success. */
  | { readonly done: true; readonly principal: string; readonly challenge?: Buffer }

/** One connection's exchange. */
export interface SaslExchange {
  /**
   * Answers one client message. Throw a `SaslAuthenticationError` to refuse: its message goes to
   * the client with SASL_AUTHENTICATION_FAILED and the connection is closed, as Kafka does.
   */
  respond(clientMessage: Buffer): SaslStep | Promise<SaslStep>
}

/**
 * A mechanism of a test's own (Kafka's `sasl.server.callback.handler.class` territory, or
 * AWS_MSK_IAM's shape): its name as clients send it in SaslHandshake, and a fresh exchange per
 * connection.
 */
export interface CustomSaslMechanism {
  /** Upper case, as KafkaJS sends it (it upper-cases `sasl.mechanism`). */
  readonly mechanism: string
  start(): SaslExchange
}

/** A mechanism as the broker keeps it: its name and how a connection starts an exchange. */
export interface SaslMechanism {
  readonly name: string
  start(): SaslExchange
}

/**
 * Refuses authentication; the message is what the client is told, so it never holds a secret.
 * Kafka's own wording is used for the built-in mechanisms.
 */
export class SaslAuthenticationError extends Error {
  override name = 'SaslAuthenticationError'
}

/** Kafka's answer when a mechanism fails for any reason other than a deliberate refusal. */
export function invalidCredentials(mechanism: string): SaslAuthenticationError {
  return new SaslAuthenticationError(
    `Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism}`,
  )
}
