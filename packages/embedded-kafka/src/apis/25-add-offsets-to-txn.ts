// AddOffsetsToTxn (key 25). Spec: AddOffsetsToTxnRequest.json / AddOffsetsToTxnResponse.json (apache/kafka clients/src/main/resources/common/message).
// v4 only allows the TRANSACTION_ABORTABLE error (KIP-890), which we never send; we stop at v3 with
// the other transaction APIs. No tagged fields.
import { defineApi } from '../protocol/api.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { field, int16, int32, string, struct } from '../protocol/schema.js'
import { route } from '../server/route.js'
import { transactionCoordinatorAnswer } from './shared/fencing.js'
import { transactionalProducerFields } from './shared/schema-pieces.js'

export const AddOffsetsToTxn = defineApi({
  key: 25,
  name: 'AddOffsetsToTxn',
  minVersion: 0,
  maxVersion: 3,
  flexibleSince: 3,
  request: struct({
    ...transactionalProducerFields,
    groupId: field(string),
  }),
  response: struct({
    throttleTimeMs: field(int32),
    errorCode: field(int16),
  }),
})

/** PRODUCER_FENCED is answered from v2 on. */
const PRODUCER_FENCED_SINCE = 2

/** Answered by the transactional id's coordinator (NOT_COORDINATOR elsewhere, so clients look it up again). */
export const addOffsetsToTxnRoute = route(AddOffsetsToTxn, (ctx, request) =>
  transactionCoordinatorAnswer(ctx, request.transactionalId, PRODUCER_FENCED_SINCE, () => {
    if (request.groupId === '') return ErrorCode.INVALID_GROUP_ID
    return ctx.transactions.addOffsets(
      request.transactionalId,
      request.producerId,
      request.producerEpoch,
      request.groupId,
    )
  }),
)
