// Fetch (key 1). Spec: FetchRequest.json / FetchResponse.json (apache/kafka clients/src/main/resources/common/message).
// v13+ (topic ids instead of names) is out of scope, so TopicId (13+) fields are left out.
// Tagged fields omitted (our codec skips them): request ClusterId (12+), ReplicaState (15+),
// ReplicaDirectoryId (17+); response DivergingEpoch, CurrentLeader, SnapshotId (12+), NodeEndpoints (16+).
import { defineApi, type RequestOf } from '../protocol/api.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { readBatchHeader } from '../protocol/record-batch.js'
import { array, field, int16, int32, int64, int8, nullableArray, records, string, struct } from '../protocol/schema.js'
import { route, type RequestContext } from '../server/route.js'
import type { Partition } from '../state/topic.js'
import { ledPartition } from './shared/leadership.js'

export const Fetch = defineApi({
  key: 1,
  name: 'Fetch',
  minVersion: 4,
  maxVersion: 12,
  flexibleSince: 12,
  request: struct({
    replicaId: field(int32, '0-14', -1),
    maxWaitMs: field(int32),
    minBytes: field(int32),
    maxBytes: field(int32, '3+', 0x7fffffff),
    isolationLevel: field(int8, '4+', 0),
    sessionId: field(int32, '7+', 0),
    sessionEpoch: field(int32, '7+', -1),
    topics: field(
      array(
        struct({
          topic: field(string, '0-12'),
          partitions: field(
            array(
              struct({
                partition: field(int32),
                currentLeaderEpoch: field(int32, '9+', -1),
                fetchOffset: field(int64),
                lastFetchedEpoch: field(int32, '12+', -1),
                logStartOffset: field(int64, '5+', -1),
                partitionMaxBytes: field(int32),
              }),
            ),
          ),
        }),
      ),
    ),
    forgottenTopicsData: field(
      array(
        struct({
          topic: field(string, '7-12'),
          partitions: field(array(int32), '7+'),
        }),
      ),
      '7+',
    ),
    rackId: field(string, '11+', ''),
  }),
  response: struct({
    throttleTimeMs: field(int32, '1+'),
    errorCode: field(int16, '7+'),
    sessionId: field(int32, '7+', 0),
    responses: field(
      array(
        struct({
          topic: field(string, '0-12'),
          partitions: field(
            array(
              struct({
                partitionIndex: field(int32),
                errorCode: field(int16),
                highWatermark: field(int64),
                lastStableOffset: field(int64, '4+', -1),
                logStartOffset: field(int64, '5+', -1),
                abortedTransactions: field(
                  nullableArray(
                    struct({
                      producerId: field(int64, '4+'),
                      firstOffset: field(int64, '4+'),
                    }),
                  ),
                  '4+',
                  [],
                ),
                preferredReadReplica: field(int32, '11+', -1),
                records: field(records),
              }),
            ),
          ),
        }),
      ),
    ),
  }),
})

type FetchRequest = RequestOf<typeof Fetch>

const READ_COMMITTED = 1

/** The offset after the last record of the last batch returned. */
function endOfBatches(batches: readonly Buffer[]): number {
  const last = readBatchHeader(batches[batches.length - 1]!)
  return last.baseOffset + last.lastOffsetDelta + 1
}

function buildResponse(ctx: RequestContext, request: FetchRequest) {
  let bytesLeft = request.maxBytes > 0 ? request.maxBytes : Infinity
  let totalBytes = 0
  let anyError = false
  const readCommitted = request.isolationLevel === READ_COMMITTED
  const responses = request.topics.map((topic) => ({
    topic: topic.topic,
    partitions: topic.partitions.map((p) => {
      const lookup = ledPartition(ctx, topic.topic, p.partition)
      if (!lookup.partition) {
        anyError = true
        return {
          partitionIndex: p.partition,
          errorCode: lookup.errorCode,
          highWatermark: -1,
          lastStableOffset: -1,
          logStartOffset: -1,
          records: null,
        }
      }
      const { partition } = lookup
      const { log } = partition
      const lastStableOffset = partition.lastStableOffset
      const base = {
        partitionIndex: p.partition,
        highWatermark: log.endOffset,
        lastStableOffset,
        logStartOffset: log.logStartOffset,
        abortedTransactions: [],
      }
      if (p.fetchOffset < log.logStartOffset || p.fetchOffset > log.endOffset) {
        anyError = true
        return { ...base, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, records: null }
      }
      // The first partition with data may exceed the response limit by one batch (KIP-74).
      const limit = Math.min(p.partitionMaxBytes, totalBytes === 0 ? Math.max(bytesLeft, 1) : bytesLeft)
      const batches = limit > 0 ? log.read(p.fetchOffset, limit, readCommitted ? lastStableOffset : Infinity) : []
      const size = batches.reduce((sum, b) => sum + b.length, 0)
      totalBytes += size
      bytesLeft -= size
      const abortedTransactions =
        readCommitted && batches.length > 0
          ? partition.transactions
              .abortedBetween(p.fetchOffset, endOfBatches(batches))
              .map(({ producerId, firstOffset }) => ({ producerId, firstOffset }))
          : []
      return { ...base, errorCode: ErrorCode.NONE, abortedTransactions, records: batches }
    }),
  }))
  return {
    ready: anyError || totalBytes >= Math.max(request.minBytes, 1),
    response: { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses },
  }
}

function fetchedPartitions(ctx: RequestContext, request: FetchRequest): Partition[] {
  const out: Partition[] = []
  for (const topic of request.topics) {
    for (const p of topic.partitions) {
      const lookup = ledPartition(ctx, topic.topic, p.partition)
      if (lookup.partition) out.push(lookup.partition)
    }
  }
  return out
}

/**
 * Fetch with long-poll: answer at once when minBytes are available (or on any error), otherwise
 * wait until a fetched partition grows, maxWaitMs passes, or the connection closes. Fetch
 * sessions (KIP-227) are declined with session id 0, which every client must accept.
 *
 * read_committed (isolation level 1, KafkaJS's default) reads only below the last stable offset
 * and lists the aborted transactions within the returned range, so the client drops their
 * records; it is the client, as in Kafka, that filters, using those and the ABORT markers.
 */
export const fetchRoute = route(Fetch, (ctx, request) => {
  const first = buildResponse(ctx, request)
  if (first.ready || request.maxWaitMs <= 0) return first.response
  return new Promise((resolve) => {
    const removers: Array<() => void> = []
    const finish = () => {
      clearTimeout(timer)
      for (const remove of removers) remove()
      ctx.connectionClosed.removeEventListener('abort', finish)
      resolve(buildResponse(ctx, request).response)
    }
    const timer = setTimeout(finish, request.maxWaitMs).unref()
    ctx.connectionClosed.addEventListener('abort', finish)
    for (const partition of fetchedPartitions(ctx, request)) {
      removers.push(
        partition.log.onAppend(() => {
          if (buildResponse(ctx, request).ready) finish()
        }),
      )
    }
  })
})
