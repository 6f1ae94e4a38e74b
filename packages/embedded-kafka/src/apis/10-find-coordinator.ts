// FindCoordinator (key 10). Spec: FindCoordinatorRequest.json / FindCoordinatorResponse.json (apache/kafka clients/src/main/resources/common/message).
// v4+ batches keys (CoordinatorKeys, Coordinators): out of scope and left out. No tagged fields.
import { GroupCoordinator } from '../groups/group-coordinator.js'
import { defineApi } from '../protocol/api.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { field, int16, int32, int8, nullableString, string, struct } from '../protocol/schema.js'
import { route } from '../server/route.js'
import { TransactionCoordinator } from '../transactions/transaction-coordinator.js'

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

const KEY_TYPE_GROUP = 0
const KEY_TYPE_TRANSACTION = 1

/** How clients find a group's or a transactional id's broker. */
export const findCoordinatorRoute = route(FindCoordinator, (ctx, request) => {
  const answer = (
    errorCode: number,
    errorMessage: string | null,
    broker?: { id: number; host: string; port: number },
  ) => ({
    throttleTimeMs: 0,
    errorCode,
    errorMessage,
    nodeId: broker?.id ?? -1,
    host: broker?.host ?? '',
    port: broker?.port ?? -1,
  })
  if (request.keyType !== KEY_TYPE_GROUP && request.keyType !== KEY_TYPE_TRANSACTION) {
    return answer(ErrorCode.INVALID_REQUEST, `unknown coordinator key type ${request.keyType}`)
  }
  const live = ctx.cluster.liveBrokers()
  const liveIds = live.map((b) => b.id)
  const coordinatorId =
    request.keyType === KEY_TYPE_TRANSACTION
      ? TransactionCoordinator.coordinatorFor(request.key, liveIds)
      : GroupCoordinator.coordinatorFor(request.key, liveIds)
  const coordinator = live.find((b) => b.id === coordinatorId)
  if (!coordinator) return answer(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'no broker is alive')
  return answer(ErrorCode.NONE, null, coordinator)
})
