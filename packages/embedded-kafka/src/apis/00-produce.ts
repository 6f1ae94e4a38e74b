// Produce (key 0). Spec: ProduceRequest.json / ProduceResponse.json (apache/kafka clients/src/main/resources/common/message).
// Tagged fields omitted (our codec skips them): response CurrentLeader (10+) and NodeEndpoints (10+), both beyond v9.
import type { ResponseLoss } from '../faults/faults.js'
import { defineApi } from '../protocol/api.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { InvalidBatchError, validateProducedBatch, type BatchHeader } from '../protocol/record-batch.js'
import { array, field, int16, int32, int64, nullableString, records, string, struct } from '../protocol/schema.js'
import { CLOSE_CONNECTION, NO_RESPONSE, route, type RequestContext } from '../server/route.js'
import type { Partition } from '../state/topic.js'
import { ledPartition } from './shared/leadership.js'

export const Produce = defineApi({
  key: 0,
  name: 'Produce',
  minVersion: 3,
  maxVersion: 9,
  flexibleSince: 9,
  request: struct({
    transactionalId: field(nullableString, '3+', null),
    acks: field(int16),
    timeoutMs: field(int32),
    topicData: field(
      array(
        struct({
          name: field(string),
          partitionData: field(
            array(
              struct({
                index: field(int32),
                records: field(records),
              }),
            ),
          ),
        }),
      ),
    ),
  }),
  response: struct({
    responses: field(
      array(
        struct({
          name: field(string),
          partitionResponses: field(
            array(
              struct({
                index: field(int32),
                errorCode: field(int16),
                baseOffset: field(int64),
                logAppendTimeMs: field(int64, '2+', -1),
                logStartOffset: field(int64, '5+', -1),
                recordErrors: field(
                  array(
                    struct({
                      batchIndex: field(int32, '8+'),
                      batchIndexErrorMessage: field(nullableString, '8+', null),
                    }),
                  ),
                  '8+',
                ),
                errorMessage: field(nullableString, '8+', null),
              }),
            ),
          ),
        }),
      ),
    ),
    throttleTimeMs: field(int32, '1+', 0),
  }),
})

interface PartitionResult {
  index: number
  errorCode: number
  baseOffset: number
  logStartOffset: number
  errorMessage: string | null
}

function failed(index: number, errorCode: number, errorMessage: string): PartitionResult {
  return { index, errorCode, baseOffset: -1, logStartOffset: -1, errorMessage }
}

/**
 * Transaction checks for one batch (KIP-98's rules, and KIP-890's verification with the
 * coordinator); null when the batch may be appended.
 */
function transactionRefusal(
  ctx: RequestContext,
  transactionalId: string | null,
  header: BatchHeader,
  partition: Partition,
): PartitionResult | null {
  const { producerId, producerEpoch } = header
  const where = `${partition.topic}-${partition.index}`
  if (!header.isTransactional) {
    // A producer's plain writes may not interleave with its own open transaction on a partition.
    if (producerId >= 0 && partition.transactions.isOpen(producerId)) {
      return failed(
        partition.index,
        ErrorCode.INVALID_TXN_STATE,
        `producer ${producerId} has a transaction open on ${where}; a non-transactional batch cannot join it`,
      )
    }
    return null
  }
  // Kafka answers a transactional batch without a transactional id as an authorization failure.
  if (transactionalId === null) {
    return failed(
      partition.index,
      ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
      'a transactional batch needs the transactional id in the produce request',
    )
  }
  const errorCode = ctx.transactions.verifyProduce(transactionalId, producerId, producerEpoch, partition)
  switch (errorCode) {
    case ErrorCode.NONE:
      return null
    case ErrorCode.INVALID_TXN_STATE:
      return failed(
        partition.index,
        errorCode,
        `${where} was not added to an open transaction of '${transactionalId}' (AddPartitionsToTxn first)`,
      )
    case ErrorCode.INVALID_PRODUCER_EPOCH:
      return failed(
        partition.index,
        errorCode,
        `producer ${producerId} epoch ${producerEpoch} is not the current epoch of '${transactionalId}' (fenced)`,
      )
    case ErrorCode.INVALID_PRODUCER_ID_MAPPING:
      return failed(
        partition.index,
        errorCode,
        `producer id ${producerId} is not assigned to transactional id '${transactionalId}'`,
      )
    default:
      return failed(partition.index, errorCode, `transactional batch of '${transactionalId}' refused`)
  }
}

/** What a produce request asked of the broker besides its records. */
interface ProduceSettings {
  readonly transactionalId: string | null
  readonly acks: number
  readonly timeoutMs: number
}

function appendPartition(
  ctx: RequestContext,
  request: ProduceSettings,
  topic: string,
  index: number,
  records: Buffer | null,
): PartitionResult {
  const lookup = ledPartition(ctx, topic, index)
  if (!lookup.partition)
    return failed(index, lookup.errorCode, `partition ${topic}-${index} is not led by broker ${ctx.broker.id}`)
  const { partition } = lookup
  const injected = ctx.faults.producePartitionRefusal(topic, index)
  if (injected !== null) return failed(index, injected, `partition ${topic}-${index} refused by an injected fault`)
  if (records === null || records.length === 0)
    return failed(index, ErrorCode.INVALID_RECORD, 'produce request carries no record batch')
  const { maxMessageBytes } = ctx.cluster.settings
  if (records.length > maxMessageBytes) {
    return failed(
      index,
      ErrorCode.MESSAGE_TOO_LARGE,
      `record batch of ${records.length} bytes exceeds message.max.bytes ${maxMessageBytes}`,
    )
  }
  let header
  try {
    header = validateProducedBatch(records)
  } catch (error) {
    if (error instanceof InvalidBatchError) return failed(index, error.errorCode, error.message)
    throw error
  }
  // Tests see what a client asked of the broker (acks, ack timeout) and how it batched records.
  ctx.log('debug', 'produce', {
    topic,
    partition: index,
    acks: request.acks,
    timeoutMs: request.timeoutMs,
    records: header.recordCount,
    bytes: records.length,
    baseTimestamp: header.baseTimestamp,
  })
  const refusal = transactionRefusal(ctx, request.transactionalId, header, partition)
  if (refusal) return refusal
  const verdict = partition.sequences.check(header)
  if (verdict.kind === 'reject') return failed(index, verdict.errorCode, verdict.message)
  if (verdict.kind === 'duplicate') {
    return {
      index,
      errorCode: ErrorCode.NONE,
      baseOffset: verdict.baseOffset,
      logStartOffset: partition.log.logStartOffset,
      errorMessage: null,
    }
  }
  const baseOffset = partition.appendBatch(records, header)
  return {
    index,
    errorCode: ErrorCode.NONE,
    baseOffset,
    logStartOffset: partition.log.logStartOffset,
    errorMessage: null,
  }
}

export const produceRoute = route(Produce, (ctx, request) => {
  const validAcks = request.acks === -1 || request.acks === 0 || request.acks === 1
  const responses = request.topicData.map((topic) => ({
    name: topic.name,
    partitionResponses: topic.partitionData.map((p) =>
      validAcks
        ? appendPartition(ctx, request, topic.name, p.index, p.records)
        : failed(p.index, ErrorCode.INVALID_REQUIRED_ACKS, `acks must be -1, 0 or 1, got ${request.acks}`),
    ),
  }))
  // One replica: the leader's append is all of "acks=all", so both answer at once.
  if (request.acks === 0) return NO_RESPONSE
  const response = { responses, throttleTimeMs: 0 }
  const loss = ctx.faults.produceResponseLoss(
    request.topicData.flatMap((t) => t.partitionData.map((p) => ({ topic: t.name, partition: p.index }))),
  )
  return loss ? lose(response, loss) : response
})

/** An injected fault: the batches are appended above, and the answer never arrives, or late. */
function lose<T>(response: T, loss: ResponseLoss): typeof CLOSE_CONNECTION | Promise<T> {
  if (loss.how === 'close') return CLOSE_CONNECTION
  return new Promise((resolve) => setTimeout(() => resolve(response), loss.delayMs).unref())
}
