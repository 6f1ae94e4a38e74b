/**
 * Which Kafka cluster this sidecar writes to, for the ClusterInfo call: the cluster id and the
 * brokers' advertised addresses from the brokers' own answer (KafkaJS's admin describeCluster,
 * one Metadata request on the shared connections), and the bootstrap list the sidecar was given.
 *
 * Clients compare it with their application's own brokers: their direct fallback writes there,
 * so a sidecar pointed at another cluster would split an application's records between two
 * clusters. The answer is cached and refreshed by every successful liveness probe (which asks
 * the same question anyway), so it follows a reconnect and costs the brokers nothing more.
 */
import { status } from '@grpc/grpc-js'
import type { Logger } from 'kafkajs'
import { SidecarError } from '../errors.js'

/** What KafkaJS's admin.describeCluster() resolves with, as far as it is used here. */
export interface DescribedCluster {
  readonly clusterId: string
  readonly brokers: ReadonlyArray<{ readonly host: string; readonly port: number }>
}

export interface ClusterIdentitySnapshot {
  readonly clusterId: string
  readonly bootstrapServers: readonly string[]
  /** host:port of each broker as the cluster advertises it. */
  readonly brokers: readonly string[]
}

export class ClusterIdentity {
  private snapshot: ClusterIdentitySnapshot | null = null

  constructor(
    private readonly bootstrapServers: readonly string[],
    private readonly describeCluster: () => Promise<DescribedCluster>,
    private readonly log: Logger,
  ) {}

  /** The last answer, or null before the brokers ever answered. */
  get current(): ClusterIdentitySnapshot | null {
    return this.snapshot
  }

  /**
   * Asks the brokers and keeps the answer. Every call asks anew, as the liveness probe always
   * did: a question stuck on a hung broker must not hold up the next one.
   */
  async refresh(): Promise<ClusterIdentitySnapshot> {
    return this.keep(await this.describeCluster())
  }

  /**
   * The identity to tell a client: the cached one (a cluster keeps its id while unreachable),
   * else the brokers' answer now; UNAVAILABLE when they cannot be asked.
   */
  async describe(): Promise<ClusterIdentitySnapshot> {
    if (this.snapshot) return this.snapshot
    try {
      return await this.refresh()
    } catch (error) {
      throw new SidecarError({
        grpcCode: status.UNAVAILABLE,
        message: `the sidecar has not reached the brokers yet, so it cannot tell which cluster it writes to: ${error instanceof Error ? error.message : String(error)}`,
        retriable: true,
      })
    }
  }

  private keep(described: DescribedCluster): ClusterIdentitySnapshot {
    const next: ClusterIdentitySnapshot = {
      clusterId: described.clusterId,
      bootstrapServers: this.bootstrapServers,
      brokers: described.brokers.map((b) => `${b.host}:${b.port}`).sort(),
    }
    const previous = this.snapshot
    this.snapshot = next
    // The bootstrap list now leads to another cluster (a DNS name moved): every client that
    // checked at connect believes the old one, so this must be seen.
    if (previous === null) this.log.info('cluster identity', { clusterId: next.clusterId, brokers: next.brokers })
    else if (previous.clusterId !== next.clusterId)
      this.log.error('the brokers now report another cluster id than before', {
        previous: previous.clusterId,
        clusterId: next.clusterId,
        brokers: next.brokers,
      })
    return next
  }
}
