// EndTxn (key 26). Spec: EndTxnRequest.json / EndTxnResponse.json (apache/kafka clients/src/main/resources/common/message).
// v4 (TRANSACTION_ABORTABLE) and v5 (an epoch bump on every transaction, KIP-890 part 2, with
// ProducerId/ProducerEpoch in the response) are not implemented, so we stop at v3. No tagged fields.
import { defineApi } from '../api.js'
import { boolean, field, int16, int32, int64, string, struct } from '../schema.js'

export const EndTxn = defineApi({
  key: 26,
  name: 'EndTxn',
  minVersion: 0,
  maxVersion: 3,
  flexibleSince: 3,
  request: struct({
    transactionalId: field(string),
    producerId: field(int64),
    producerEpoch: field(int16),
    /** true commits, false aborts. */
    committed: field(boolean),
  }),
  response: struct({
    throttleTimeMs: field(int32),
    errorCode: field(int16),
  }),
})
