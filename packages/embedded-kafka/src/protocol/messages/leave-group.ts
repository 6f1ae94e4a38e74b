// LeaveGroup (key 13). Spec: LeaveGroupRequest.json / LeaveGroupResponse.json (apache/kafka clients/src/main/resources/common/message).
// Request member Reason (5+) is beyond our 0-4 range. No tagged fields.
import { defineApi } from '../api.js'
import { array, field, int16, int32, nullableString, string, struct } from '../schema.js'

export const LeaveGroup = defineApi({
  key: 13,
  name: 'LeaveGroup',
  minVersion: 0,
  maxVersion: 4,
  flexibleSince: 4,
  request: struct({
    groupId: field(string),
    memberId: field(string, '0-2'),
    members: field(
      array(
        struct({
          memberId: field(string, '3+'),
          groupInstanceId: field(nullableString, '3+', null),
        }),
      ),
      '3+',
    ),
  }),
  response: struct({
    throttleTimeMs: field(int32, '1+'),
    errorCode: field(int16),
    members: field(
      array(
        struct({
          memberId: field(string, '3+'),
          groupInstanceId: field(nullableString, '3+', ''),
          errorCode: field(int16, '3+'),
        }),
      ),
      '3+',
    ),
  }),
})
