// ListGroups (key 16). Spec: ListGroupsRequest.json / ListGroupsResponse.json (apache/kafka clients/src/main/resources/common/message).
// Request TypesFilter and response GroupType (5+) are beyond our 0-4 range. No tagged fields.
import { defineApi } from '../api.js'
import { array, field, int16, int32, string, struct } from '../schema.js'

export const ListGroups = defineApi({
  key: 16,
  name: 'ListGroups',
  minVersion: 0,
  maxVersion: 4,
  flexibleSince: 3,
  request: struct({
    statesFilter: field(array(string), '4+'),
  }),
  response: struct({
    throttleTimeMs: field(int32, '1+'),
    errorCode: field(int16),
    groups: field(
      array(
        struct({
          groupId: field(string),
          protocolType: field(string),
          groupState: field(string, '4+'),
        }),
      ),
    ),
  }),
})
