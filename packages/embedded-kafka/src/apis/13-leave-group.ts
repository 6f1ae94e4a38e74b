// LeaveGroup (key 13). Spec: LeaveGroupRequest.json / LeaveGroupResponse.json (apache/kafka clients/src/main/resources/common/message).
// Request member Reason (5+) is beyond our 0-4 range. No tagged fields.
import { defineApi } from '../protocol/api.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { array, field, int16, int32, nullableString, string, struct } from '../protocol/schema.js'
import { route } from '../server/route.js'
import { isCoordinatorFor } from './shared/leadership.js'

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

export const leaveGroupRoute = route(LeaveGroup, (ctx, request) => {
  // v0-v2 name one member; v3+ a batch of members.
  const memberIds = ctx.apiVersion >= 3 ? request.members.map((m) => m.memberId) : [request.memberId]
  if (!isCoordinatorFor(ctx, request.groupId))
    return { throttleTimeMs: 0, errorCode: ErrorCode.NOT_COORDINATOR, members: [] }
  const result = ctx.groups.leave(request.groupId, memberIds)
  return {
    throttleTimeMs: 0,
    errorCode: result.errorCode,
    members: result.members.map((m) => ({ memberId: m.memberId, groupInstanceId: null, errorCode: m.errorCode })),
  }
})
