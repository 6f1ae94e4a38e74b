// InitProducerId (key 22). Spec: InitProducerIdRequest.json / InitProducerIdResponse.json (apache/kafka clients/src/main/resources/common/message).
// No tagged fields.
import { defineApi } from '../protocol/api.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { field, int16, int32, int64, nullableString, struct } from '../protocol/schema.js'
import { route } from '../server/route.js'
import { reportFencing } from './shared/fencing.js'
import { isTransactionCoordinatorFor } from './shared/leadership.js'

export const InitProducerId = defineApi({
  key: 22,
  name: 'InitProducerId',
  minVersion: 0,
  maxVersion: 3,
  flexibleSince: 2,
  request: struct({
    // null for an idempotent (non-transactional) producer.
    transactionalId: field(nullableString, '0+', ''),
    transactionTimeoutMs: field(int32),
    producerId: field(int64, '3+', -1),
    producerEpoch: field(int16, '3+', -1),
  }),
  response: struct({
    throttleTimeMs: field(int32),
    errorCode: field(int16),
    producerId: field(int64, '0+', -1),
    producerEpoch: field(int16),
  }),
})

/** InitProducerId answers PRODUCER_FENCED from v4 on (KIP-588); we serve up to v3. */
const INIT_PRODUCER_FENCED_SINCE = 4

/**
 * A producer id: idempotent producers get one from any broker, transactional ones from their
 * transaction coordinator.
 */
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
