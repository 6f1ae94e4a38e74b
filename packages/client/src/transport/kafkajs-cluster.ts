/**
 * The KafkaJS Cluster behind a producer KafkaJS makes. It is private to the producer, but the
 * kafkajs instrumentation reads the cluster id from it (`brokerPool.metadata.clusterId`, learned
 * with the producer's metadata), and spans of a producer that sends through the sidecar must
 * carry the same id when their sends go to the direct path (see tracing/span-cluster.ts).
 *
 * KafkaJS 2.2.4's `kafka.producer()` builds the cluster with the Kafka instance's own private
 * cluster factory and hands it to the producer; for the one call in `create`, that factory is
 * wrapped to keep what it returns. Nothing else about the producer changes.
 */
import type { Kafka } from 'kafkajs'

/** As much of KafkaJS's Cluster as is read here. */
export interface KafkaJSClusterView {
  readonly brokerPool?: { readonly metadata?: { readonly clusterId?: unknown } | null }
}

export function createCapturingCluster<T>(
  kafka: Kafka,
  create: () => T,
): { created: T; cluster: KafkaJSClusterView | null } {
  const symbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster')
  // Another KafkaJS than 2.2.4: the producer is made as usual, its cluster id stays unknown.
  if (!symbol) return { created: create(), cluster: null }
  const members = kafka as unknown as Record<symbol, (options: unknown) => unknown>
  const createCluster = members[symbol]!
  let cluster: KafkaJSClusterView | null = null
  members[symbol] = (options) => (cluster = createCluster(options) as KafkaJSClusterView)
  try {
    const created = create()
    return { created, cluster }
  } finally {
    members[symbol] = createCluster
  }
}

/** The cluster id KafkaJS has learned, or undefined before it loaded metadata (as the instrumentation reads it). */
export function learnedClusterId(cluster: KafkaJSClusterView | null): string | undefined {
  const id = cluster?.brokerPool?.metadata?.clusterId
  return typeof id === 'string' && id !== '' ? id : undefined
}
