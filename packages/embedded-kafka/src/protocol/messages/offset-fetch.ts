// OffsetFetch (key 9). Spec: OffsetFetchRequest.json / OffsetFetchResponse.json (apache/kafka clients/src/main/resources/common/message).
// v8+ batches several groups (Groups fields, 8+): out of scope and left out. No tagged fields.
import { defineApi } from '../api.js'
import { array, boolean, field, int16, int32, int64, nullableArray, nullableString, string, struct } from '../schema.js'

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
