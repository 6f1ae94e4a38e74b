import type { CommittedOffset } from '../../groups/group.js'
import { ErrorCode } from '../../protocol/error-codes.js'
import type { RequestContext } from '../../server/route.js'

/** A topic of an OffsetCommit or TxnOffsetCommit request, as both decode it. */
interface CommitTopic {
  readonly name: string
  readonly partitions: readonly {
    readonly partitionIndex: number
    readonly committedOffset: number
    readonly committedLeaderEpoch: number
    readonly committedMetadata: string | null
  }[]
}

/**
 * The per-partition answer of OffsetCommit and TxnOffsetCommit: the request's own error on every
 * partition if it has one, UNKNOWN_TOPIC_OR_PARTITION for a partition that does not exist, and
 * otherwise the offset handed to `store`.
 */
export function commitEachPartition(
  ctx: RequestContext,
  topics: readonly CommitTopic[],
  requestError: number,
  store: (topic: string, partition: number, offset: CommittedOffset) => void,
) {
  return topics.map((topic) => ({
    name: topic.name,
    partitions: topic.partitions.map((p) => {
      if (requestError !== ErrorCode.NONE) return { partitionIndex: p.partitionIndex, errorCode: requestError }
      if (!ctx.cluster.partition(topic.name, p.partitionIndex))
        return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }
      store(topic.name, p.partitionIndex, {
        offset: p.committedOffset,
        leaderEpoch: p.committedLeaderEpoch,
        metadata: p.committedMetadata,
      })
      return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE }
    }),
  }))
}
