/**
 * FindCoordinator and InitProducerId: how clients find a group's or a transactional id's broker,
 * and get a producer id (idempotent producers from any broker, transactional ones from their
 * transaction coordinator).
 */
import { GroupCoordinator } from '../groups/group-coordinator.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { FindCoordinator } from '../protocol/messages/find-coordinator.js'
import { InitProducerId } from '../protocol/messages/init-producer-id.js'
import { route } from '../server/route.js'
import { TransactionCoordinator } from '../transactions/transaction-coordinator.js'
import { isTransactionCoordinatorFor } from './leadership.js'
import { reportFencing } from './transactions.js'

const KEY_TYPE_GROUP = 0
const KEY_TYPE_TRANSACTION = 1
/** InitProducerId answers PRODUCER_FENCED from v4 on (KIP-588); we serve up to v3. */
const INIT_PRODUCER_FENCED_SINCE = 4

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

export const initProducerIdRoute = route(InitProducerId, (ctx, request) => {
  if (request.transactionalId === null) {
    const refusal = ctx.faults.producerIdRefusal()
    if (refusal !== null) return { throttleTimeMs: 0, errorCode: refusal, producerId: -1, producerEpoch: -1 }
    // KIP-360 (v3+): an idempotent producer may ask to bump the epoch of the id it already has.
    if (request.producerId >= 0) {
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        producerId: request.producerId,
        producerEpoch: request.producerEpoch + 1,
      }
    }
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      producerId: ctx.cluster.allocateProducerId(),
      producerEpoch: 0,
    }
  }
  if (!isTransactionCoordinatorFor(ctx, request.transactionalId)) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.NOT_COORDINATOR, producerId: -1, producerEpoch: -1 }
  }
  const result = ctx.transactions.initProducerId(request.transactionalId, request.transactionTimeoutMs, {
    producerId: request.producerId,
    producerEpoch: request.producerEpoch,
  })
  return {
    throttleTimeMs: 0,
    ...result,
    errorCode: reportFencing(result.errorCode, ctx.apiVersion, INIT_PRODUCER_FENCED_SINCE),
  }
})
