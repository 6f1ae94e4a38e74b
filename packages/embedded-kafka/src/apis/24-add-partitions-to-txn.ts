// AddPartitionsToTxn (key 24). Spec: AddPartitionsToTxnRequest.json / AddPartitionsToTxnResponse.json (apache/kafka clients/src/main/resources/common/message).
// Kafka names the v0-3 fields V3AndBelowTransactionalId, V3AndBelowProducerId, V3AndBelowProducerEpoch,
// V3AndBelowTopics (request) and ResultsByTopicV3AndBelow (response). v4+ (Transactions, VerifyOnly,
// ResultsByTransaction, a top-level ErrorCode) batches transactions broker-to-broker (KIP-890): out
// of scope and left out, so we stop at v3. No tagged fields.
import { defineApi } from '../protocol/api.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { array, field, int16, int32, int64, string, struct } from '../protocol/schema.js'
import { route } from '../server/route.js'
import type { Partition } from '../state/topic.js'
import { reportFencing } from './shared/fencing.js'
import { isTransactionCoordinatorFor } from './shared/leadership.js'

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

/** PRODUCER_FENCED is answered from v2 on. */
const PRODUCER_FENCED_SINCE = 2

/** Answered by the transactional id's coordinator (NOT_COORDINATOR elsewhere, so clients look it up again). */
export const addPartitionsToTxnRoute = route(AddPartitionsToTxn, (ctx, request) => {
  const answer = (errorOf: (topic: string, partition: number) => number) => ({
    throttleTimeMs: 0,
    resultsByTopic: request.topics.map((t) => ({
      name: t.name,
      resultsByPartition: t.partitions.map((partitionIndex) => ({
        partitionIndex,
        partitionErrorCode: errorOf(t.name, partitionIndex),
      })),
    })),
  })
  if (!isTransactionCoordinatorFor(ctx, request.transactionalId)) return answer(() => ErrorCode.NOT_COORDINATOR)
  const partitions: Partition[] = []
  const unknown = new Set<string>()
  for (const t of request.topics) {
    for (const index of t.partitions) {
      const partition = ctx.cluster.partition(t.name, index)
      if (partition) partitions.push(partition)
      else unknown.add(`${t.name}\0${index}`)
    }
  }
  // Like Kafka, a request naming a partition that does not exist adds none of them.
  if (unknown.size > 0) {
    return answer((topic, index) =>
      unknown.has(`${topic}\0${index}`) ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.OPERATION_NOT_ATTEMPTED,
    )
  }
  const errorCode = ctx.transactions.addPartitions(
    request.transactionalId,
    request.producerId,
    request.producerEpoch,
    partitions,
  )
  const reported = reportFencing(errorCode, ctx.apiVersion, PRODUCER_FENCED_SINCE)
  return answer(() => reported)
})
