// TxnOffsetCommit (key 28). Spec: TxnOffsetCommitRequest.json / TxnOffsetCommitResponse.json (apache/kafka clients/src/main/resources/common/message).
// Every version 0-3 is covered (v3 adds the member fields of KIP-447). No tagged fields.
import { defineApi } from '../api.js'
import { array, field, int16, int32, int64, nullableString, string, struct } from '../schema.js'

export const TxnOffsetCommit = defineApi({
  key: 28,
  name: 'TxnOffsetCommit',
  minVersion: 0,
  maxVersion: 3,
  flexibleSince: 3,
  request: struct({
    transactionalId: field(string),
    groupId: field(string),
    producerId: field(int64),
    producerEpoch: field(int16),
    generationId: field(int32, '3+', -1),
    memberId: field(string, '3+', ''),
    groupInstanceId: field(nullableString, '3+', null),
    topics: field(
      array(
        struct({
          name: field(string),
          partitions: field(
            array(
              struct({
                partitionIndex: field(int32),
                committedOffset: field(int64),
                committedLeaderEpoch: field(int32, '2+', -1),
                committedMetadata: field(nullableString),
              }),
            ),
          ),
        }),
      ),
    ),
  }),
  response: struct({
    throttleTimeMs: field(int32),
    topics: field(
      array(
        struct({
          name: field(string),
          partitions: field(
            array(
              struct({
                partitionIndex: field(int32),
                errorCode: field(int16),
              }),
            ),
          ),
        }),
      ),
    ),
  }),
})
