import { EmbeddedKafka, type EmbeddedKafkaOptions } from '@kafka-sidecar/embedded-kafka'
import { onTestFinished } from 'vitest'

/** An embedded cluster on ephemeral ports (3 brokers unless told otherwise), stopped when the test ends. */
export async function startCluster(options: EmbeddedKafkaOptions = {}): Promise<EmbeddedKafka> {
  const cluster = await EmbeddedKafka.start({ brokers: 3, ...options })
  onTestFinished(() => cluster.stop())
  return cluster
}
