// Fetch (key 1). Spec: FetchRequest.json / FetchResponse.json (apache/kafka clients/src/main/resources/common/message).
// v13+ (topic ids instead of names) is out of scope, so TopicId (13+) fields are left out.
// Tagged fields omitted (our codec skips them): request ClusterId (12+), ReplicaState (15+),
// ReplicaDirectoryId (17+); response DivergingEpoch, CurrentLeader, SnapshotId (12+), NodeEndpoints (16+).
import { defineApi } from '../api.js'
import { array, field, int16, int32, int64, int8, nullableArray, records, string, struct } from '../schema.js'

export const Fetch = defineApi({
  key: 1,
  name: 'Fetch',
  minVersion: 4,
  maxVersion: 12,
  flexibleSince: 12,
  request: struct({
    replicaId: field(int32, '0-14', -1),
    maxWaitMs: field(int32),
    minBytes: field(int32),
    maxBytes: field(int32, '3+', 0x7fffffff),
    isolationLevel: field(int8, '4+', 0),
    sessionId: field(int32, '7+', 0),
    sessionEpoch: field(int32, '7+', -1),
    topics: field(
      array(
        struct({
          topic: field(string, '0-12'),
          partitions: field(
            array(
              struct({
                partition: field(int32),
                currentLeaderEpoch: field(int32, '9+', -1),
                fetchOffset: field(int64),
                lastFetchedEpoch: field(int32, '12+', -1),
                logStartOffset: field(int64, '5+', -1),
                partitionMaxBytes: field(int32),
              }),
            ),
          ),
        }),
      ),
    ),
    forgottenTopicsData: field(
      array(
        struct({
          topic: field(string, '7-12'),
          partitions: field(array(int32), '7+'),
        }),
      ),
      '7+',
    ),
    rackId: field(string, '11+', ''),
  }),
  response: struct({
    throttleTimeMs: field(int32, '1+'),
    errorCode: field(int16, '7+'),
    sessionId: field(int32, '7+', 0),
    responses: field(
      array(
        struct({
          topic: field(string, '0-12'),
          partitions: field(
            array(
              struct({
                partitionIndex: field(int32),
                errorCode: field(int16),
                highWatermark: field(int64),
                lastStableOffset: field(int64, '4+', -1),
                logStartOffset: field(int64, '5+', -1),
                abortedTransactions: field(
                  nullableArray(
                    struct({
                      producerId: field(int64, '4+'),
                      firstOffset: field(int64, '4+'),
                    }),
                  ),
                  '4+',
                  [],
                ),
                preferredReadReplica: field(int32, '11+', -1),
                records: field(records),
              }),
            ),
          ),
        }),
      ),
    ),
  }),
})
