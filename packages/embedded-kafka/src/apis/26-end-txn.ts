// EndTxn (key 26). Spec: EndTxnRequest.json / EndTxnResponse.json (apache/kafka clients/src/main/resources/common/message).
// v4 (TRANSACTION_ABORTABLE) and v5 (an epoch bump on every transaction, KIP-890 part 2, with
// ProducerId/ProducerEpoch in the response) are not implemented, so we stop at v3. No tagged fields.
import { defineApi } from '../protocol/api.js'
import { boolean, field, int16, int32, struct } from '../protocol/schema.js'
import { route } from '../server/route.js'
import { transactionCoordinatorAnswer } from './shared/fencing.js'
import { transactionalProducerFields } from './shared/schema-pieces.js'

export const EndTxn = defineApi({
  key: 26,
  name: 'EndTxn',
  minVersion: 0,
  maxVersion: 3,
  flexibleSince: 3,
  request: struct({
    ...transactionalProducerFields,
    /** true commits, false aborts. */
    committed: field(boolean),
  }),
  response: struct({
    throttleTimeMs: field(int32),
    errorCode: field(int16),
  }),
})

/** PRODUCER_FENCED is answered from v2 on. */
const PRODUCER_FENCED_SINCE = 2

/** Answered by the transactional id's coordinator (NOT_COORDINATOR elsewhere, so clients look it up again). */
export const endTxnRoute = route(EndTxn, (ctx, request) =>
  transactionCoordinatorAnswer(ctx, request.transactionalId, PRODUCER_FENCED_SINCE, () =>
    ctx.transactions.end(request.transactionalId, request.producerId, request.producerEpoch, request.committed),
  ),
)
