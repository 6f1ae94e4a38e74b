/**
 * The checks of the TLS and SASL options that need no file: the mechanism's name, and which
 * options go together. A combination that cannot connect (a certificate without its key, a
 * password without a mechanism, a mechanism nothing implements) is refused at start, naming the
 * option, instead of surfacing later as a sidecar that never gets ready. The files themselves are
 * read by loadKafkaSecurity (kafka-security.ts), once at start and at every use after.
 */
import type { SidecarConfig } from '../config.js'
import { SidecarConfigError } from '../config-error.js'

/** The mechanisms KafkaJS implements itself, as the sidecar names them. */
export const BUILT_IN_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512', 'oauthbearer'] as const
export type BuiltInMechanism = (typeof BUILT_IN_MECHANISMS)[number]

export function isBuiltInMechanism(name: string): name is BuiltInMechanism {
  return (BUILT_IN_MECHANISMS as readonly string[]).includes(name)
}

/** RFC 4422's mechanism names are upper case letters, digits, '-' and '_'; the sidecar takes any case. */
const MECHANISM_NAME = /^[A-Za-z0-9_-]{1,64}$/

/** A built-in mechanism in any case becomes its lower-case name; another name stays as written. */
export function checkSaslMechanism(value: unknown, source: string): string | null {
  if (value === null) return null
  if (typeof value !== 'string' || !MECHANISM_NAME.test(value))
    throw new SidecarConfigError(
      source,
      `expected a SASL mechanism name (letters, digits, '-' and '_'), got ${JSON.stringify(value)}`,
    )
  const lower = value.toLowerCase()
  return isBuiltInMechanism(lower) ? lower : value
}

type Source = (key: keyof SidecarConfig) => string

const ENV = {
  ssl: 'KAFKA_SSL=true (--ssl)',
  sslKeyFile: 'KAFKA_SSL_KEY_FILE',
  sslCertFile: 'KAFKA_SSL_CERT_FILE',
  saslMechanism: 'KAFKA_SASL_MECHANISM',
  saslMechanismModule: 'KAFKA_SASL_MECHANISM_MODULE',
} as const

/** The TLS and SASL options that must agree with each other. */
export function checkKafkaSecurity(config: SidecarConfig, source: Source): void {
  checkTlsOptions(config, source)
  if (config.saslMechanism === null) checkNoSaslOptions(config, source)
  else if (config.saslMechanismModule !== null) checkModuleMechanism(config, source)
  else checkBuiltInMechanism(config, source, config.saslMechanism)
}

function checkTlsOptions(config: SidecarConfig, source: Source): void {
  if (!config.ssl) {
    for (const key of ['sslCaFile', 'sslCertFile', 'sslKeyFile', 'sslServername'] as const)
      if (config[key] !== null) throw new SidecarConfigError(source(key), `needs ${ENV.ssl}`)
    if (!config.sslRejectUnauthorized) throw new SidecarConfigError(source('sslRejectUnauthorized'), `needs ${ENV.ssl}`)
  }
  if (config.sslCertFile !== null && config.sslKeyFile === null)
    throw new SidecarConfigError(
      source('sslCertFile'),
      `needs ${ENV.sslKeyFile}: mutual TLS takes the certificate's key`,
    )
  if (config.sslKeyFile !== null && config.sslCertFile === null)
    throw new SidecarConfigError(
      source('sslKeyFile'),
      `needs ${ENV.sslCertFile}: mutual TLS takes the key's certificate`,
    )
}

const CREDENTIALS = ['saslUsername', 'saslPassword', 'saslPasswordFile', 'saslOauthbearerTokenFile'] as const

function checkNoSaslOptions(config: SidecarConfig, source: Source): void {
  for (const key of [...CREDENTIALS, 'saslMechanismModule'] as const)
    if (config[key] !== null) throw new SidecarConfigError(source(key), `needs ${ENV.saslMechanism}`)
  checkNoMechanismOptions(config, source)
}

function checkNoMechanismOptions(config: SidecarConfig, source: Source): void {
  if (Object.keys(config.saslMechanismOptions).length > 0)
    throw new SidecarConfigError(source('saslMechanismOptions'), `needs ${ENV.saslMechanismModule}`)
}

/** A module's mechanism authenticates by itself: credentials set beside it would be silently unused. */
function checkModuleMechanism(config: SidecarConfig, source: Source): void {
  for (const key of CREDENTIALS)
    if (config[key] !== null)
      throw new SidecarConfigError(
        source(key),
        `is not used with ${ENV.saslMechanismModule}: the module's mechanism authenticates (give it what it needs through KAFKA_SASL_MECHANISM_OPTIONS)`,
      )
}

function checkBuiltInMechanism(config: SidecarConfig, source: Source, mechanism: string): void {
  if (!isBuiltInMechanism(mechanism))
    throw new SidecarConfigError(
      source('saslMechanism'),
      `unknown mechanism "${mechanism}": expected ${BUILT_IN_MECHANISMS.join(', ')}, or a mechanism ${ENV.saslMechanismModule} provides`,
    )
  checkNoMechanismOptions(config, source)
  if (mechanism === 'oauthbearer') {
    for (const key of ['saslUsername', 'saslPassword', 'saslPasswordFile'] as const)
      if (config[key] !== null)
        throw new SidecarConfigError(
          source(key),
          'is not used with oauthbearer (it takes KAFKA_SASL_OAUTHBEARER_TOKEN_FILE)',
        )
    if (config.saslOauthbearerTokenFile === null)
      throw new SidecarConfigError(source('saslMechanism'), 'oauthbearer needs KAFKA_SASL_OAUTHBEARER_TOKEN_FILE')
    return
  }
  if (config.saslOauthbearerTokenFile !== null)
    throw new SidecarConfigError(
      source('saslOauthbearerTokenFile'),
      `is not used with ${mechanism} (only with oauthbearer)`,
    )
  if (config.saslUsername === null || (config.saslPassword === null && config.saslPasswordFile === null))
    throw new SidecarConfigError(
      source('saslMechanism'),
      'needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE)',
    )
  if (config.saslPassword !== null && config.saslPasswordFile !== null)
    throw new SidecarConfigError(source('saslPasswordFile'), 'and KAFKA_SASL_PASSWORD are both set: set one')
}
