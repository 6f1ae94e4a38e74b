/**
 * Which Kafka cluster a sidecar consumer reads, and the cluster id its spans carry.
 *
 * A consumer in sidecar mode reads the sidecar's cluster; its application's `brokers` serve only
 * the direct fallback. A sidecar pointed at another cluster would feed the application another
 * cluster's records, under the same group id, with the offsets committed there. So before each
 * join through the sidecar (a run, a restart after a crash, the return from the direct fallback)
 * the consumer asks the sidecar which cluster it reads (ClusterInfo, the producer's check,
 * path/cluster-check.ts) and compares it with its own bootstrap list: a mismatch is an error log
 * line; with `clusterMismatch: 'refuse'` the consumer then consumes directly from the
 * application's brokers, as a producer produces directly.
 *
 * The application's KafkaJS instrumentation puts `messaging.kafka.cluster.id` on consumer spans
 * from the KafkaJS Cluster the consumer was made with, which KafkaJS's consumer has loaded by the
 * time a handler runs. A sidecar consumer has none: `view` is its stand-in, with the id the
 * sidecar told while the consumer reads through it.
 */
import type { ProducerSidecarClient } from '@kafka-sidecar/proto'
import type { KafkaConfig, Logger } from 'kafkajs'
import type { ClusterMismatchPolicy } from '../options.js'
import { SidecarClusterCheck } from '../path/cluster-check.js'
import type { KafkaJSClusterView } from '../transport/kafkajs-cluster.js'

export interface ConsumerClusterSettings {
  readonly policy: ClusterMismatchPolicy
  readonly token: string | null
  readonly timeoutMs: number
  readonly applicationBrokers: KafkaConfig['brokers'] | undefined
}

const CONSUMER_CONSEQUENCES: Record<ClusterMismatchPolicy, string> = {
  refuse: "Consuming directly from the application's brokers instead (clusterMismatch: refuse).",
  warn: "Consuming through the sidecar anyway (clusterMismatch: warn); a consumer that falls back reads the application's brokers.",
}

export class ConsumerCluster {
  /** What the instrumentation reads, shaped as KafkaJS's Cluster as far as it reads it. */
  readonly view: KafkaJSClusterView
  private readonly check: SidecarClusterCheck
  private readingThroughSidecar = false

  constructor(
    settings: ConsumerClusterSettings,
    log: Logger,
    /** A ProducerSidecar client on the consumer's channel (ClusterInfo is its call); null when there is none to ask. */
    private readonly client: () => ProducerSidecarClient | null,
  ) {
    this.check = new SidecarClusterCheck(
      { ...settings, consequences: CONSUMER_CONSEQUENCES },
      log,
      { clusterCheck: () => {} },
      () => {},
    )
    const clusterId = () => (this.readingThroughSidecar ? this.check.clusterIdForSends : null)
    this.view = {
      brokerPool: {
        get metadata(): { clusterId: string } | null {
          const id = clusterId()
          return id ? { clusterId: id } : null
        },
      },
    }
  }

  /**
   * Asks the sidecar which cluster it reads; true when this consumer must not read through it.
   * With `keepVerdictOnFailure`, a call that fails keeps the last verdict instead of 'unknown'.
   */
  async refuses({ keepVerdictOnFailure = false } = {}): Promise<boolean> {
    const client = this.client()
    if (!client) return false
    return keepVerdictOnFailure ? this.check.refusesKeepingVerdict(client) : this.check.refuses(client)
  }

  /** Whether the consumer's partitions come from the sidecar now (its spans then carry the sidecar's cluster id). */
  readingFromSidecar(reading: boolean): void {
    this.readingThroughSidecar = reading
  }
}
