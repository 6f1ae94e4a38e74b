// ListOffsets (key 2). Spec: ListOffsetsRequest.json / ListOffsetsResponse.json (apache/kafka clients/src/main/resources/common/message).
// v0-only fields (request MaxNumOffsets, response OldStyleOffsets) and request TimeoutMs (10+) are
// outside our 1-6 range and left out. No tagged fields in these versions.
import { defineApi } from '../protocol/api.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { field, int16, int32, int64, int8, struct } from '../protocol/schema.js'
import { route } from '../server/route.js'
import { ledPartition } from './shared/leadership.js'
import { partitionsByTopic } from './shared/schema-pieces.js'

export const ListOffsets = defineApi({
  key: 2,
  name: 'ListOffsets',
  minVersion: 1,
  maxVersion: 6,
  flexibleSince: 6,
  request: struct({
    replicaId: field(int32),
    isolationLevel: field(int8, '2+'),
    topics: field(
      partitionsByTopic(
        struct({
          partitionIndex: field(int32),
          currentLeaderEpoch: field(int32, '4+', -1),
          timestamp: field(int64),
        }),
      ),
    ),
  }),
  response: struct({
    throttleTimeMs: field(int32, '2+'),
    topics: field(
      partitionsByTopic(
        struct({
          partitionIndex: field(int32),
          errorCode: field(int16),
          timestamp: field(int64, '1+', -1),
          offset: field(int64, '1+', -1),
          leaderEpoch: field(int32, '4+', -1),
        }),
      ),
    ),
  }),
})

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
