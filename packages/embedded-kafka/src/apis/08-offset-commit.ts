// OffsetCommit (key 8). Spec: OffsetCommitRequest.json / OffsetCommitResponse.json (apache/kafka clients/src/main/resources/common/message).
// CommitTimestamp (v1 only) is outside our 2-8 range and left out. No tagged fields in these messages.
import { defineApi } from '../protocol/api.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { field, int32, int64, nullableString, string, struct } from '../protocol/schema.js'
import { route } from '../server/route.js'
import { isCoordinatorFor } from './shared/leadership.js'
import { commitEachPartition } from './shared/offset-commits.js'
import { partitionErrorsByTopic, partitionsByTopic } from './shared/schema-pieces.js'

export const OffsetCommit = defineApi({
  key: 8,
  name: 'OffsetCommit',
  minVersion: 2,
  maxVersion: 8,
  flexibleSince: 8,
  request: struct({
    groupId: field(string),
    generationIdOrMemberEpoch: field(int32, '1+', -1),
    memberId: field(string, '1+'),
    groupInstanceId: field(nullableString, '7+', null),
    retentionTimeMs: field(int64, '2-4', -1),
    topics: field(
      partitionsByTopic(
        struct({
          partitionIndex: field(int32),
          committedOffset: field(int64),
          committedLeaderEpoch: field(int32, '6+', -1),
          committedMetadata: field(nullableString, '0+', ''),
        }),
      ),
    ),
  }),
  response: struct({
    throttleTimeMs: field(int32, '3+'),
    topics: field(partitionErrorsByTopic),
  }),
})

export const offsetCommitRoute = route(OffsetCommit, (ctx, request) => {
  const groupError = isCoordinatorFor(ctx, request.groupId)
    ? ctx.groups.commitCheck(request.groupId, request.generationIdOrMemberEpoch, request.memberId)
    : ErrorCode.NOT_COORDINATOR
  return {
    throttleTimeMs: 0,
    topics: commitEachPartition(ctx, request.topics, groupError, (topic, partition, offset) =>
      ctx.groups.commit(request.groupId, topic, partition, offset),
    ),
  }
})
