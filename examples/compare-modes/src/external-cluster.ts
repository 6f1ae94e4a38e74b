/**
 * The cluster under test when KAFKA_BROKERS is set: the team's own brokers, reached exactly as the
 * sidecar reaches them (kafkaClientSettings reads the same KAFKA_SSL* and KAFKA_SASL_* variables
 * with the sidecar's code). Topics are made per run with the brokers' default replication factor
 * and deleted at the end unless kept; the log is read back with a KafkaJS consumer. Connections
 * cannot be counted by brokers we do not run, so they are sampled from /proc (Linux only).
 */
import { Kafka, logLevel, type Admin } from 'kafkajs'
import { kafkaClientSettings, type KafkaClientSettings } from '@kafka-sidecar/sidecar'
import { requireProcfs, sampleBrokerSockets } from './broker-sockets.js'
import type { ClusterUnderTest, LogRecord } from './cluster-under-test.js'
import { readTopic } from './log-reader.js'

/** The variables that say where the brokers are and how to connect, passed on as they are. */
const CLIENT_VARIABLES = /^KAFKA_(BROKERS|SSL|SSL_.+|SASL_.+)$/

export interface ExternalOptions {
  readonly env: NodeJS.ProcessEnv
  /** Leave the run's topics on the cluster (--keep-topics). */
  readonly keepTopics: boolean
}

export async function connectExternalCluster(options: ExternalOptions): Promise<ClusterUnderTest> {
  requireProcfs()
  const settings = await kafkaClientSettings(options.env)
  const how = describeSecurity(settings)
  const kafka = new Kafka({ clientId: 'kafka-sidecar-compare', ...settings, logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  let brokerCount: number
  try {
    await admin.connect()
    brokerCount = (await admin.describeCluster()).brokers.length
  } catch (error) {
    await admin.disconnect()
    const e = error as Error
    throw new Error(`cannot connect to ${settings.brokers.join(',')} (${how}): ${e.name}: ${e.message}`, {
      cause: error,
    })
  }
  const clientEnv = Object.fromEntries(
    Object.entries(options.env).filter((e): e is [string, string] => CLIENT_VARIABLES.test(e[0]) && e[1] !== undefined),
  )
  const description = `external cluster: ${brokerCount} brokers (bootstrap ${settings.brokers.join(', ')}), ${how}`
  return new ExternalClusterUnderTest(kafka, admin, { brokerCount, clientEnv, description }, options.keepTopics)
}

/** "TLS + SASL SCRAM-SHA-512", from the settings themselves rather than a second reading of the variables. */
function describeSecurity(settings: KafkaClientSettings): string {
  const sasl = settings.sasl ? `SASL ${settings.sasl.mechanism.toUpperCase()}` : null
  if (!settings.ssl) return sasl ?? 'plaintext'
  return sasl ? `TLS + ${sasl}` : 'TLS'
}

interface Described {
  readonly brokerCount: number
  readonly clientEnv: Readonly<Record<string, string>>
  readonly description: string
}

class ExternalClusterUnderTest implements ClusterUnderTest {
  readonly connectionCounting = 'sampled from /proc every 0.5 s'
  readonly brokerCount: number
  readonly clientEnv: Readonly<Record<string, string>>
  readonly description: string
  private readonly topics: string[] = []

  constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    described: Described,
    private readonly keepTopics: boolean,
  ) {
    this.brokerCount = described.brokerCount
    this.clientEnv = described.clientEnv
    this.description = described.description
  }

  async createTopic(topic: string, partitions: number): Promise<void> {
    const created = await this.admin.createTopics({
      topics: [{ topic, numPartitions: partitions }],
      waitForLeaders: true,
    })
    if (!created) throw new Error(`topic ${topic} already exists; the run needs a topic of its own`)
    this.topics.push(topic)
  }

  watchConnections(pids: () => readonly number[]): { stop(): number } {
    return sampleBrokerSockets(pids, 500)
  }

  /** Brokers we do not run cannot be asked; the consumer comparison counts rebalances otherwise. */
  groupGeneration(): null {
    return null
  }

  forEachRecord(topic: string, visit: (record: LogRecord) => void): Promise<void> {
    return readTopic(this.kafka, this.admin, topic, visit)
  }

  async close(): Promise<void> {
    if (this.keepTopics && this.topics.length > 0) console.log(`kept topics: ${this.topics.join(', ')}`)
    else for (const topic of this.topics) await this.deleteTopic(topic)
    await this.admin.disconnect()
  }

  private async deleteTopic(topic: string): Promise<void> {
    try {
      await this.admin.deleteTopics({ topics: [topic] })
    } catch (error) {
      console.warn(`warning: could not delete topic ${topic} (${(error as Error).message}); delete it by hand`)
    }
  }
}
