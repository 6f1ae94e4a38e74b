// JoinGroup (key 11). Spec: JoinGroupRequest.json / JoinGroupResponse.json (apache/kafka clients/src/main/resources/common/message).
// Request Reason (8+) and response SkipAssignment (9+) are beyond our 0-7 range. No tagged fields.
import type { JoinOutcome } from '../groups/group.js'
import { defineApi } from '../protocol/api.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { array, bytes, field, int16, int32, nullableString, string, struct } from '../protocol/schema.js'
import { route, type RequestContext } from '../server/route.js'
import { isCoordinatorFor } from './shared/leadership.js'

export const JoinGroup = defineApi({
  key: 11,
  name: 'JoinGroup',
  minVersion: 0,
  maxVersion: 7,
  flexibleSince: 6,
  request: struct({
    groupId: field(string),
    sessionTimeoutMs: field(int32),
    rebalanceTimeoutMs: field(int32, '1+', -1),
    memberId: field(string),
    groupInstanceId: field(nullableString, '5+', null),
    protocolType: field(string),
    protocols: field(
      array(
        struct({
          name: field(string),
          metadata: field(bytes),
        }),
      ),
    ),
  }),
  response: struct({
    throttleTimeMs: field(int32, '2+'),
    errorCode: field(int16),
    generationId: field(int32, '0+', -1),
    protocolType: field(nullableString, '7+', null),
    // Nullable from v7 only; the default ("") is valid in every version.
    protocolName: field(nullableString, '0+', ''),
    leader: field(string),
    memberId: field(string),
    members: field(
      array(
        struct({
          memberId: field(string),
          groupInstanceId: field(nullableString, '5+', null),
          metadata: field(bytes),
        }),
      ),
    ),
  }),
})

/** First JoinGroup version where an unknown member must come back with an assigned id (KIP-394). */
const MEMBER_ID_REQUIRED_SINCE = 4
/** First JoinGroup/SyncGroup versions where protocol type/name are nullable and echoed. */
const NULLABLE_PROTOCOL_SINCE = 7

function joinResponse(ctx: RequestContext, outcome: JoinOutcome) {
  const nullable = ctx.apiVersion >= NULLABLE_PROTOCOL_SINCE
  return {
    throttleTimeMs: 0,
    errorCode: outcome.errorCode,
    generationId: outcome.generationId,
    protocolType: outcome.protocolType,
    // Before v7 the protocol name is a non-nullable string.
    protocolName: nullable ? outcome.protocolName : (outcome.protocolName ?? ''),
    leader: outcome.leaderId,
    memberId: outcome.memberId,
    members: outcome.members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: m.metadata,
    })),
  }
}

export const joinGroupRoute = route(JoinGroup, (ctx, request) => {
  const refusal = isCoordinatorFor(ctx, request.groupId)
    ? ctx.faults.groupRefusal(request.groupId)
    : ErrorCode.NOT_COORDINATOR
  if (refusal !== null) {
    return joinResponse(ctx, {
      errorCode: refusal,
      generationId: -1,
      protocolType: null,
      protocolName: null,
      leaderId: '',
      memberId: request.memberId,
      members: [],
    })
  }
  const outcome = ctx.groups.join({
    groupId: request.groupId,
    memberId: request.memberId,
    groupInstanceId: request.groupInstanceId,
    clientId: ctx.clientId ?? '',
    clientHost: ctx.clientHost,
    sessionTimeoutMs: request.sessionTimeoutMs,
    rebalanceTimeoutMs: request.rebalanceTimeoutMs,
    protocolType: request.protocolType,
    protocols: request.protocols,
    requireKnownMemberId: ctx.apiVersion >= MEMBER_ID_REQUIRED_SINCE,
  })
  return outcome instanceof Promise ? outcome.then((o) => joinResponse(ctx, o)) : joinResponse(ctx, outcome)
})
