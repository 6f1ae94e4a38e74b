/**
 * Counting the group's Kafka rebalances during the rolling restart, the best way each setting
 * allows, and saying which was used:
 * - embedded-kafka: the group's generation id (cluster.groupGeneration), exact, both modes;
 * - an external cluster, sidecar mode: the sidecar's kafka_sidecar_consumer_kafka_rebalances_total
 *   for the group (the rebalances its member went through);
 * - an external cluster, direct mode: the workers' GROUP_JOIN events with isLeader, since every
 *   completed rebalance has exactly one leader, which emits one GROUP_JOIN (KafkaJS's payload has
 *   no generation id).
 * Every count available is kept in the result, so the embedded runs cross-check the other two.
 */
import type { ClusterUnderTest } from '../cluster-under-test.js'
import { sidecarGroupMetrics, type SidecarGroupMetrics } from './sidecar-metrics.js'
import type { Mode, WorkerPool } from './worker-pool.js'

export type RebalanceSource = 'group generation (embedded-kafka)' | 'sidecar metric' | 'GROUP_JOIN events with isLeader'

export interface RebalanceReading {
  readonly generation: number | null
  readonly sidecar: SidecarGroupMetrics | null
  readonly leaderGroupJoins: number
}

export interface RebalancesDuring {
  readonly rebalances: number
  readonly source: RebalanceSource
  /** Each count available: generation delta, the sidecar's metric, the leader's GROUP_JOINs. */
  readonly counts: { generation?: number; sidecarMetric?: number; leaderGroupJoins?: number }
  /** Sidecar mode: partitions moved between the pod's processes, and records delivered again. */
  readonly localMoves?: number
  readonly redelivered?: number
}

export async function readRebalances(
  cluster: ClusterUnderTest,
  groupId: string,
  pool: WorkerPool,
  sidecarHttp: string | null,
): Promise<RebalanceReading> {
  return {
    generation: cluster.groupGeneration(groupId),
    sidecar: sidecarHttp ? await sidecarGroupMetrics(sidecarHttp, groupId) : null,
    leaderGroupJoins: pool.leaderGroupJoins,
  }
}

export function rebalancesBetween(mode: Mode, before: RebalanceReading, after: RebalanceReading): RebalancesDuring {
  const counts: RebalancesDuring['counts'] = {}
  if (before.generation !== null && after.generation !== null) counts.generation = after.generation - before.generation
  if (before.sidecar && after.sidecar)
    counts.sidecarMetric = after.sidecar.kafkaRebalances - before.sidecar.kafkaRebalances
  // In sidecar mode GROUP_JOIN follows the sidecar's local moves too (CONSUMER-GROUP-JOIN-PER-PROCESS).
  if (mode === 'direct') counts.leaderGroupJoins = after.leaderGroupJoins - before.leaderGroupJoins
  const [rebalances, source]: [number, RebalanceSource] =
    counts.generation !== undefined
      ? [counts.generation, 'group generation (embedded-kafka)']
      : counts.sidecarMetric !== undefined
        ? [counts.sidecarMetric, 'sidecar metric']
        : [counts.leaderGroupJoins ?? 0, 'GROUP_JOIN events with isLeader']
  return {
    rebalances,
    source,
    counts,
    ...(before.sidecar &&
      after.sidecar && {
        localMoves: after.sidecar.localMoves - before.sidecar.localMoves,
        redelivered: after.sidecar.redelivered - before.sidecar.redelivered,
      }),
  }
}
