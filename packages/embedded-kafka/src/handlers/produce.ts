import { ErrorCode } from '../protocol/error-codes.js'
import { Produce } from '../protocol/messages/produce.js'
import { InvalidBatchError, validateProducedBatch } from '../protocol/record-batch.js'
import { NO_RESPONSE, route, type RequestContext } from '../server/route.js'
import { ledPartition } from './leadership.js'

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

function appendPartition(ctx: RequestContext, topic: string, index: number, records: Buffer | null, maxMessageBytes: number): PartitionResult {
  const lookup = ledPartition(ctx, topic, index)
  if (!lookup.partition) return failed(index, lookup.errorCode, `partition ${topic}-${index} is not led by broker ${ctx.broker.id}`)
  const { partition } = lookup
  if (records === null || records.length === 0) return failed(index, ErrorCode.INVALID_RECORD, 'produce request carries no record batch')
  if (records.length > maxMessageBytes) {
    return failed(index, ErrorCode.MESSAGE_TOO_LARGE, `record batch of ${records.length} bytes exceeds message.max.bytes ${maxMessageBytes}`)
  }
  let header
  try {
    header = validateProducedBatch(records)
  } catch (error) {
    if (error instanceof InvalidBatchError) return failed(index, error.errorCode, error.message)
    throw error
  }
  const verdict = partition.sequences.check(header)
  if (verdict.kind === 'reject') return failed(index, verdict.errorCode, verdict.message)
  if (verdict.kind === 'duplicate') {
    return { index, errorCode: ErrorCode.NONE, baseOffset: verdict.baseOffset, logStartOffset: partition.log.logStartOffset, errorMessage: null }
  }
  const baseOffset = partition.log.append(records, header)
  partition.sequences.record(header, baseOffset)
  return { index, errorCode: ErrorCode.NONE, baseOffset, logStartOffset: partition.log.logStartOffset, errorMessage: null }
}

export function produceRoute(maxMessageBytes: number) {
  return route(Produce, (ctx, request) => {
    const validAcks = request.acks === -1 || request.acks === 0 || request.acks === 1
    const responses = request.topicData.map((topic) => ({
      name: topic.name,
      partitionResponses: topic.partitionData.map((p) =>
        validAcks
          ? appendPartition(ctx, topic.name, p.index, p.records, maxMessageBytes)
          : failed(p.index, ErrorCode.INVALID_REQUIRED_ACKS, `acks must be -1, 0 or 1, got ${request.acks}`),
      ),
    }))
    // One replica: the leader's append is all of "acks=all", so both answer at once.
    return request.acks === 0 ? NO_RESPONSE : { responses, throttleTimeMs: 0 }
  })
}
