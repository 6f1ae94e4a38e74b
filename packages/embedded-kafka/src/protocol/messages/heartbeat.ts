// Heartbeat (key 12). Spec: HeartbeatRequest.json / HeartbeatResponse.json (apache/kafka clients/src/main/resources/common/message).
// No tagged fields.
import { defineApi } from '../api.js'
import { field, int16, int32, nullableString, string, struct } from '../schema.js'

export const Heartbeat = defineApi({
  key: 12,
  name: 'Heartbeat',
  minVersion: 0,
  maxVersion: 4,
  flexibleSince: 4,
  request: struct({
    groupId: field(string),
    generationId: field(int32),
    memberId: field(string),
    groupInstanceId: field(nullableString, '3+', null),
  }),
  response: struct({
    throttleTimeMs: field(int32, '1+'),
    errorCode: field(int16),
  }),
})
