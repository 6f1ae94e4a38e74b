// TxnOffsetCommit (key 28). Spec: TxnOffsetCommitRequest.json / TxnOffsetCommitResponse.json (apache/kafka clients/src/main/resources/common/message).
// Every version 0-3 is covered (v3 adds the member fields of KIP-447). No tagged fields.
import { defineApi } from '../protocol/api.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { field, int16, int32, int64, nullableString, string, struct } from '../protocol/schema.js'
import { route } from '../server/route.js'
import { isCoordinatorFor } from './shared/leadership.js'
import { commitEachPartition } from './shared/offset-commits.js'
import { partitionErrorsByTopic, partitionsByTopic } from './shared/schema-pieces.js'

export const TxnOffsetCommit = defineApi({
  key: 28,
  name: 'TxnOffsetCommit',
  minVersion: 0,
  maxVersion: 3,
  flexibleSince: 3,
  request: struct({
    transactionalId: field(string),
    groupId: field(string),
    producerId: field(int64),
    producerEpoch: field(int16),
    generationId: field(int32, '3+', -1),
    memberId: field(string, '3+', ''),
    groupInstanceId: field(nullableString, '3+', null),
    topics: field(
      partitionsByTopic(
        struct({
          partitionIndex: field(int32),
          committedOffset: field(int64),
          committedLeaderEpoch: field(int32, '2+', -1),
          committedMetadata: field(nullableString),
        }),
      ),
    ),
  }),
  response: struct({
    throttleTimeMs: field(int32),
    topics: field(partitionErrorsByTopic),
  }),
})

/**
 * Answered by the consumer group's coordinator, unlike the other transaction APIs. Offsets
 * committed inside a transaction are held by the group per producer id, invisible to OffsetFetch
 * until EndTxn commits the transaction (and dropped if it aborts).
 */
export const txnOffsetCommitRoute = route(TxnOffsetCommit, (ctx, request) => {
  const requestError = (() => {
    if (!isCoordinatorFor(ctx, request.groupId)) return ErrorCode.NOT_COORDINATOR
    if (request.groupId === '') return ErrorCode.INVALID_GROUP_ID
    const txnError = ctx.transactions.verifyOffsetCommit(
      request.transactionalId,
      request.producerId,
      request.producerEpoch,
      request.groupId,
    )
    if (txnError !== ErrorCode.NONE) return txnError
    return ctx.groups.transactionalCommitCheck(request.groupId, request.generationId, request.memberId)
  })()
  return {
    throttleTimeMs: 0,
    topics: commitEachPartition(ctx, request.topics, requestError, (topic, partition, offset) =>
      ctx.groups.commitTransactional(request.groupId, request.producerId, topic, partition, offset),
    ),
  }
})
