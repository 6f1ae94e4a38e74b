// OffsetFetch (key 9). Spec: OffsetFetchRequest.json / OffsetFetchResponse.json (apache/kafka clients/src/main/resources/common/message).
// v8+ batches several groups (Groups fields, 8+): out of scope and left out. No tagged fields.
import { defineApi } from '../protocol/api.js'
import { ErrorCode } from '../protocol/error-codes.js'
import {
  array,
  boolean,
  field,
  int16,
  int32,
  int64,
  nullableArray,
  nullableString,
  string,
  struct,
} from '../protocol/schema.js'
import { route } from '../server/route.js'
import { isCoordinatorFor } from './shared/leadership.js'

export const OffsetFetch = defineApi({
  key: 9,
  name: 'OffsetFetch',
  minVersion: 1,
  maxVersion: 7,
  flexibleSince: 6,
  request: struct({
    groupId: field(string, '0-7'),
    // null (v2+) asks for every partition the group has committed.
    topics: field(
      nullableArray(
        struct({
          name: field(string, '0-7'),
          partitionIndexes: field(array(int32), '0-7'),
        }),
      ),
      '0-7',
      [],
    ),
    requireStable: field(boolean, '7+', false),
  }),
  response: struct({
    throttleTimeMs: field(int32, '3+'),
    topics: field(
      array(
        struct({
          name: field(string, '0-7'),
          partitions: field(
            array(
              struct({
                partitionIndex: field(int32, '0-7'),
                committedOffset: field(int64, '0-7'),
                committedLeaderEpoch: field(int32, '5-7', -1),
                metadata: field(nullableString, '0-7', ''),
                errorCode: field(int16, '0-7'),
              }),
            ),
            '0-7',
          ),
        }),
      ),
      '0-7',
    ),
    errorCode: field(int16, '2-7', 0),
  }),
})

export const offsetFetchRoute = route(OffsetFetch, (ctx, request) => {
  if (!isCoordinatorFor(ctx, request.groupId)) {
    // v1 has no top-level error code: report it on every partition asked for.
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NOT_COORDINATOR,
      topics: (request.topics ?? []).map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((partitionIndex) => ({
          partitionIndex,
          committedOffset: -1,
          metadata: '',
          errorCode: ErrorCode.NOT_COORDINATOR,
        })),
      })),
    }
  }
  const committed = ctx.groups.committedTopics(request.groupId)
  const wanted =
    request.topics ??
    [...committed.entries()].map(([name, partitions]) => ({ name, partitionIndexes: [...partitions.keys()] }))
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    topics: wanted.map((t) => ({
      name: t.name,
      partitions: t.partitionIndexes.map((partitionIndex) => {
        // requireStable (v7, KIP-447): an offset an open transaction may still change is not answered.
        if (
          request.requireStable &&
          ctx.groups.hasPendingTransactionalOffset(request.groupId, t.name, partitionIndex)
        ) {
          return {
            partitionIndex,
            committedOffset: -1,
            committedLeaderEpoch: -1,
            metadata: '',
            errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT,
          }
        }
        const offset = committed.get(t.name)?.get(partitionIndex)
        return {
          partitionIndex,
          committedOffset: offset?.offset ?? -1,
          committedLeaderEpoch: offset?.leaderEpoch ?? -1,
          metadata: offset?.metadata ?? '',
          errorCode: ErrorCode.NONE,
        }
      }),
    })),
  }
})
