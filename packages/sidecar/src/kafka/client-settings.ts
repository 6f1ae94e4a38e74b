/**
 * What a KafkaJS `Kafka` needs to reach the brokers exactly as the sidecar does, read from the same
 * environment variables (KAFKA_BROKERS, KAFKA_CONNECTION_TIMEOUT_MS, KAFKA_SSL*, KAFKA_SASL_*) by the same code: for programs
 * beside the sidecar (an admin, a log reader, a benchmark's direct producers) that must connect and
 * authenticate as it does. The files are read as the sidecar reads them: checked now, read again
 * for every connection or authentication.
 */
import type { KafkaConfig } from 'kafkajs'
import { optionsFromEnv, resolveConfigAndSources } from '../config.js'
import { loadKafkaSecurity } from './kafka-security.js'

/** The bootstrap brokers and the TLS and SASL settings, to spread into KafkaJS's `new Kafka({...})`. */
export type KafkaClientSettings = Pick<KafkaConfig, 'ssl' | 'socketFactory' | 'sasl' | 'connectionTimeout'> & {
  readonly brokers: string[]
}

/**
 * The settings the sidecar would connect with under `env`. Refuses what the sidecar refuses at
 * start (a missing KAFKA_BROKERS, a TLS option without KAFKA_SSL=true, an unreadable CA file, ...)
 * with a SidecarConfigError naming the variable.
 */
export async function kafkaClientSettings(env: NodeJS.ProcessEnv = process.env): Promise<KafkaClientSettings> {
  const { config, source } = resolveConfigAndSources([optionsFromEnv(env)])
  const security = await loadKafkaSecurity(config, source)
  return { brokers: config.brokers, connectionTimeout: config.connectionTimeoutMs, ...security.clientSettings }
}
