// DeleteGroups (key 42). Spec: DeleteGroupsRequest.json / DeleteGroupsResponse.json (apache/kafka clients/src/main/resources/common/message).
// Versions 0-2, flexible since 2. Each group is answered by its coordinator; others get NOT_COORDINATOR.
import { defineApi } from '../protocol/api.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { array, field, int16, int32, string, struct } from '../protocol/schema.js'
import { route } from '../server/route.js'
import { isCoordinatorFor } from './shared/leadership.js'

export const DeleteGroups = defineApi({
  key: 42,
  name: 'DeleteGroups',
  minVersion: 0,
  maxVersion: 2,
  flexibleSince: 2,
  request: struct({
    groupsNames: field(array(string)),
  }),
  response: struct({
    throttleTimeMs: field(int32),
    results: field(
      array(
        struct({
          groupId: field(string),
          errorCode: field(int16),
        }),
      ),
    ),
  }),
})

export const deleteGroupsRoute = route(DeleteGroups, (ctx, request) => ({
  throttleTimeMs: 0,
  results: request.groupsNames.map((groupId) => ({
    groupId,
    errorCode:
      groupId === ''
        ? ErrorCode.INVALID_GROUP_ID
        : !isCoordinatorFor(ctx, groupId)
          ? ErrorCode.NOT_COORDINATOR
          : ctx.groups.delete(groupId),
  })),
}))
