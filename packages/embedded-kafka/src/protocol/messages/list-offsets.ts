// ListOffsets (key 2). Spec: ListOffsetsRequest.json / ListOffsetsResponse.json (apache/kafka clients/src/main/resources/common/message).
// v0-only fields (request MaxNumOffsets, response OldStyleOffsets) and request TimeoutMs (10+) are
// outside our 1-6 range and left out. No tagged fields in these versions.
import { defineApi } from '../api.js'
import { array, field, int16, int32, int64, int8, string, struct } from '../schema.js'

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
      array(
        struct({
          name: field(string),
          partitions: field(
            array(
              struct({
                partitionIndex: field(int32),
                currentLeaderEpoch: field(int32, '4+', -1),
                timestamp: field(int64),
              }),
            ),
          ),
        }),
      ),
    ),
  }),
  response: struct({
    throttleTimeMs: field(int32, '2+'),
    topics: field(
      array(
        struct({
          name: field(string),
          partitions: field(
            array(
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
      ),
    ),
  }),
})
