/**
 * The cluster under test when KAFKA_BROKERS is not set: a 3-broker embedded-kafka in this process,
 * plaintext or, with --security, asking for TLS (a throwaway CA, written to the run's temp dir)
 * and/or SASL SCRAM-SHA-512 (a random password, written to a file there), so one run shows what
 * handshakes cost and what the sidecar saves. Connections are counted exactly, by the brokers.
 */
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import type { ClusterUnderTest, LogRecord } from './cluster-under-test.js'

export const SECURITY_CHOICES = ['plaintext', 'tls', 'scram', 'tls+scram'] as const
export type Security = (typeof SECURITY_CHOICES)[number]

const BROKERS = 3
const SCRAM_USER = 'compare'

export interface EmbeddedOptions {
  readonly security: Security
  readonly retentionBytes: number
  /** Where the CA and password files go (the run's temp dir). */
  readonly dir: string
}

export async function startEmbeddedCluster(options: EmbeddedOptions): Promise<ClusterUnderTest> {
  const tls = options.security.startsWith('tls')
  const password = options.security.endsWith('scram') ? randomBytes(16).toString('hex') : null
  const cluster = await EmbeddedKafka.start({
    brokers: BROKERS,
    retentionBytes: options.retentionBytes,
    tls,
    ...(password && { sasl: [{ mechanism: 'scram-sha-512' as const, username: SCRAM_USER, password }] }),
  })
  const env: Record<string, string> = { KAFKA_BROKERS: cluster.bootstrapServers.join(',') }
  if (tls) {
    env.KAFKA_SSL = 'true'
    env.KAFKA_SSL_CA_FILE = join(options.dir, 'ca.pem')
    writeFileSync(env.KAFKA_SSL_CA_FILE, cluster.caCertificate!)
  }
  if (password) {
    env.KAFKA_SASL_MECHANISM = 'scram-sha-512'
    env.KAFKA_SASL_USERNAME = SCRAM_USER
    env.KAFKA_SASL_PASSWORD_FILE = join(options.dir, 'sasl-password')
    writeFileSync(env.KAFKA_SASL_PASSWORD_FILE, password, { mode: 0o600 })
  }
  return new EmbeddedClusterUnderTest(cluster, env, options.security)
}

class EmbeddedClusterUnderTest implements ClusterUnderTest {
  readonly brokerCount = BROKERS
  readonly connectionCounting = 'exact (counted by embedded-kafka)'
  readonly description: string

  constructor(
    private readonly cluster: EmbeddedKafka,
    readonly clientEnv: Readonly<Record<string, string>>,
    security: Security,
  ) {
    this.description = `embedded-kafka: ${BROKERS} brokers at ${cluster.bootstrapServers.join(', ')}, ${security}${security === 'plaintext' ? '' : ` (${cluster.securityProtocol})`}`
  }

  createTopic(topic: string, partitions: number): Promise<void> {
    return this.cluster.createTopic({ topic, partitions })
  }

  /**
   * The brokers count every connection; the pids are not needed. Connections open now stay open
   * throughout when excluded (the program's own clients), so each broker's peak less them is the
   * peak of the others.
   */
  watchConnections(_pids: () => readonly number[], options: { excludeOpenNow?: boolean } = {}): { stop(): number } {
    this.cluster.resetConnectionStats()
    const openNow = options.excludeOpenNow ? this.cluster.connectionStats().reduce((sum, s) => sum + s.current, 0) : 0
    return { stop: () => this.cluster.connectionStats().reduce((sum, s) => sum + s.peak, 0) - openNow }
  }

  groupGeneration(groupId: string): number | null {
    return this.cluster.groupGeneration(groupId) ?? null
  }

  async forEachRecord(topic: string, visit: (record: LogRecord) => void): Promise<void> {
    for (const record of await this.cluster.records(topic)) visit(record)
  }

  close(): Promise<void> {
    return this.cluster.stop()
  }
}
