// FindCoordinator (key 10). Spec: FindCoordinatorRequest.json / FindCoordinatorResponse.json (apache/kafka clients/src/main/resources/common/message).
// v4+ batches keys (CoordinatorKeys, Coordinators): out of scope and left out. No tagged fields.
import { defineApi } from '../api.js'
import { field, int16, int32, int8, nullableString, string, struct } from '../schema.js'

export const FindCoordinator = defineApi({
  key: 10,
  name: 'FindCoordinator',
  minVersion: 0,
  maxVersion: 3,
  flexibleSince: 3,
  request: struct({
    key: field(string, '0-3'),
    /** 0 = group, 1 = transaction. */
    keyType: field(int8, '1+', 0),
  }),
  response: struct({
    throttleTimeMs: field(int32, '1+'),
    errorCode: field(int16, '0-3'),
    errorMessage: field(nullableString, '1-3', ''),
    nodeId: field(int32, '0-3'),
    host: field(string, '0-3'),
    port: field(int32, '0-3'),
  }),
})
