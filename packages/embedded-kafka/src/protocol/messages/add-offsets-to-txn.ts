// AddOffsetsToTxn (key 25). Spec: AddOffsetsToTxnRequest.json / AddOffsetsToTxnResponse.json (apache/kafka clients/src/main/resources/common/message).
// v4 only allows the TRANSACTION_ABORTABLE error (KIP-890), which we never send; we stop at v3 with
// the other transaction APIs. No tagged fields.
import { defineApi } from '../api.js'
import { field, int16, int32, int64, string, struct } from '../schema.js'

export const AddOffsetsToTxn = defineApi({
  key: 25,
  name: 'AddOffsetsToTxn',
  minVersion: 0,
  maxVersion: 3,
  flexibleSince: 3,
  request: struct({
    transactionalId: field(string),
    producerId: field(int64),
    producerEpoch: field(int16),
    groupId: field(string),
  }),
  response: struct({
    throttleTimeMs: field(int32),
    errorCode: field(int16),
  }),
})
