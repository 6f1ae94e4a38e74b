// DescribeGroups (key 15). Spec: DescribeGroupsRequest.json / DescribeGroupsResponse.json (apache/kafka clients/src/main/resources/common/message).
// No tagged fields.
import { defineApi } from '../protocol/api.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { array, boolean, bytes, field, int16, int32, nullableString, string, struct } from '../protocol/schema.js'
import { route } from '../server/route.js'
import { isCoordinatorFor } from './shared/leadership.js'
import { AUTHORIZED_OPERATIONS_NOT_REQUESTED } from './shared/schema-pieces.js'

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
          authorizedOperations: field(int32, '3+', AUTHORIZED_OPERATIONS_NOT_REQUESTED),
        }),
      ),
    ),
  }),
})

export const describeGroupsRoute = route(DescribeGroups, (ctx, request) => ({
  throttleTimeMs: 0,
  groups: request.groups.map((groupId) =>
    isCoordinatorFor(ctx, groupId)
      ? { ...ctx.groups.describe(groupId), authorizedOperations: AUTHORIZED_OPERATIONS_NOT_REQUESTED }
      : {
          errorCode: ErrorCode.NOT_COORDINATOR,
          groupId,
          groupState: '',
          protocolType: '',
          protocolData: '',
          members: [],
          authorizedOperations: AUTHORIZED_OPERATIONS_NOT_REQUESTED,
        },
  ),
}))
