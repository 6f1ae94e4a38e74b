/**
 * How the sidecar's KafkaJS clients reach secured brokers: the `ssl`, `socketFactory` and `sasl`
 * settings of its Kafka instance, made from the TLS and SASL options. Every file is read once here,
 * so a missing, unreadable or wrong file (a key that is not its certificate's, an expired
 * certificate, an empty password) is a startup error naming the option and the file; after that
 * each is read again for every new connection (TLS files) or authentication (password, token), so
 * a rotated one is used without a restart. The module of a custom mechanism is loaded here too.
 */
import type { KafkaConfig, Mechanism } from 'kafkajs'
import type { SidecarConfig } from '../config.js'
import type { AttemptFailureListener } from './kafka-failure.js'
import { loadMechanismModule } from './mechanism-module.js'
import { optionFile, readSecretFile, type OptionFile } from './option-file.js'
import { builtInMechanism, observedMechanism } from './sasl-mechanisms.js'
import { isBuiltInMechanism } from './security-options.js'
import { tlsOptions, tlsSocketFactory, type TlsFiles } from './tls-files.js'

export interface KafkaSecurity {
  /** The Kafka instance's settings for TLS and SASL. */
  readonly clientSettings: Pick<KafkaConfig, 'ssl' | 'socketFactory' | 'sasl'>
  /** How connections authenticate, for logs and readiness: "SASL PLAIN over TLS", "mutual TLS", "plaintext". */
  readonly description: string
  /** What is unsafe in this configuration (SASL PLAIN without TLS, certificates not verified), for the log at start. */
  readonly warnings: readonly string[]
  /** The secrets as they are now, so that no message the sidecar gives can contain one. */
  secrets(): string[]
  /**
   * Tells `listener` of every failed TLS handshake and authentication as it happens, with its
   * broker: KafkaJS reports a failed connect only once its retries give up, seconds later.
   */
  onAttemptFailure(listener: AttemptFailureListener): void
}

type Source = (key: keyof SidecarConfig) => string

export async function loadKafkaSecurity(config: SidecarConfig, source: Source): Promise<KafkaSecurity> {
  const tls = config.ssl ? tlsFiles(config, source) : null
  // Read and checked now: a bad file stops the start, naming its option.
  if (tls) tlsOptions(tls)
  const secretFiles = [
    optionFile(config.saslPasswordFile, source('saslPasswordFile')),
    optionFile(config.saslOauthbearerTokenFile, source('saslOauthbearerTokenFile')),
  ].filter((file): file is OptionFile => file !== null)
  for (const file of secretFiles) readSecretFile(file)
  const mechanism = config.saslMechanism === null ? null : await saslMechanism(config, source, config.saslMechanism)
  let listener: AttemptFailureListener = () => {}
  const attemptFailed: AttemptFailureListener = (error, broker) => listener(error, broker)
  return {
    clientSettings: {
      ssl: tls !== null,
      ...(tls && { socketFactory: tlsSocketFactory(tls, attemptFailed) }),
      ...(mechanism && { sasl: observedMechanism(mechanism, attemptFailed) }),
    },
    onAttemptFailure: (next) => (listener = next),
    description: describe(config),
    warnings: securityWarnings(config),
    secrets: () => [...currentSecrets(config.saslPassword, secretFiles), ...optionSecrets(config.saslMechanismOptions)],
  }
}

/** The password and the secret files' contents now; a file that cannot be read has nothing to hide. */
function currentSecrets(password: string | null, files: readonly OptionFile[]): string[] {
  const fromFiles = files.flatMap((file) => {
    try {
      return [readSecretFile(file)]
    } catch {
      return []
    }
  })
  return password === null ? fromFiles : [password, ...fromFiles]
}

/**
 * A custom mechanism's options may hold credentials (an access key for MSK IAM): every string in
 * them of 8 characters or more counts as a secret. Shorter ones (a region, "true") are too common
 * in ordinary text to withhold messages for.
 */
function optionSecrets(options: Record<string, unknown>): string[] {
  const strings: string[] = []
  const visit = (value: unknown): void => {
    if (typeof value === 'string') {
      if (value.length >= 8) strings.push(value)
    } else if (typeof value === 'object' && value !== null) Object.values(value).forEach(visit)
  }
  visit(options)
  return strings
}

function tlsFiles(config: SidecarConfig, source: Source): TlsFiles {
  return {
    ca: optionFile(config.sslCaFile, source('sslCaFile')),
    cert: optionFile(config.sslCertFile, source('sslCertFile')),
    key: optionFile(config.sslKeyFile, source('sslKeyFile')),
    rejectUnauthorized: config.sslRejectUnauthorized,
    servername: config.sslServername,
  }
}

async function saslMechanism(config: SidecarConfig, source: Source, name: string): Promise<Mechanism> {
  if (config.saslMechanismModule !== null)
    return loadMechanismModule({
      specifier: config.saslMechanismModule,
      source: source('saslMechanismModule'),
      options: config.saslMechanismOptions,
      name,
      nameSource: source('saslMechanism'),
    })
  // checkKafkaSecurity let only built-in names through without a module.
  if (!isBuiltInMechanism(name)) throw new Error(`unreachable: mechanism ${name} without a module`)
  if (name === 'oauthbearer') {
    const tokenFile = optionFile(config.saslOauthbearerTokenFile, source('saslOauthbearerTokenFile'))!
    return builtInMechanism(name, () => ({
      oauthBearerProvider: async () => ({ value: readSecretFile(tokenFile) }),
    }))
  }
  const passwordFile = optionFile(config.saslPasswordFile, source('saslPasswordFile'))
  return builtInMechanism(name, () => ({
    username: config.saslUsername,
    password: passwordFile ? readSecretFile(passwordFile) : config.saslPassword,
  }))
}

/** "SASL SCRAM-SHA-512 over TLS"; what is not protected is said in it, so logs and /readyz show it. */
function describe(config: SidecarConfig): string {
  const tls = !config.ssl
    ? 'plaintext'
    : `${config.sslCertFile ? 'mutual TLS' : 'TLS'}${config.sslRejectUnauthorized ? '' : ' (certificates not verified)'}`
  if (config.saslMechanism === null) return tls
  return `SASL ${config.saslMechanism.toUpperCase()} over ${tls}`
}

/** What an operator should know is unsafe in this configuration, logged as warnings at start. */
function securityWarnings(config: SidecarConfig): string[] {
  const warnings: string[] = []
  if (config.ssl && !config.sslRejectUnauthorized)
    warnings.push(
      "KAFKA_SSL_REJECT_UNAUTHORIZED=false: the brokers' certificates are not verified, so anyone between the sidecar and the brokers can read and change the traffic, credentials included",
    )
  const mechanism = config.saslMechanism
  if (!config.ssl && (mechanism === 'plain' || mechanism === 'oauthbearer'))
    warnings.push(
      `SASL ${mechanism.toUpperCase()} without TLS (KAFKA_SSL is off): the ${mechanism === 'plain' ? 'password' : 'token'} crosses the network in clear text`,
    )
  return warnings
}
