// SyncGroup (key 14). Spec: SyncGroupRequest.json / SyncGroupResponse.json (apache/kafka clients/src/main/resources/common/message).
// No tagged fields.
import { defineApi } from '../protocol/api.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { array, bytes, field, int16, int32, nullableString, string, struct } from '../protocol/schema.js'
import { route } from '../server/route.js'
import { isCoordinatorFor } from './shared/leadership.js'
import { generationMemberFields } from './shared/schema-pieces.js'

export const SyncGroup = defineApi({
  key: 14,
  name: 'SyncGroup',
  minVersion: 0,
  maxVersion: 5,
  flexibleSince: 4,
  request: struct({
    ...generationMemberFields,
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

export const syncGroupRoute = route(SyncGroup, (ctx, request) => {
  const group = ctx.groups.group(request.groupId)
  const answer = (errorCode: number, assignment: Buffer) => ({
    throttleTimeMs: 0,
    errorCode,
    protocolType: group?.protocolType ?? null,
    protocolName: group?.protocolName ?? null,
    assignment,
  })
  if (!isCoordinatorFor(ctx, request.groupId)) return answer(ErrorCode.NOT_COORDINATOR, Buffer.alloc(0))
  const refusal = ctx.faults.groupRefusal(request.groupId)
  if (refusal !== null) return answer(refusal, Buffer.alloc(0))
  const outcome = ctx.groups.sync(request.groupId, request.generationId, request.memberId, request.assignments)
  return outcome instanceof Promise
    ? outcome.then((o) => answer(o.errorCode, o.assignment))
    : answer(outcome.errorCode, outcome.assignment)
})
