// AddPartitionsToTxn (key 24). Spec: AddPartitionsToTxnRequest.json / AddPartitionsToTxnResponse.json (apache/kafka clients/src/main/resources/common/message).
// Kafka names the v0-3 fields V3AndBelowTransactionalId, V3AndBelowProducerId, V3AndBelowProducerEpoch,
// V3AndBelowTopics (request) and ResultsByTopicV3AndBelow (response). v4+ (Transactions, VerifyOnly,
// ResultsByTransaction, a top-level ErrorCode) batches transactions broker-to-broker (KIP-890): out
// of scope and left out, so we stop at v3. No tagged fields.
import { defineApi } from '../api.js'
import { array, field, int16, int32, int64, string, struct } from '../schema.js'

export const AddPartitionsToTxn = defineApi({
  key: 24,
  name: 'AddPartitionsToTxn',
  minVersion: 0,
  maxVersion: 3,
  flexibleSince: 3,
  request: struct({
    transactionalId: field(string, '0-3'),
    producerId: field(int64, '0-3'),
    producerEpoch: field(int16, '0-3'),
    topics: field(
      array(
        struct({
          name: field(string),
          partitions: field(array(int32)),
        }),
      ),
      '0-3',
    ),
  }),
  response: struct({
    throttleTimeMs: field(int32),
    resultsByTopic: field(
      array(
        struct({
          name: field(string),
          resultsByPartition: field(
            array(
              struct({
                partitionIndex: field(int32),
                partitionErrorCode: field(int16),
              }),
            ),
          ),
        }),
      ),
      '0-3',
    ),
  }),
})
