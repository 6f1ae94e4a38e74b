/**
 * The transaction APIs a transactional producer drives between InitProducerId and its next
 * transaction: AddPartitionsToTxn, AddOffsetsToTxn and EndTxn go to the transactional id's
 * coordinator; TxnOffsetCommit goes to the consumer group's coordinator. Each first checks that
 * this broker is the right coordinator (NOT_COORDINATOR otherwise, so clients look it up again).
 */
import { ErrorCode, type ErrorCodeValue } from '../protocol/error-codes.js'
import { AddOffsetsToTxn } from '../protocol/messages/add-offsets-to-txn.js'
import { AddPartitionsToTxn } from '../protocol/messages/add-partitions-to-txn.js'
import { EndTxn } from '../protocol/messages/end-txn.js'
import { TxnOffsetCommit } from '../protocol/messages/txn-offset-commit.js'
import { route } from '../server/route.js'
import type { Partition } from '../state/topic.js'
import { isCoordinatorFor, isTransactionCoordinatorFor } from './leadership.js'

/** AddPartitionsToTxn, AddOffsetsToTxn and EndTxn answer PRODUCER_FENCED from v2 on. */
const PRODUCER_FENCED_SINCE = 2

/**
 * PRODUCER_FENCED (KIP-588) only exists for clients that announced they know it by version;
 * older ones get INVALID_PRODUCER_EPOCH, as Kafka does. KafkaJS 2.2.4 is such a client.
 */
export function reportFencing(errorCode: ErrorCodeValue, apiVersion: number, fencedSince: number): ErrorCodeValue {
  return errorCode === ErrorCode.PRODUCER_FENCED && apiVersion < fencedSince
    ? ErrorCode.INVALID_PRODUCER_EPOCH
    : errorCode
}

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

export const addOffsetsToTxnRoute = route(AddOffsetsToTxn, (ctx, request) => {
  if (!isTransactionCoordinatorFor(ctx, request.transactionalId))
    return { throttleTimeMs: 0, errorCode: ErrorCode.NOT_COORDINATOR }
  if (request.groupId === '') return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_GROUP_ID }
  const errorCode = ctx.transactions.addOffsets(
    request.transactionalId,
    request.producerId,
    request.producerEpoch,
    request.groupId,
  )
  return { throttleTimeMs: 0, errorCode: reportFencing(errorCode, ctx.apiVersion, PRODUCER_FENCED_SINCE) }
})

export const endTxnRoute = route(EndTxn, (ctx, request) => {
  if (!isTransactionCoordinatorFor(ctx, request.transactionalId))
    return { throttleTimeMs: 0, errorCode: ErrorCode.NOT_COORDINATOR }
  const errorCode = ctx.transactions.end(
    request.transactionalId,
    request.producerId,
    request.producerEpoch,
    request.committed,
  )
  return { throttleTimeMs: 0, errorCode: reportFencing(errorCode, ctx.apiVersion, PRODUCER_FENCED_SINCE) }
})

/**
 * Offsets committed inside a transaction are held by the group per producer id, invisible to
 * OffsetFetch until EndTxn commits the transaction (and dropped if it aborts).
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
    topics: request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((p) => {
        if (requestError !== ErrorCode.NONE) return { partitionIndex: p.partitionIndex, errorCode: requestError }
        if (!ctx.cluster.partition(topic.name, p.partitionIndex))
          return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }
        ctx.groups.commitTransactional(request.groupId, request.producerId, topic.name, p.partitionIndex, {
          offset: p.committedOffset,
          leaderEpoch: p.committedLeaderEpoch,
          metadata: p.committedMetadata,
        })
        return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE }
      }),
    })),
  }
})
