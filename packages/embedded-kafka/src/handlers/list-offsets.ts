import { ErrorCode } from '../protocol/error-codes.js'
import { ListOffsets } from '../protocol/messages/list-offsets.js'
import { route } from '../server/route.js'
import { ledPartition } from './leadership.js'

const LATEST = -1
const EARLIEST = -2
const READ_COMMITTED = 1

export const listOffsetsRoute = route(ListOffsets, (ctx, request) => ({
  throttleTimeMs: 0,
  topics: request.topics.map((topic) => ({
    name: topic.name,
    partitions: topic.partitions.map((p) => {
      const lookup = ledPartition(ctx, topic.name, p.partitionIndex)
      if (!lookup.partition)
        return { partitionIndex: p.partitionIndex, errorCode: lookup.errorCode, timestamp: -1, offset: -1 }
      const { log } = lookup.partition
      // read_committed clients may not see past the last stable offset, so "latest" is that.
      const lastFetchable =
        request.isolationLevel === READ_COMMITTED ? lookup.partition.lastStableOffset : log.endOffset
      if (p.timestamp === LATEST)
        return {
          partitionIndex: p.partitionIndex,
          errorCode: ErrorCode.NONE,
          timestamp: -1,
          offset: lastFetchable,
          leaderEpoch: 0,
        }
      if (p.timestamp === EARLIEST)
        return {
          partitionIndex: p.partitionIndex,
          errorCode: ErrorCode.NONE,
          timestamp: -1,
          offset: log.logStartOffset,
          leaderEpoch: 0,
        }
      const candidate = log.offsetForTimestamp(p.timestamp)
      const found = candidate && candidate.offset < lastFetchable ? candidate : null
      return {
        partitionIndex: p.partitionIndex,
        errorCode: ErrorCode.NONE,
        timestamp: found?.timestamp ?? -1,
        offset: found?.offset ?? -1,
        leaderEpoch: found ? 0 : -1,
      }
    }),
  })),
}))
