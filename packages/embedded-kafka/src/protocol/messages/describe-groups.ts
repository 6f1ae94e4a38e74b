// DescribeGroups (key 15). Spec: DescribeGroupsRequest.json / DescribeGroupsResponse.json (apache/kafka clients/src/main/resources/common/message).
// No tagged fields.
import { defineApi } from '../api.js'
import { array, boolean, bytes, field, int16, int32, nullableString, string, struct } from '../schema.js'

export const DescribeGroups = defineApi({
  key: 15,
  name: 'DescribeGroups',
  minVersion: 0,
  maxVersion: 5,
  flexibleSince: 5,
  request: struct({
    groups: field(array(string)),
    includeAuthorizedOperations: field(boolean, '3+'),
  }),
  response: struct({
    throttleTimeMs: field(int32, '1+'),
    groups: field(
      array(
        struct({
          errorCode: field(int16),
          groupId: field(string),
          groupState: field(string),
          protocolType: field(string),
          protocolData: field(string),
          members: field(
            array(
              struct({
                memberId: field(string),
                groupInstanceId: field(nullableString, '4+', null),
                clientId: field(string),
                clientHost: field(string),
                memberMetadata: field(bytes),
                memberAssignment: field(bytes),
              }),
            ),
          ),
          authorizedOperations: field(int32, '3+', -2147483648),
        }),
      ),
    ),
  }),
})
