/**
 * Which broker answers what. Data requests go to a partition's leader; group APIs (and
 * TxnOffsetCommit) to the group's coordinator; the other transaction APIs to the transactional
 * id's coordinator. Any other broker refuses, so clients look the right one up again.
 */
import { GroupCoordinator } from '../../groups/group-coordinator.js'
import { ErrorCode } from '../../protocol/error-codes.js'
import type { RequestContext } from '../../server/route.js'
import type { Partition } from '../../state/topic.js'
import { TransactionCoordinator } from '../../transactions/transaction-coordinator.js'

export type LeaderLookup =
  { readonly partition: Partition; readonly errorCode: 0 } | { readonly partition: null; readonly errorCode: number }

/**
 * The partition if this broker leads it. Like Kafka, a broker refuses data requests for
 * partitions it does not lead (NOT_LEADER_OR_FOLLOWER), so clients must route by metadata.
 */
export function ledPartition(ctx: RequestContext, topic: string, index: number): LeaderLookup {
  const partition = ctx.cluster.partition(topic, index)
  if (!partition) return { partition: null, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }
  if (partition.leaderId !== ctx.broker.id) return { partition: null, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER }
  return { partition, errorCode: ErrorCode.NONE }
}

/**
 * Kafka's coordinator check for group APIs (and TxnOffsetCommit, which goes to the group's
 * coordinator). Each group API checks it first (NOT_COORDINATOR otherwise, so clients re-run
 * FindCoordinator), then defers to the GroupCoordinator's state machine.
 */
export function isCoordinatorFor(ctx: RequestContext, groupId: string): boolean {
  return (
    GroupCoordinator.coordinatorFor(
      groupId,
      ctx.cluster.liveBrokers().map((b) => b.id),
    ) === ctx.broker.id
  )
}

/** The same check for the transaction APIs, keyed by transactional id. */
export function isTransactionCoordinatorFor(ctx: RequestContext, transactionalId: string): boolean {
  return (
    TransactionCoordinator.coordinatorFor(
      transactionalId,
      ctx.cluster.liveBrokers().map((b) => b.id),
    ) === ctx.broker.id
  )
}
