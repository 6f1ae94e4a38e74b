/**
 * The `sasl` option: which mechanisms a SASL listener enables (Kafka's `sasl.enabled.mechanisms`,
 * in the order given) and who may authenticate with each. Users of PLAIN and SCRAM are given with
 * their passwords, as the CLI's `--sasl mechanism:user:password` does; OAUTHBEARER takes a
 * validator or Kafka's unsecured default; a custom mechanism brings its own exchange.
 */
import { EmbeddedKafkaConfigError } from '../errors.js'
import type { CustomSaslMechanism, SaslMechanism } from './mechanism.js'
import { oauthBearerMechanism, type OAuthBearerValidator } from './oauthbearer.js'
import { plainMechanism } from './plain.js'
import { scramCredential, scramMechanism, type ScramCredential, type ScramHash } from './scram.js'

export type PasswordMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512'

/** A user of PLAIN or SCRAM. The mechanism's case does not matter. */
export interface SaslUser {
  readonly mechanism: PasswordMechanism | Uppercase<PasswordMechanism>
  readonly username: string
  readonly password: string
}

/** OAUTHBEARER, with `validate` or Kafka's default check of unsecured tokens. */
export interface SaslOAuthBearer {
  readonly mechanism: 'oauthbearer' | 'OAUTHBEARER'
  readonly validate?: OAuthBearerValidator
}

export type SaslOption = SaslUser | SaslOAuthBearer | CustomSaslMechanism

const PASSWORD_MECHANISMS: readonly string[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}

function nonEmptyText(value: unknown): value is string {
  return typeof value === 'string' && value !== ''
}

/** The enabled mechanisms, by name, in the order first given; undefined when `entries` enables none. */
export function saslMechanisms(entries: readonly SaslOption[]): ReadonlyMap<string, SaslMechanism> | undefined {
  const passwords = new Map<string, Map<string, string>>()
  const mechanisms = new Map<string, SaslMechanism | null>()
  for (const entry of entries) {
    const name = entry.mechanism.toUpperCase()
    if ('start' in entry) mechanisms.set(name, { name, start: () => entry.start() })
    else if ('username' in entry) {
      if (!passwords.has(name)) passwords.set(name, new Map())
      passwords.get(name)!.set(entry.username, entry.password)
      mechanisms.set(name, null)
    } else mechanisms.set(name, oauthBearerMechanism((entry as SaslOAuthBearer).validate))
  }
  if (mechanisms.size === 0) return undefined
  return new Map([...mechanisms].map(([name, given]) => [name, given ?? passwordMechanism(name, passwords.get(name)!)]))
}

function passwordMechanism(name: string, users: ReadonlyMap<string, string>): SaslMechanism {
  if (name === 'PLAIN') return plainMechanism(users)
  const hash: ScramHash = name === 'SCRAM-SHA-256' ? 'sha256' : 'sha512'
  const credentials = new Map<string, ScramCredential>()
  for (const [user, password] of users) credentials.set(user, scramCredential(hash, password))
  return scramMechanism(hash, credentials)
}

function checkEntry(entry: unknown, option: string): SaslOption {
  if (!isRecord(entry) || !nonEmptyText(entry.mechanism))
    throw new EmbeddedKafkaConfigError(option, 'expected { mechanism, ... }')
  const name = entry.mechanism.toUpperCase()
  if (typeof entry.start === 'function') return entry as unknown as CustomSaslMechanism
  if (name === 'OAUTHBEARER') {
    if (entry.validate !== undefined && typeof entry.validate !== 'function')
      throw new EmbeddedKafkaConfigError(option, 'validate must be a function')
    return entry as unknown as SaslOAuthBearer
  }
  if (!PASSWORD_MECHANISMS.includes(name))
    throw new EmbeddedKafkaConfigError(
      option,
      `unknown mechanism "${entry.mechanism}": expected plain, scram-sha-256, scram-sha-512, oauthbearer, or a custom one with start()`,
    )
  if (!nonEmptyText(entry.username) || typeof entry.password !== 'string' || entry.password === '')
    throw new EmbeddedKafkaConfigError(option, `${entry.mechanism} needs a username and a password`)
  return entry as unknown as SaslUser
}

/** The option's check: a list of mechanisms and users, each checked. */
export function checkSasl(value: unknown, option: string): readonly SaslOption[] {
  if (!Array.isArray(value)) throw new EmbeddedKafkaConfigError(option, 'expected a list of mechanisms and users')
  return value.map((entry, i) => checkEntry(entry, `${option}[${i}]`))
}

/** `--sasl mechanism:user:password` (the password may hold ':'), or `--sasl oauthbearer`. */
export function saslFromText(text: string, flag: string): SaslOption {
  const [mechanism = '', username, ...password] = text.split(':')
  if (mechanism.toLowerCase() === 'oauthbearer' && username === undefined) return { mechanism: 'oauthbearer' }
  if (!PASSWORD_MECHANISMS.includes(mechanism.toUpperCase()) || !username || password.length === 0)
    throw new EmbeddedKafkaConfigError(
      flag,
      `expected <mechanism>:<user>:<password> (plain, scram-sha-256 or scram-sha-512) or oauthbearer, got "${text.replace(/:.*$/, ':...')}"`,
    )
  return { mechanism: mechanism as PasswordMechanism, username, password: password.join(':') }
}
