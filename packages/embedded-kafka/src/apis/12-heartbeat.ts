// Heartbeat (key 12). Spec: HeartbeatRequest.json / HeartbeatResponse.json (apache/kafka clients/src/main/resources/common/message).
// No tagged fields.
import { defineApi } from '../protocol/api.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { field, int16, int32, struct } from '../protocol/schema.js'
import { route } from '../server/route.js'
import { isCoordinatorFor } from './shared/leadership.js'
import { generationMemberFields } from './shared/schema-pieces.js'

export const Heartbeat = defineApi({
  key: 12,
  name: 'Heartbeat',
  minVersion: 0,
  maxVersion: 4,
  flexibleSince: 4,
  request: struct(generationMemberFields),
  response: struct({
    throttleTimeMs: field(int32, '1+'),
    errorCode: field(int16),
  }),
})

export const heartbeatRoute = route(Heartbeat, (ctx, request) => ({
  throttleTimeMs: 0,
  errorCode: isCoordinatorFor(ctx, request.groupId)
    ? (ctx.faults.groupRefusal(request.groupId) ??
      ctx.groups.heartbeat(request.groupId, request.generationId, request.memberId))
    : ErrorCode.NOT_COORDINATOR,
}))
