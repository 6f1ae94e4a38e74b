// JoinGroup (key 11). Spec: JoinGroupRequest.json / JoinGroupResponse.json (apache/kafka clients/src/main/resources/common/message).
// Request Reason (8+) and response SkipAssignment (9+) are beyond our 0-7 range. No tagged fields.
import { defineApi } from '../api.js'
import { array, bytes, field, int16, int32, nullableString, string, struct } from '../schema.js'

export const JoinGroup = defineApi({
  key: 11,
  name: 'JoinGroup',
  minVersion: 0,
  maxVersion: 7,
  flexibleSince: 6,
  request: struct({
    groupId: field(string),
    sessionTimeoutMs: field(int32),
    rebalanceTimeoutMs: field(int32, '1+', -1),
    memberId: field(string),
    groupInstanceId: field(nullableString, '5+', null),
    protocolType: field(string),
    protocols: field(
      array(
        struct({
          name: field(string),
          metadata: field(bytes),
        }),
      ),
    ),
  }),
  response: struct({
    throttleTimeMs: field(int32, '2+'),
    errorCode: field(int16),
    generationId: field(int32, '0+', -1),
    protocolType: field(nullableString, '7+', null),
    // Nullable from v7 only; the default ("") is valid in every version.
    protocolName: field(nullableString, '0+', ''),
    leader: field(string),
    memberId: field(string),
    members: field(
      array(
        struct({
          memberId: field(string),
          groupInstanceId: field(nullableString, '5+', null),
          metadata: field(bytes),
        }),
      ),
    ),
  }),
})
