/** FindCoordinator and InitProducerId: how clients find a group's broker and get a producer id. */
import { GroupCoordinator } from '../groups/group-coordinator.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { FindCoordinator } from '../protocol/messages/find-coordinator.js'
import { InitProducerId } from '../protocol/messages/init-producer-id.js'
import { route } from '../server/route.js'

export const findCoordinatorRoute = route(FindCoordinator, (ctx, request) => {
  const live = ctx.cluster.liveBrokers()
  const coordinatorId = GroupCoordinator.coordinatorFor(request.key, live.map((b) => b.id))
  const coordinator = live.find((b) => b.id === coordinatorId)
  if (!coordinator) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: 'no broker is alive', nodeId: -1, host: '', port: -1 }
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, nodeId: coordinator.id, host: coordinator.host, port: coordinator.port }
})

export const initProducerIdRoute = route(InitProducerId, (ctx, request) => {
  // KIP-360 (v3+): an idempotent producer may ask to bump the epoch of the id it already has.
  if (request.transactionalId === null && request.producerId >= 0) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: request.producerId, producerEpoch: request.producerEpoch + 1 }
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: ctx.cluster.allocateProducerId(), producerEpoch: 0 }
})
