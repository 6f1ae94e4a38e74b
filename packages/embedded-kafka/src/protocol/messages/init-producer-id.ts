// InitProducerId (key 22). Spec: InitProducerIdRequest.json / InitProducerIdResponse.json (apache/kafka clients/src/main/resources/common/message).
// No tagged fields.
import { defineApi } from '../api.js'
import { field, int16, int32, int64, nullableString, struct } from '../schema.js'

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
