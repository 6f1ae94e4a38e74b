// ListGroups (key 16). Spec: ListGroupsRequest.json / ListGroupsResponse.json (apache/kafka clients/src/main/resources/common/message).
// Request TypesFilter and response GroupType (5+) are beyond our 0-4 range. No tagged fields.
import { defineApi } from '../protocol/api.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { array, field, int16, int32, string, struct } from '../protocol/schema.js'
import { route } from '../server/route.js'
import { isCoordinatorFor } from './shared/leadership.js'

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

export const listGroupsRoute = route(ListGroups, (ctx, request) => ({
  throttleTimeMs: 0,
  errorCode: ErrorCode.NONE,
  // Each broker lists the groups it coordinates, as Kafka does; admin clients ask every broker.
  groups: ctx.groups
    .list()
    .filter((g) => isCoordinatorFor(ctx, g.groupId))
    .filter((g) => request.statesFilter.length === 0 || request.statesFilter.includes(g.groupState)),
}))
