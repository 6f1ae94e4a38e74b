import { GroupCoordinator } from '../groups/group-coordinator.js'
import { ErrorCode } from '../protocol/error-codes.js'
import type { RequestContext } from '../server/route.js'
import type { Partition } from '../state/topic.js'

export type LeaderLookup = { readonly partition: Partition; readonly errorCode: 0 } | { readonly partition: null; readonly errorCode: number }

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

/** Kafka's coordinator check for group and transaction APIs. */
export function isCoordinatorFor(ctx: RequestContext, key: string): boolean {
  return GroupCoordinator.coordinatorFor(key, ctx.cluster.liveBrokers().map((b) => b.id)) === ctx.broker.id
}
