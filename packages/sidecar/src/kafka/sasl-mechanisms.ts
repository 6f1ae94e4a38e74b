/**
 * The SASL mechanism the sidecar hands KafkaJS, always as a KafkaJS `Mechanism` (a name and an
 * authenticationProvider), so that:
 * - credentials are read at each authentication, not once: KafkaJS's built-in mechanisms take the
 *   username and password (or the OAUTHBEARER token provider) from the `sasl` object it was built
 *   with; here every authentication builds KafkaJS's own mechanism afresh, from the password or
 *   token file as it is now (a rotated secret serves the next connection, without a restart);
 * - a failure carries the broker and the Kafka error: KafkaJS's SASL error keeps neither (it
 *   rewraps the broker's SASL_AUTHENTICATION_FAILED into a message), and "why is the sidecar not
 *   ready" must say both.
 */
import { createRequire } from 'node:module'
import type { AuthenticationProviderArgs, Mechanism } from 'kafkajs'
import type { AttemptFailureListener } from './kafka-failure.js'
import type { BuiltInMechanism } from './security-options.js'

const require = createRequire(import.meta.url)

type AuthenticationProvider = Mechanism['authenticationProvider']
/** KafkaJS 2.2.4's built-in mechanisms: a function of the `sasl` config to an authenticationProvider. */
type BuiltInProvider = (sasl: Record<string, unknown>) => AuthenticationProvider
const BUILT_IN: Record<BuiltInMechanism, BuiltInProvider> = {
  plain: require('kafkajs/src/broker/saslAuthenticator/plain.js') as BuiltInProvider,
  'scram-sha-256': require('kafkajs/src/broker/saslAuthenticator/scram256.js') as BuiltInProvider,
  'scram-sha-512': require('kafkajs/src/broker/saslAuthenticator/scram512.js') as BuiltInProvider,
  oauthbearer: require('kafkajs/src/broker/saslAuthenticator/oauthBearer.js') as BuiltInProvider,
}

/**
 * KafkaJS's own mechanism, its `sasl` settings (username and password, or oauthBearerProvider)
 * made by `credentials` at each authentication.
 */
export function builtInMechanism(name: BuiltInMechanism, credentials: () => Record<string, unknown>): Mechanism {
  return {
    mechanism: name,
    authenticationProvider: (args) => ({
      authenticate: () => BUILT_IN[name]({ mechanism: name, ...credentials() })(args).authenticate(),
    }),
  }
}

/** Where and how an authentication failed, beside the error KafkaJS throws. */
export interface AuthenticationFailure {
  readonly broker: string
  readonly mechanism: string
  /** The broker's error (SASL_AUTHENTICATION_FAILED, ILLEGAL_SASL_STATE, …), when it answered with one. */
  readonly kafkaError: string | null
}

const failures = new WeakMap<object, AuthenticationFailure>()

/** The broker, mechanism and Kafka error of a failed authentication, if `error` is one. */
export function authenticationFailureOf(error: unknown): AuthenticationFailure | undefined {
  return typeof error === 'object' && error !== null ? failures.get(error) : undefined
}

/** The mechanism, its failures recorded with the broker and the broker's error, and told to `onFailure`. */
export function observedMechanism(mechanism: Mechanism, onFailure: AttemptFailureListener): Mechanism {
  return {
    mechanism: mechanism.mechanism,
    authenticationProvider: (args) => ({
      authenticate: async () => {
        let kafkaError: string | null = null
        const saslAuthenticate: AuthenticationProviderArgs['saslAuthenticate'] = async (request) => {
          const answer = await args.saslAuthenticate(request).catch((error: unknown) => {
            kafkaError = (error as { type?: string }).type ?? null
            throw error
          })
          if (mechanism.mechanism.startsWith('scram-')) refuseCostlyIterations(answer)
          return answer
        }
        try {
          await mechanism.authenticationProvider({ ...args, saslAuthenticate }).authenticate()
        } catch (error) {
          const broker = `${args.host}:${args.port}`
          if (typeof error === 'object' && error !== null)
            failures.set(error, { broker, mechanism: mechanism.mechanism, kafkaError })
          onFailure(error, broker)
          throw error
        }
      },
    }),
  }
}

/**
 * KafkaJS refuses fewer SCRAM iterations than the RFC's minimum but sets no maximum, and derives
 * the key on libuv's thread pool (4 threads, shared with DNS lookups and file reads): a broker,
 * or anyone between it and an unverified TLS connection, asking for two billion iterations would
 * wedge the sidecar. Kafka itself allows at most 16384.
 */
export const MAX_SCRAM_ITERATIONS = 100_000

function refuseCostlyIterations(answer: unknown): void {
  const iterations = Number((answer as { i?: unknown } | null)?.i)
  if (Number.isFinite(iterations) && iterations > MAX_SCRAM_ITERATIONS)
    throw new Error(
      `the broker asked for ${iterations} SCRAM iterations, more than the ${MAX_SCRAM_ITERATIONS} the sidecar allows (Kafka allows at most 16384)`,
    )
}
