// SyncGroup (key 14). Spec: SyncGroupRequest.json / SyncGroupResponse.json (apache/kafka clients/src/main/resources/common/message).
// No tagged fields.
import { defineApi } from '../api.js'
import { array, bytes, field, int16, int32, nullableString, string, struct } from '../schema.js'

export const SyncGroup = defineApi({
  key: 14,
  name: 'SyncGroup',
  minVersion: 0,
  maxVersion: 5,
  flexibleSince: 4,
  request: struct({
    groupId: field(string),
    generationId: field(int32),
    memberId: field(string),
    groupInstanceId: field(nullableString, '3+', null),
    protocolType: field(nullableString, '5+', null),
    protocolName: field(nullableString, '5+', null),
    assignments: field(
      array(
        struct({
          memberId: field(string),
          assignment: field(bytes),
        }),
      ),
    ),
  }),
  response: struct({
    throttleTimeMs: field(int32, '1+'),
    errorCode: field(int16),
    protocolType: field(nullableString, '5+', null),
    protocolName: field(nullableString, '5+', null),
    assignment: field(bytes),
  }),
})
