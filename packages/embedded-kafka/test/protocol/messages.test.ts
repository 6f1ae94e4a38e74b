/**
 * Cross-checks our message schemas against an independent implementation: KafkaJS 2.2.4's own
 * protocol encoders and decoders. For every API and version both sides support, KafkaJS encodes a
 * request that our schema must decode to the same values (consuming every byte), and our schema
 * encodes a response that KafkaJS must decode to the same values (again consuming every byte).
 * A generic round-trip test then covers every version we support, flexible ones included.
 */
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { isFlexible, type AnyApi, type RequestOf, type ResponseOf } from '../../src/protocol/api.js'
import { Reader } from '../../src/protocol/reader.js'
import type { CodecContext } from '../../src/protocol/schema.js'
import { Writer } from '../../src/protocol/writer.js'
import { Produce } from '../../src/apis/00-produce.js'
import { Fetch } from '../../src/apis/01-fetch.js'
import { ListOffsets } from '../../src/apis/02-list-offsets.js'
import { Metadata } from '../../src/apis/03-metadata.js'
import { OffsetCommit } from '../../src/apis/08-offset-commit.js'
import { OffsetFetch } from '../../src/apis/09-offset-fetch.js'
import { FindCoordinator } from '../../src/apis/10-find-coordinator.js'
import { JoinGroup } from '../../src/apis/11-join-group.js'
import { Heartbeat } from '../../src/apis/12-heartbeat.js'
import { LeaveGroup } from '../../src/apis/13-leave-group.js'
import { SyncGroup } from '../../src/apis/14-sync-group.js'
import { DescribeGroups } from '../../src/apis/15-describe-groups.js'
import { ListGroups } from '../../src/apis/16-list-groups.js'
import { DeleteGroups } from '../../src/apis/42-delete-groups.js'
import { SaslHandshake } from '../../src/apis/17-sasl-handshake.js'
import { ApiVersions } from '../../src/apis/18-api-versions.js'
import { SaslAuthenticate } from '../../src/apis/36-sasl-authenticate.js'
import { CreateTopics } from '../../src/apis/19-create-topics.js'
import { DeleteTopics } from '../../src/apis/20-delete-topics.js'
import { InitProducerId } from '../../src/apis/22-init-producer-id.js'
import { AddPartitionsToTxn } from '../../src/apis/24-add-partitions-to-txn.js'
import { AddOffsetsToTxn } from '../../src/apis/25-add-offsets-to-txn.js'
import { EndTxn } from '../../src/apis/26-end-txn.js'
import { TxnOffsetCommit } from '../../src/apis/28-txn-offset-commit.js'
import { CreatePartitions } from '../../src/apis/37-create-partitions.js'
import { ALL_APIS } from '../../src/apis/index.js'

const require = createRequire(import.meta.url)

// ---------------------------------------------------------------------------------------------
// KafkaJS plumbing
// ---------------------------------------------------------------------------------------------

interface KafkaJsEncoder {
  readonly buffer: Buffer
}
interface KafkaJsRequest {
  readonly apiKey: number
  readonly apiVersion: number
  encode(): Promise<KafkaJsEncoder>
}
type KafkaJsRequestFactory = (args?: object) => KafkaJsRequest
interface KafkaJsResponse {
  decode(raw: Buffer): Promise<unknown>
  parse?(data: unknown): Promise<unknown>
}

function kafkaJs(api: string, version: number): { request: KafkaJsRequestFactory; response: KafkaJsResponse } {
  const base = `kafkajs/src/protocol/requests/${api}/v${version}`
  return {
    request: require(`${base}/request`) as KafkaJsRequestFactory,
    response: require(`${base}/response`) as KafkaJsResponse,
  }
}

// KafkaJS decoders never check that they consumed the whole frame. Track, per buffer, the furthest
// offset any Decoder reached, so a response carrying bytes KafkaJS did not expect fails the test.
const furthestRead = new WeakMap<Buffer, number>()
{
  const Decoder = require('kafkajs/src/protocol/decoder') as { prototype: Record<string, unknown> }
  for (const name of Object.getOwnPropertyNames(Decoder.prototype)) {
    const original = Decoder.prototype[name]
    if (name === 'constructor' || typeof original !== 'function') continue
    Decoder.prototype[name] = function (this: { buffer: Buffer; offset: number }, ...args: unknown[]) {
      const result: unknown = original.apply(this, args)
      furthestRead.set(this.buffer, Math.max(furthestRead.get(this.buffer) ?? 0, this.offset))
      return result
    }
  }
}

const RecordBatch = (
  require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch: (args: object) => Promise<KafkaJsEncoder> }
).RecordBatch
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (args: object) => unknown

interface TestMessage {
  key: string
  value: string
  timestamp: number
  headers?: Record<string, string>
}

/** A record batch exactly as KafkaJS's Produce encoder builds it for these messages. */
async function kafkaJsBatch(
  messages: TestMessage[],
  options: {
    producerId?: number
    producerEpoch?: number
    firstSequence?: number
    transactional?: boolean
    firstOffset?: number
  } = {},
): Promise<Buffer> {
  const timestamps = messages.map((m) => m.timestamp).sort()
  const firstTimestamp = timestamps[0]!
  const batch = await RecordBatch({
    compression: 0,
    records: messages.map((message, i) =>
      Record({ ...message, offsetDelta: i, timestampDelta: message.timestamp - firstTimestamp }),
    ),
    firstTimestamp,
    maxTimestamp: timestamps[timestamps.length - 1],
    producerId: options.producerId ?? -1,
    producerEpoch: options.producerEpoch ?? 0,
    firstSequence: options.firstSequence ?? 0,
    transactional: options.transactional ?? false,
    lastOffsetDelta: messages.length - 1,
    ...(options.firstOffset === undefined ? {} : { firstOffset: options.firstOffset }),
  })
  return Buffer.from(batch.buffer)
}

// ---------------------------------------------------------------------------------------------
// Our side
// ---------------------------------------------------------------------------------------------

function ctx(api: AnyApi, version: number, flexible = isFlexible(api, version)): CodecContext {
  return { version, flexible }
}

/** Encodes a request with KafkaJS and decodes it with our schema, which must use every byte. */
async function decodeKafkaJsRequest<A extends AnyApi>(
  api: A,
  version: number,
  request: KafkaJsRequest,
): Promise<RequestOf<A>> {
  expect(request.apiKey).toBe(api.key)
  expect(request.apiVersion).toBe(version)
  const { buffer } = await request.encode()
  const reader = new Reader(Buffer.from(buffer))
  const decoded = api.request.read(reader, ctx(api, version)) as RequestOf<A>
  expect(reader.remaining).toBe(0)
  return decoded
}

function encodeResponse<A extends AnyApi>(api: A, version: number, value: ResponseOf<A>): Buffer {
  const writer = new Writer()
  api.response.write(writer, value, ctx(api, version))
  return Buffer.from(writer.view())
}

/** Encodes a response with our schema and decodes it with KafkaJS (decode, then parse). */
async function decodeWithKafkaJs<A extends AnyApi>(
  api: A,
  version: number,
  response: KafkaJsResponse,
  value: ResponseOf<A>,
): Promise<unknown> {
  const bytes = encodeResponse(api, version, value)
  const decoded = await response.decode(bytes)
  expect(furthestRead.get(bytes)).toBe(bytes.length)
  if (response.parse) await expect(response.parse(decoded)).resolves.toBe(decoded)
  return decoded
}

function versions(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i)
}

/** KafkaJS's v(N) responses report broker throttling as clientSideThrottleTime (KIP-219) from N on. */
function throttle(version: number, clientSideFrom: number, ms: number): object {
  return version >= clientSideFrom ? { throttleTime: 0, clientSideThrottleTime: ms } : { throttleTime: ms }
}

const NO_UUID = Buffer.alloc(16)
const MS = 1_700_000_000_000

// ---------------------------------------------------------------------------------------------
// Cross-checks, one block per API
// ---------------------------------------------------------------------------------------------

describe('Produce agrees with KafkaJS', () => {
  for (const v of versions(3, 7)) {
    it(`v${v} request`, async () => {
      const messagesA = [
        { key: 'k1', value: 'v1', timestamp: MS + 5, headers: { trace: 'abc' } },
        { key: 'k2', value: 'v2', timestamp: MS },
      ]
      const messagesB = [{ key: 'k3', value: 'v3', timestamp: MS + 9 }]
      const { request } = kafkaJs('produce', v)
      const decoded = await decodeKafkaJsRequest(
        Produce,
        v,
        request({
          acks: -1,
          timeout: 30_000,
          transactionalId: 'tx-1',
          producerId: 4000,
          producerEpoch: 3,
          compression: 0,
          topicData: [
            {
              topic: 'orders',
              partitions: [
                { partition: 0, firstSequence: 7, messages: messagesA },
                { partition: 2, firstSequence: 0, messages: messagesB },
              ],
            },
          ],
        }),
      )
      const batchOptions = { producerId: 4000, producerEpoch: 3, transactional: true }
      expect(decoded).toEqual({
        transactionalId: 'tx-1',
        acks: -1,
        timeoutMs: 30_000,
        topicData: [
          {
            name: 'orders',
            partitionData: [
              { index: 0, records: await kafkaJsBatch(messagesA, { ...batchOptions, firstSequence: 7 }) },
              { index: 2, records: await kafkaJsBatch(messagesB, batchOptions) },
            ],
          },
        ],
      })
    })

    it(`v${v} request without transactional id`, async () => {
      const messages = [{ key: 'k', value: 'v', timestamp: MS }]
      const decoded = await decodeKafkaJsRequest(
        Produce,
        v,
        kafkaJs('produce', v).request({
          acks: 1,
          timeout: 1000,
          topicData: [{ topic: 't', partitions: [{ partition: 1, messages }] }],
        }),
      )
      expect(decoded.transactionalId).toBeNull()
      expect(decoded.acks).toBe(1)
      expect(decoded.topicData[0]!.partitionData[0]!.records).toEqual(await kafkaJsBatch(messages))
    })

    it(`v${v} response`, async () => {
      const decoded = await decodeWithKafkaJs(Produce, v, kafkaJs('produce', v).response, {
        responses: [
          {
            name: 'orders',
            partitionResponses: [
              { index: 0, errorCode: 0, baseOffset: 1234, logAppendTimeMs: -1, logStartOffset: 5 },
              { index: 2, errorCode: 0, baseOffset: 99, logAppendTimeMs: MS, logStartOffset: 0 },
            ],
          },
        ],
        throttleTimeMs: 7,
      })
      const logStart = (offset: string) => (v >= 5 ? { logStartOffset: offset } : {})
      expect(decoded).toEqual({
        topics: [
          {
            topicName: 'orders',
            partitions: [
              { partition: 0, errorCode: 0, baseOffset: '1234', logAppendTime: '-1', ...logStart('5') },
              { partition: 2, errorCode: 0, baseOffset: '99', logAppendTime: String(MS), ...logStart('0') },
            ],
          },
        ],
        ...throttle(v, 6, 7),
      })
    })
  }
})

describe('Fetch agrees with KafkaJS', () => {
  for (const v of versions(4, 11)) {
    it(`v${v} request`, async () => {
      const decoded = await decodeKafkaJsRequest(
        Fetch,
        v,
        kafkaJs('fetch', v).request({
          replicaId: -1,
          maxWaitTime: 500,
          minBytes: 1,
          maxBytes: 10_485_760,
          isolationLevel: 1,
          sessionId: 11,
          sessionEpoch: 2,
          rackId: 'rack-a',
          forgottenTopics: [{ topic: 'old', partitions: [3, 4] }],
          topics: [
            {
              topic: 'orders',
              partitions: [
                { partition: 0, currentLeaderEpoch: 5, fetchOffset: '100', logStartOffset: 7, maxBytes: 1_048_576 },
                { partition: 1, fetchOffset: '0', maxBytes: 65_536 },
              ],
            },
          ],
        }),
      )
      expect(decoded).toEqual({
        replicaId: -1,
        maxWaitMs: 500,
        minBytes: 1,
        maxBytes: 10_485_760,
        isolationLevel: 1,
        sessionId: v >= 7 ? 11 : 0,
        sessionEpoch: v >= 7 ? 2 : -1,
        topics: [
          {
            topic: 'orders',
            partitions: [
              {
                partition: 0,
                currentLeaderEpoch: v >= 9 ? 5 : -1,
                fetchOffset: 100,
                lastFetchedEpoch: -1,
                logStartOffset: v >= 5 ? 7 : -1,
                partitionMaxBytes: 1_048_576,
              },
              {
                partition: 1,
                currentLeaderEpoch: -1,
                fetchOffset: 0,
                lastFetchedEpoch: -1,
                logStartOffset: -1,
                partitionMaxBytes: 65_536,
              },
            ],
          },
        ],
        forgottenTopicsData: v >= 7 ? [{ topic: 'old', partitions: [3, 4] }] : [],
        rackId: v >= 11 ? 'rack-a' : '',
      })
    })

    it(`v${v} response`, async () => {
      const first = await kafkaJsBatch(
        [
          { key: 'a', value: 'one', timestamp: MS, headers: { h: 'x' } },
          { key: 'b', value: 'two', timestamp: MS + 1 },
        ],
        { firstOffset: 40 },
      )
      const second = await kafkaJsBatch([{ key: 'c', value: 'three', timestamp: MS + 2 }], { firstOffset: 42 })
      const decoded = (await decodeWithKafkaJs(Fetch, v, kafkaJs('fetch', v).response, {
        throttleTimeMs: 3,
        errorCode: 0,
        sessionId: 77,
        responses: [
          {
            topic: 'orders',
            partitions: [
              {
                partitionIndex: 0,
                errorCode: 0,
                highWatermark: 43,
                lastStableOffset: 43,
                logStartOffset: 0,
                abortedTransactions: [{ producerId: 9, firstOffset: 4 }],
                preferredReadReplica: -1,
                // Two stored batches written back to back without concatenating them first.
                records: [first, second],
              },
              {
                partitionIndex: 1,
                errorCode: 0,
                highWatermark: 0,
                lastStableOffset: 0,
                logStartOffset: 0,
                abortedTransactions: null,
                records: null,
              },
            ],
          },
        ],
      })) as { responses: { partitions: { messages: unknown[] }[] }[] }
      const partitions = decoded.responses[0]!.partitions
      const messages = partitions[0]!.messages as {
        offset: string
        key: Buffer
        value: Buffer
        headers: object
        timestamp: string
      }[]
      expect(
        messages.map((m) => ({
          offset: m.offset,
          key: String(m.key),
          value: String(m.value),
          headers: m.headers,
          timestamp: m.timestamp,
        })),
      ).toEqual([
        { offset: '40', key: 'a', value: 'one', headers: { h: Buffer.from('x') }, timestamp: String(MS) },
        { offset: '41', key: 'b', value: 'two', headers: {}, timestamp: String(MS + 1) },
        { offset: '42', key: 'c', value: 'three', headers: {}, timestamp: String(MS + 2) },
      ])
      const partition = (index: number, hw: string, lso: string, aborted: object[], messagesOut: unknown[]) => ({
        partition: index,
        errorCode: 0,
        highWatermark: hw,
        lastStableOffset: lso,
        ...(v >= 5 ? { lastStartOffset: '0' } : {}),
        abortedTransactions: aborted,
        ...(v >= 11 ? { preferredReadReplica: -1 } : {}),
        messages: messagesOut,
      })
      expect(decoded).toEqual({
        ...throttle(v, 8, 3),
        ...(v >= 7 ? { errorCode: 0, sessionId: 77 } : {}),
        responses: [
          {
            topicName: 'orders',
            partitions: [
              partition(0, '43', '43', [{ producerId: '9', firstOffset: '4' }], messages),
              // KafkaJS reads a null aborted-transaction list as [] and null records as no messages.
              partition(1, '0', '0', [], []),
            ],
          },
        ],
      })
    })
  }
})

describe('ListOffsets agrees with KafkaJS', () => {
  for (const v of versions(1, 3)) {
    it(`v${v} request`, async () => {
      const decoded = await decodeKafkaJsRequest(
        ListOffsets,
        v,
        kafkaJs('listOffsets', v).request({
          replicaId: -1,
          isolationLevel: 1,
          topics: [
            {
              topic: 'orders',
              partitions: [
                { partition: 0, timestamp: -1 },
                { partition: 3, timestamp: MS },
              ],
            },
          ],
        }),
      )
      expect(decoded).toEqual({
        replicaId: -1,
        isolationLevel: v >= 2 ? 1 : 0,
        topics: [
          {
            name: 'orders',
            partitions: [
              { partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 },
              { partitionIndex: 3, currentLeaderEpoch: -1, timestamp: MS },
            ],
          },
        ],
      })
    })

    it(`v${v} response`, async () => {
      const decoded = await decodeWithKafkaJs(ListOffsets, v, kafkaJs('listOffsets', v).response, {
        throttleTimeMs: 4,
        topics: [
          {
            name: 'orders',
            partitions: [
              { partitionIndex: 0, errorCode: 0, timestamp: -1, offset: 42, leaderEpoch: 0 },
              { partitionIndex: 3, errorCode: 0, timestamp: MS, offset: 17, leaderEpoch: 0 },
            ],
          },
        ],
      })
      expect(decoded).toEqual({
        ...(v >= 2 ? throttle(v, 3, 4) : {}),
        responses: [
          {
            topic: 'orders',
            partitions: [
              { partition: 0, errorCode: 0, timestamp: '-1', offset: '42' },
              { partition: 3, errorCode: 0, timestamp: String(MS), offset: '17' },
            ],
          },
        ],
      })
    })
  }
})

describe('Metadata agrees with KafkaJS', () => {
  for (const v of versions(0, 6)) {
    it(`v${v} request`, async () => {
      const decoded = await decodeKafkaJsRequest(
        Metadata,
        v,
        kafkaJs('metadata', v).request({ topics: ['orders', 'payments'], allowAutoTopicCreation: false }),
      )
      expect(decoded).toEqual({
        topics: [
          { topicId: NO_UUID, name: 'orders' },
          { topicId: NO_UUID, name: 'payments' },
        ],
        allowAutoTopicCreation: v >= 4 ? false : true,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      })
    })

    it(`v${v} request for all topics`, async () => {
      const decoded = await decodeKafkaJsRequest(Metadata, v, kafkaJs('metadata', v).request({ topics: [] }))
      // v0 asks for every topic with an empty array, v1+ with a null one.
      expect(decoded.topics).toEqual(v >= 1 ? null : [])
      expect(decoded.allowAutoTopicCreation).toBe(true)
    })

    it(`v${v} response`, async () => {
      const decoded = await decodeWithKafkaJs(Metadata, v, kafkaJs('metadata', v).response, {
        throttleTimeMs: 5,
        brokers: [
          { nodeId: 1, host: 'localhost', port: 9092, rack: 'rack-a' },
          { nodeId: 2, host: 'localhost', port: 9093, rack: null },
        ],
        clusterId: 'cluster-x',
        controllerId: 1,
        topics: [
          {
            errorCode: 0,
            name: 'orders',
            isInternal: false,
            partitions: [
              {
                errorCode: 0,
                partitionIndex: 0,
                leaderId: 1,
                leaderEpoch: 2,
                replicaNodes: [1, 2],
                isrNodes: [1, 2],
                offlineReplicas: [],
              },
              {
                errorCode: 0,
                partitionIndex: 1,
                leaderId: 2,
                leaderEpoch: 0,
                replicaNodes: [2, 1],
                isrNodes: [2],
                offlineReplicas: [1],
              },
            ],
          },
          { errorCode: 0, name: '__consumer_offsets', isInternal: true, partitions: [] },
        ],
      })
      const broker = (nodeId: number, port: number, rack: string | null) => ({
        nodeId,
        host: 'localhost',
        port,
        ...(v >= 1 ? { rack } : {}),
      })
      const partition = (id: number, leader: number, replicas: number[], isr: number[], offline: number[]) => ({
        partitionErrorCode: 0,
        partitionId: id,
        leader,
        replicas,
        isr,
        ...(v >= 5 ? { offlineReplicas: offline } : {}),
      })
      const topic = (name: string, isInternal: boolean, partitions: object[]) => ({
        topicErrorCode: 0,
        topic: name,
        ...(v >= 1 ? { isInternal } : {}),
        partitionMetadata: partitions,
      })
      expect(decoded).toEqual({
        ...(v >= 3 ? throttle(v, 6, 5) : {}),
        brokers: [broker(1, 9092, 'rack-a'), broker(2, 9093, null)],
        ...(v >= 2 ? { clusterId: 'cluster-x' } : {}),
        ...(v >= 1 ? { controllerId: 1 } : {}),
        topicMetadata: [
          topic('orders', false, [partition(0, 1, [1, 2], [1, 2], []), partition(1, 2, [2, 1], [2], [1])]),
          topic('__consumer_offsets', true, []),
        ],
      })
    })
  }
})

describe('OffsetCommit agrees with KafkaJS', () => {
  for (const v of versions(2, 5)) {
    it(`v${v} request`, async () => {
      const decoded = await decodeKafkaJsRequest(
        OffsetCommit,
        v,
        kafkaJs('offsetCommit', v).request({
          groupId: 'group-1',
          groupGenerationId: 3,
          memberId: 'member-1',
          retentionTime: 86_400_000,
          topics: [
            {
              topic: 'orders',
              partitions: [
                { partition: 0, offset: '15' },
                { partition: 1, offset: '20', metadata: 'meta' },
              ],
            },
          ],
        }),
      )
      expect(decoded).toEqual({
        groupId: 'group-1',
        generationIdOrMemberEpoch: 3,
        memberId: 'member-1',
        groupInstanceId: null,
        retentionTimeMs: v <= 4 ? 86_400_000 : -1,
        topics: [
          {
            name: 'orders',
            partitions: [
              { partitionIndex: 0, committedOffset: 15, committedLeaderEpoch: -1, committedMetadata: null },
              { partitionIndex: 1, committedOffset: 20, committedLeaderEpoch: -1, committedMetadata: 'meta' },
            ],
          },
        ],
      })
    })

    it(`v${v} response`, async () => {
      const decoded = await decodeWithKafkaJs(OffsetCommit, v, kafkaJs('offsetCommit', v).response, {
        throttleTimeMs: 2,
        topics: [
          {
            name: 'orders',
            partitions: [
              { partitionIndex: 0, errorCode: 0 },
              { partitionIndex: 1, errorCode: 0 },
            ],
          },
        ],
      })
      expect(decoded).toEqual({
        ...(v >= 3 ? throttle(v, 4, 2) : {}),
        responses: [
          {
            topic: 'orders',
            partitions: [
              { partition: 0, errorCode: 0 },
              { partition: 1, errorCode: 0 },
            ],
          },
        ],
      })
    })
  }
})

describe('OffsetFetch agrees with KafkaJS', () => {
  for (const v of versions(1, 4)) {
    it(`v${v} request`, async () => {
      const decoded = await decodeKafkaJsRequest(
        OffsetFetch,
        v,
        kafkaJs('offsetFetch', v).request({
          groupId: 'group-1',
          topics: [
            { topic: 'orders', partitions: [{ partition: 0 }, { partition: 1 }] },
            { topic: 'payments', partitions: [{ partition: 4 }] },
          ],
        }),
      )
      expect(decoded).toEqual({
        groupId: 'group-1',
        topics: [
          { name: 'orders', partitionIndexes: [0, 1] },
          { name: 'payments', partitionIndexes: [4] },
        ],
        requireStable: false,
      })
    })

    if (v >= 3) {
      it(`v${v} request for all topics`, async () => {
        const decoded = await decodeKafkaJsRequest(
          OffsetFetch,
          v,
          kafkaJs('offsetFetch', v).request({ groupId: 'group-1', topics: [] }),
        )
        expect(decoded.topics).toBeNull()
      })
    }

    it(`v${v} response`, async () => {
      const decoded = await decodeWithKafkaJs(OffsetFetch, v, kafkaJs('offsetFetch', v).response, {
        throttleTimeMs: 6,
        topics: [
          {
            name: 'orders',
            partitions: [
              { partitionIndex: 0, committedOffset: 15, committedLeaderEpoch: -1, metadata: 'meta', errorCode: 0 },
              { partitionIndex: 1, committedOffset: -1, committedLeaderEpoch: -1, metadata: null, errorCode: 0 },
            ],
          },
        ],
        errorCode: 0,
      })
      expect(decoded).toEqual({
        ...(v >= 3 ? throttle(v, 4, 6) : {}),
        responses: [
          {
            topic: 'orders',
            partitions: [
              { partition: 0, offset: '15', metadata: 'meta', errorCode: 0 },
              { partition: 1, offset: '-1', metadata: null, errorCode: 0 },
            ],
          },
        ],
        ...(v >= 2 ? { errorCode: 0 } : {}),
      })
    })
  }
})

describe('FindCoordinator agrees with KafkaJS', () => {
  for (const v of versions(0, 2)) {
    it(`v${v} request`, async () => {
      const { request } = kafkaJs('findCoordinator', v)
      const built = v === 0 ? request({ groupId: 'group-1' }) : request({ coordinatorKey: 'tx-1', coordinatorType: 1 })
      const decoded = await decodeKafkaJsRequest(FindCoordinator, v, built)
      expect(decoded).toEqual(v === 0 ? { key: 'group-1', keyType: 0 } : { key: 'tx-1', keyType: 1 })
    })

    it(`v${v} response`, async () => {
      const decoded = await decodeWithKafkaJs(FindCoordinator, v, kafkaJs('findCoordinator', v).response, {
        throttleTimeMs: 1,
        errorCode: 0,
        errorMessage: null,
        nodeId: 2,
        host: '127.0.0.1',
        port: 9093,
      })
      expect(decoded).toEqual({
        ...(v >= 1 ? throttle(v, 2, 1) : {}),
        errorCode: 0,
        ...(v >= 1 ? { errorMessage: null } : {}),
        coordinator: { nodeId: 2, host: '127.0.0.1', port: 9093 },
      })
    })
  }
})

describe('JoinGroup agrees with KafkaJS', () => {
  const metadata = Buffer.from([0, 1, 0, 0, 0, 1, 0, 6, 111, 114, 100, 101, 114, 115, 0, 0, 0, 0])
  for (const v of versions(0, 5)) {
    it(`v${v} request`, async () => {
      const decoded = await decodeKafkaJsRequest(
        JoinGroup,
        v,
        kafkaJs('joinGroup', v).request({
          groupId: 'group-1',
          sessionTimeout: 30_000,
          rebalanceTimeout: 60_000,
          memberId: '',
          groupInstanceId: 'instance-1',
          protocolType: 'consumer',
          groupProtocols: [
            { name: 'RoundRobinAssigner', metadata },
            { name: 'Other', metadata: Buffer.alloc(0) },
          ],
        }),
      )
      expect(decoded).toEqual({
        groupId: 'group-1',
        sessionTimeoutMs: 30_000,
        rebalanceTimeoutMs: v >= 1 ? 60_000 : -1,
        memberId: '',
        groupInstanceId: v >= 5 ? 'instance-1' : null,
        protocolType: 'consumer',
        protocols: [
          { name: 'RoundRobinAssigner', metadata },
          { name: 'Other', metadata: Buffer.alloc(0) },
        ],
      })
    })

    it(`v${v} response`, async () => {
      const decoded = await decodeWithKafkaJs(JoinGroup, v, kafkaJs('joinGroup', v).response, {
        throttleTimeMs: 8,
        errorCode: 0,
        generationId: 4,
        protocolName: 'RoundRobinAssigner',
        leader: 'member-1',
        memberId: 'member-2',
        members: [
          { memberId: 'member-1', groupInstanceId: 'instance-1', metadata },
          { memberId: 'member-2', groupInstanceId: null, metadata },
        ],
      })
      const member = (memberId: string, groupInstanceId: string | null) => ({
        memberId,
        ...(v >= 5 ? { groupInstanceId } : {}),
        memberMetadata: metadata,
      })
      expect(decoded).toEqual({
        ...(v >= 2 ? throttle(v, 3, 8) : {}),
        errorCode: 0,
        generationId: 4,
        groupProtocol: 'RoundRobinAssigner',
        leaderId: 'member-1',
        memberId: 'member-2',
        members: [member('member-1', 'instance-1'), member('member-2', null)],
      })
    })
  }
})

describe('Heartbeat agrees with KafkaJS', () => {
  for (const v of versions(0, 3)) {
    it(`v${v} request`, async () => {
      const decoded = await decodeKafkaJsRequest(
        Heartbeat,
        v,
        kafkaJs('heartbeat', v).request({
          groupId: 'group-1',
          groupGenerationId: 9,
          memberId: 'member-1',
          groupInstanceId: 'instance-1',
        }),
      )
      expect(decoded).toEqual({
        groupId: 'group-1',
        generationId: 9,
        memberId: 'member-1',
        groupInstanceId: v >= 3 ? 'instance-1' : null,
      })
    })

    it(`v${v} response`, async () => {
      const decoded = await decodeWithKafkaJs(Heartbeat, v, kafkaJs('heartbeat', v).response, {
        throttleTimeMs: 3,
        errorCode: 0,
      })
      expect(decoded).toEqual({ ...(v >= 1 ? throttle(v, 2, 3) : {}), errorCode: 0 })
    })
  }
})

describe('LeaveGroup agrees with KafkaJS', () => {
  for (const v of versions(0, 3)) {
    it(`v${v} request`, async () => {
      const { request } = kafkaJs('leaveGroup', v)
      const members = [{ memberId: 'member-1', groupInstanceId: 'instance-1' }, { memberId: 'member-2' }]
      const built =
        v >= 3 ? request({ groupId: 'group-1', members }) : request({ groupId: 'group-1', memberId: 'member-1' })
      const decoded = await decodeKafkaJsRequest(LeaveGroup, v, built)
      expect(decoded).toEqual({
        groupId: 'group-1',
        memberId: v <= 2 ? 'member-1' : '',
        members:
          v >= 3
            ? [
                { memberId: 'member-1', groupInstanceId: 'instance-1' },
                { memberId: 'member-2', groupInstanceId: null },
              ]
            : [],
      })
    })

    it(`v${v} response`, async () => {
      const decoded = await decodeWithKafkaJs(LeaveGroup, v, kafkaJs('leaveGroup', v).response, {
        throttleTimeMs: 2,
        errorCode: 0,
        members: [
          { memberId: 'member-1', groupInstanceId: 'instance-1', errorCode: 0 },
          { memberId: 'member-2', groupInstanceId: null, errorCode: 0 },
        ],
      })
      expect(decoded).toEqual({
        ...(v >= 1 ? throttle(v, 2, 2) : {}),
        errorCode: 0,
        ...(v >= 3
          ? {
              members: [
                { memberId: 'member-1', groupInstanceId: 'instance-1', errorCode: 0 },
                { memberId: 'member-2', groupInstanceId: null, errorCode: 0 },
              ],
            }
          : {}),
      })
    })
  }
})

describe('SyncGroup agrees with KafkaJS', () => {
  const assignment = Buffer.from([
    0, 1, 0, 0, 0, 1, 0, 6, 111, 114, 100, 101, 114, 115, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
  ])
  for (const v of versions(0, 3)) {
    it(`v${v} request`, async () => {
      const decoded = await decodeKafkaJsRequest(
        SyncGroup,
        v,
        kafkaJs('syncGroup', v).request({
          groupId: 'group-1',
          generationId: 4,
          memberId: 'member-1',
          groupInstanceId: 'instance-1',
          groupAssignment: [
            { memberId: 'member-1', memberAssignment: assignment },
            { memberId: 'member-2', memberAssignment: Buffer.alloc(0) },
          ],
        }),
      )
      expect(decoded).toEqual({
        groupId: 'group-1',
        generationId: 4,
        memberId: 'member-1',
        groupInstanceId: v >= 3 ? 'instance-1' : null,
        protocolType: null,
        protocolName: null,
        assignments: [
          { memberId: 'member-1', assignment },
          { memberId: 'member-2', assignment: Buffer.alloc(0) },
        ],
      })
    })

    it(`v${v} response`, async () => {
      const decoded = await decodeWithKafkaJs(SyncGroup, v, kafkaJs('syncGroup', v).response, {
        throttleTimeMs: 1,
        errorCode: 0,
        assignment,
      })
      expect(decoded).toEqual({ ...(v >= 1 ? throttle(v, 2, 1) : {}), errorCode: 0, memberAssignment: assignment })
    })
  }
})

describe('DescribeGroups agrees with KafkaJS', () => {
  for (const v of versions(0, 2)) {
    it(`v${v} request`, async () => {
      const decoded = await decodeKafkaJsRequest(
        DescribeGroups,
        v,
        kafkaJs('describeGroups', v).request({ groupIds: ['group-1', 'group-2'] }),
      )
      expect(decoded).toEqual({ groups: ['group-1', 'group-2'], includeAuthorizedOperations: false })
    })

    it(`v${v} response`, async () => {
      const metadata = Buffer.from([0, 1, 2])
      const assignment = Buffer.from([3, 4])
      const decoded = await decodeWithKafkaJs(DescribeGroups, v, kafkaJs('describeGroups', v).response, {
        throttleTimeMs: 9,
        groups: [
          {
            errorCode: 0,
            groupId: 'group-1',
            groupState: 'Stable',
            protocolType: 'consumer',
            protocolData: 'RoundRobinAssigner',
            members: [
              {
                memberId: 'member-1',
                clientId: 'client-1',
                clientHost: '/127.0.0.1',
                memberMetadata: metadata,
                memberAssignment: assignment,
              },
            ],
          },
          { errorCode: 0, groupId: 'group-2', groupState: 'Empty', protocolType: '', protocolData: '', members: [] },
        ],
      })
      expect(decoded).toEqual({
        ...(v >= 1 ? throttle(v, 2, 9) : {}),
        groups: [
          {
            errorCode: 0,
            groupId: 'group-1',
            state: 'Stable',
            protocolType: 'consumer',
            protocol: 'RoundRobinAssigner',
            members: [
              {
                memberId: 'member-1',
                clientId: 'client-1',
                clientHost: '/127.0.0.1',
                memberMetadata: metadata,
                memberAssignment: assignment,
              },
            ],
          },
          { errorCode: 0, groupId: 'group-2', state: 'Empty', protocolType: '', protocol: '', members: [] },
        ],
      })
    })
  }
})

describe('DeleteGroups agrees with KafkaJS', () => {
  for (const v of versions(0, 1)) {
    it(`v${v} request`, async () => {
      const decoded = await decodeKafkaJsRequest(DeleteGroups, v, kafkaJs('deleteGroups', v).request(['g-1', 'g-2']))
      expect(decoded).toEqual({ groupsNames: ['g-1', 'g-2'] })
    })

    it(`v${v} response`, async () => {
      const decoded = await decodeWithKafkaJs(DeleteGroups, v, kafkaJs('deleteGroups', v).response, {
        throttleTimeMs: 3,
        results: [
          { groupId: 'g-1', errorCode: 0 },
          { groupId: 'g-2', errorCode: 68 },
        ],
      })
      expect(decoded).toMatchObject({
        results: [
          { groupId: 'g-1', errorCode: 0 },
          { groupId: 'g-2', errorCode: 68, error: expect.objectContaining({ type: 'NON_EMPTY_GROUP' }) },
        ],
      })
    })
  }
})

describe('ListGroups agrees with KafkaJS', () => {
  for (const v of versions(0, 2)) {
    it(`v${v} request`, async () => {
      const decoded = await decodeKafkaJsRequest(ListGroups, v, kafkaJs('listGroups', v).request())
      expect(decoded).toEqual({ statesFilter: [] })
    })

    it(`v${v} response`, async () => {
      const decoded = await decodeWithKafkaJs(ListGroups, v, kafkaJs('listGroups', v).response, {
        throttleTimeMs: 4,
        errorCode: 0,
        groups: [
          { groupId: 'group-1', protocolType: 'consumer' },
          { groupId: 'connect', protocolType: 'connect' },
        ],
      })
      expect(decoded).toEqual({
        ...(v >= 1 ? throttle(v, 2, 4) : {}),
        errorCode: 0,
        groups: [
          { groupId: 'group-1', protocolType: 'consumer' },
          { groupId: 'connect', protocolType: 'connect' },
        ],
      })
    })
  }
})

describe('CreateTopics agrees with KafkaJS', () => {
  for (const v of versions(0, 3)) {
    it(`v${v} request`, async () => {
      const decoded = await decodeKafkaJsRequest(
        CreateTopics,
        v,
        kafkaJs('createTopics', v).request({
          topics: [
            {
              topic: 'compacted',
              numPartitions: 3,
              replicationFactor: 1,
              configEntries: [
                { name: 'cleanup.policy', value: 'compact' },
                { name: 'retention.ms', value: null },
              ],
            },
            {
              topic: 'placed',
              replicaAssignment: [
                { partition: 0, replicas: [1, 2] },
                { partition: 1, replicas: [2, 3] },
              ],
            },
          ],
          timeout: 5000,
          validateOnly: true,
        }),
      )
      expect(decoded).toEqual({
        topics: [
          {
            name: 'compacted',
            numPartitions: 3,
            replicationFactor: 1,
            assignments: [],
            configs: [
              { name: 'cleanup.policy', value: 'compact' },
              { name: 'retention.ms', value: null },
            ],
          },
          {
            name: 'placed',
            numPartitions: -1,
            replicationFactor: -1,
            assignments: [
              { partitionIndex: 0, brokerIds: [1, 2] },
              { partitionIndex: 1, brokerIds: [2, 3] },
            ],
            configs: [],
          },
        ],
        timeoutMs: 5000,
        validateOnly: v >= 1,
      })
    })

    it(`v${v} response`, async () => {
      const decoded = await decodeWithKafkaJs(CreateTopics, v, kafkaJs('createTopics', v).response, {
        throttleTimeMs: 5,
        topics: [
          { name: 'placed', errorCode: 0, errorMessage: null },
          { name: 'compacted', errorCode: 0, errorMessage: null },
        ],
      })
      // KafkaJS sorts the results by topic name.
      const result = (topic: string) => ({ topic, errorCode: 0, ...(v >= 1 ? { errorMessage: null } : {}) })
      expect(decoded).toEqual({
        ...(v >= 2 ? throttle(v, 3, 5) : {}),
        topicErrors: [result('compacted'), result('placed')],
      })
    })
  }
})

describe('DeleteTopics agrees with KafkaJS', () => {
  for (const v of versions(0, 1)) {
    it(`v${v} request`, async () => {
      const decoded = await decodeKafkaJsRequest(
        DeleteTopics,
        v,
        kafkaJs('deleteTopics', v).request({ topics: ['orders', 'payments'], timeout: 5000 }),
      )
      expect(decoded).toEqual({ topicNames: ['orders', 'payments'], timeoutMs: 5000 })
    })

    it(`v${v} response`, async () => {
      const decoded = await decodeWithKafkaJs(DeleteTopics, v, kafkaJs('deleteTopics', v).response, {
        throttleTimeMs: 2,
        responses: [
          { name: 'payments', errorCode: 0 },
          { name: 'orders', errorCode: 0 },
        ],
      })
      expect(decoded).toEqual({
        ...(v >= 1 ? throttle(v, 1, 2) : {}),
        topicErrors: [
          { topic: 'orders', errorCode: 0 },
          { topic: 'payments', errorCode: 0 },
        ],
      })
    })
  }
})

describe('CreatePartitions agrees with KafkaJS', () => {
  for (const v of versions(0, 1)) {
    it(`v${v} request`, async () => {
      const decoded = await decodeKafkaJsRequest(
        CreatePartitions,
        v,
        kafkaJs('createPartitions', v).request({
          topicPartitions: [
            {
              topic: 'orders',
              count: 6,
              assignments: [
                [1, 2],
                [2, 3],
              ],
            },
            { topic: 'payments', count: 4 },
          ],
          timeout: 5000,
          validateOnly: true,
        }),
      )
      expect(decoded).toEqual({
        topics: [
          { name: 'orders', count: 6, assignments: [{ brokerIds: [1, 2] }, { brokerIds: [2, 3] }] },
          // KafkaJS sends "no assignments" as a null array: the controller places the partitions.
          { name: 'payments', count: 4, assignments: null },
        ],
        timeoutMs: 5000,
        validateOnly: true,
      })
    })

    it(`v${v} response`, async () => {
      const decoded = await decodeWithKafkaJs(CreatePartitions, v, kafkaJs('createPartitions', v).response, {
        throttleTimeMs: 3,
        results: [
          { name: 'payments', errorCode: 0, errorMessage: null },
          { name: 'orders', errorCode: 0, errorMessage: null },
        ],
      })
      expect(decoded).toEqual({
        ...throttle(v, 1, 3),
        topicErrors: [
          { topic: 'orders', errorCode: 0, errorMessage: null },
          { topic: 'payments', errorCode: 0, errorMessage: null },
        ],
      })
    })
  }
})

describe('InitProducerId agrees with KafkaJS', () => {
  for (const v of versions(0, 1)) {
    for (const transactionalId of ['tx-1', null]) {
      it(`v${v} request (transactionalId ${String(transactionalId)})`, async () => {
        const decoded = await decodeKafkaJsRequest(
          InitProducerId,
          v,
          kafkaJs('initProducerId', v).request({ transactionalId, transactionTimeout: 60_000 }),
        )
        expect(decoded).toEqual({ transactionalId, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 })
      })
    }

    it(`v${v} response`, async () => {
      const decoded = await decodeWithKafkaJs(InitProducerId, v, kafkaJs('initProducerId', v).response, {
        throttleTimeMs: 1,
        errorCode: 0,
        producerId: 1000,
        producerEpoch: 2,
      })
      expect(decoded).toEqual({ ...throttle(v, 1, 1), errorCode: 0, producerId: '1000', producerEpoch: 2 })
    })
  }
})

describe('AddPartitionsToTxn agrees with KafkaJS', () => {
  for (const v of versions(0, 1)) {
    it(`v${v} request`, async () => {
      const decoded = await decodeKafkaJsRequest(
        AddPartitionsToTxn,
        v,
        kafkaJs('addPartitionsToTxn', v).request({
          transactionalId: 'tx-1',
          producerId: 4000,
          producerEpoch: 3,
          topics: [
            { topic: 'orders', partitions: [0, 2] },
            { topic: 'audit', partitions: [1] },
          ],
        }),
      )
      expect(decoded).toEqual({
        transactionalId: 'tx-1',
        producerId: 4000,
        producerEpoch: 3,
        topics: [
          { name: 'orders', partitions: [0, 2] },
          { name: 'audit', partitions: [1] },
        ],
      })
    })

    it(`v${v} response`, async () => {
      const decoded = await decodeWithKafkaJs(AddPartitionsToTxn, v, kafkaJs('addPartitionsToTxn', v).response, {
        throttleTimeMs: 4,
        resultsByTopic: [
          {
            name: 'orders',
            resultsByPartition: [
              { partitionIndex: 0, partitionErrorCode: 0 },
              { partitionIndex: 2, partitionErrorCode: 0 },
            ],
          },
        ],
      })
      expect(decoded).toEqual({
        ...throttle(v, 1, 4),
        errors: [
          {
            topic: 'orders',
            partitionErrors: [
              { partition: 0, errorCode: 0 },
              { partition: 2, errorCode: 0 },
            ],
          },
        ],
      })
    })
  }

  it('a per-partition error becomes the KafkaJS error of that code', async () => {
    const { response } = kafkaJs('addPartitionsToTxn', 1)
    const bytes = encodeResponse(AddPartitionsToTxn, 1, {
      throttleTimeMs: 0,
      resultsByTopic: [{ name: 'orders', resultsByPartition: [{ partitionIndex: 0, partitionErrorCode: 47 }] }],
    })
    await expect(response.parse!(await response.decode(bytes))).rejects.toMatchObject({
      type: 'INVALID_PRODUCER_EPOCH',
    })
  })
})

describe('AddOffsetsToTxn agrees with KafkaJS', () => {
  for (const v of versions(0, 1)) {
    it(`v${v} request`, async () => {
      const decoded = await decodeKafkaJsRequest(
        AddOffsetsToTxn,
        v,
        kafkaJs('addOffsetsToTxn', v).request({
          transactionalId: 'tx-1',
          producerId: 4000,
          producerEpoch: 3,
          groupId: 'group-1',
        }),
      )
      expect(decoded).toEqual({ transactionalId: 'tx-1', producerId: 4000, producerEpoch: 3, groupId: 'group-1' })
    })

    it(`v${v} response`, async () => {
      const decoded = await decodeWithKafkaJs(AddOffsetsToTxn, v, kafkaJs('addOffsetsToTxn', v).response, {
        throttleTimeMs: 2,
        errorCode: 0,
      })
      expect(decoded).toEqual({ ...throttle(v, 1, 2), errorCode: 0 })
    })
  }
})

describe('EndTxn agrees with KafkaJS', () => {
  for (const v of versions(0, 1)) {
    for (const transactionResult of [true, false]) {
      it(`v${v} request (${transactionResult ? 'commit' : 'abort'})`, async () => {
        const decoded = await decodeKafkaJsRequest(
          EndTxn,
          v,
          kafkaJs('endTxn', v).request({
            transactionalId: 'tx-1',
            producerId: 4000,
            producerEpoch: 3,
            transactionResult,
          }),
        )
        expect(decoded).toEqual({
          transactionalId: 'tx-1',
          producerId: 4000,
          producerEpoch: 3,
          committed: transactionResult,
        })
      })
    }

    it(`v${v} response`, async () => {
      const decoded = await decodeWithKafkaJs(EndTxn, v, kafkaJs('endTxn', v).response, {
        throttleTimeMs: 3,
        errorCode: 0,
      })
      expect(decoded).toEqual({ ...throttle(v, 1, 3), errorCode: 0 })
    })
  }
})

describe('TxnOffsetCommit agrees with KafkaJS', () => {
  for (const v of versions(0, 1)) {
    it(`v${v} request`, async () => {
      const decoded = await decodeKafkaJsRequest(
        TxnOffsetCommit,
        v,
        kafkaJs('txnOffsetCommit', v).request({
          transactionalId: 'tx-1',
          groupId: 'group-1',
          producerId: 4000,
          producerEpoch: 3,
          topics: [
            {
              topic: 'orders',
              partitions: [
                { partition: 0, offset: '42', metadata: 'm' },
                { partition: 1, offset: '7', metadata: null },
              ],
            },
          ],
        }),
      )
      expect(decoded).toEqual({
        transactionalId: 'tx-1',
        groupId: 'group-1',
        producerId: 4000,
        producerEpoch: 3,
        generationId: -1,
        memberId: '',
        groupInstanceId: null,
        topics: [
          {
            name: 'orders',
            partitions: [
              { partitionIndex: 0, committedOffset: 42, committedLeaderEpoch: -1, committedMetadata: 'm' },
              { partitionIndex: 1, committedOffset: 7, committedLeaderEpoch: -1, committedMetadata: null },
            ],
          },
        ],
      })
    })

    it(`v${v} response`, async () => {
      const decoded = await decodeWithKafkaJs(TxnOffsetCommit, v, kafkaJs('txnOffsetCommit', v).response, {
        throttleTimeMs: 5,
        topics: [
          {
            name: 'orders',
            partitions: [
              { partitionIndex: 0, errorCode: 0 },
              { partitionIndex: 1, errorCode: 0 },
            ],
          },
        ],
      })
      expect(decoded).toEqual({
        ...throttle(v, 1, 5),
        topics: [
          {
            topic: 'orders',
            partitions: [
              { partition: 0, errorCode: 0 },
              { partition: 1, errorCode: 0 },
            ],
          },
        ],
      })
    })
  }
})

describe('SaslHandshake agrees with KafkaJS', () => {
  for (const v of versions(0, 1)) {
    it(`v${v} request`, async () => {
      const request = kafkaJs('saslHandshake', v).request({ mechanism: 'SCRAM-SHA-512' })
      expect(await decodeKafkaJsRequest(SaslHandshake, v, request)).toEqual({ mechanism: 'SCRAM-SHA-512' })
    })

    it(`v${v} response`, async () => {
      const decoded = await decodeWithKafkaJs(SaslHandshake, v, kafkaJs('saslHandshake', v).response, {
        errorCode: 0,
        mechanisms: ['PLAIN', 'SCRAM-SHA-512'],
      })
      expect(decoded).toEqual({ errorCode: 0, enabledMechanisms: ['PLAIN', 'SCRAM-SHA-512'] })
    })
  }
})

describe('SaslAuthenticate agrees with KafkaJS', () => {
  const clientFirst = Buffer.from('n,,n=alice,r=abc')
  for (const v of versions(0, 1)) {
    it(`v${v} request`, async () => {
      // KafkaJS's mechanisms hand SaslAuthenticate their message already size-prefixed, as BYTES.
      const authBytes = Buffer.concat([Buffer.from([0, 0, 0, clientFirst.length]), clientFirst])
      const decoded = await decodeKafkaJsRequest(
        SaslAuthenticate,
        v,
        kafkaJs('saslAuthenticate', v).request({ authBytes }),
      )
      expect(decoded).toEqual({ authBytes: clientFirst })
    })

    it(`v${v} response`, async () => {
      const decoded = await decodeWithKafkaJs(SaslAuthenticate, v, kafkaJs('saslAuthenticate', v).response, {
        errorCode: 0,
        errorMessage: null,
        authBytes: Buffer.from('r=abcdef,s=c2FsdA==,i=4096'),
        sessionLifetimeMs: 0,
      })
      expect(decoded).toMatchObject({ errorCode: 0, errorMessage: null, ...(v >= 1 ? { sessionLifetimeMs: '0' } : {}) })
      expect((decoded as { authBytes: Buffer }).authBytes.subarray(4).toString()).toBe('r=abcdef,s=c2FsdA==,i=4096')
    })
  }
})

describe('ApiVersions agrees with KafkaJS', () => {
  for (const v of versions(0, 2)) {
    it(`v${v} request`, async () => {
      const decoded = await decodeKafkaJsRequest(ApiVersions, v, kafkaJs('apiVersions', v).request())
      expect(decoded).toEqual({ clientSoftwareName: '', clientSoftwareVersion: '' })
    })

    it(`v${v} response`, async () => {
      const apiKeys = ALL_APIS.map((api) => ({
        apiKey: api.key,
        minVersion: api.minVersion,
        maxVersion: api.maxVersion,
      }))
      const decoded = await decodeWithKafkaJs(ApiVersions, v, kafkaJs('apiVersions', v).response, {
        errorCode: 0,
        apiKeys,
        throttleTimeMs: 0,
      })
      expect(decoded).toEqual({ errorCode: 0, apiVersions: apiKeys, ...(v >= 1 ? throttle(v, 2, 0) : {}) })
    })
  }
})

// ---------------------------------------------------------------------------------------------
// Our own encoding, every supported version (flexible ones included)
// ---------------------------------------------------------------------------------------------

/**
 * One value per API with every field set (to non-defaults where the field exists at the newest
 * version we support, to its default where it does not), so that at the newest version the decoded
 * value must equal the sample exactly.
 */
const bytesA = Buffer.from('metadata-bytes')
const bytesB = Buffer.from([1, 2, 3, 4, 5])
const uuidA = Buffer.from('0123456789abcdef')

const SAMPLES: Record<string, { request: object; response: object }> = {
  Produce: {
    request: {
      transactionalId: 'tx',
      acks: -1,
      timeoutMs: 1500,
      topicData: [
        {
          name: 't',
          partitionData: [
            { index: 1, records: bytesB },
            { index: 2, records: null },
          ],
        },
      ],
    },
    response: {
      responses: [
        {
          name: 't',
          partitionResponses: [
            {
              index: 1,
              errorCode: 0,
              baseOffset: 10,
              logAppendTimeMs: MS,
              logStartOffset: 3,
              recordErrors: [{ batchIndex: 2, batchIndexErrorMessage: 'bad record' }],
              errorMessage: 'some records were invalid',
            },
          ],
        },
      ],
      throttleTimeMs: 12,
    },
  },
  Fetch: {
    request: {
      replicaId: 5,
      maxWaitMs: 100,
      minBytes: 2,
      maxBytes: 1000,
      isolationLevel: 1,
      sessionId: 8,
      sessionEpoch: 9,
      topics: [
        {
          topic: 't',
          partitions: [
            {
              partition: 0,
              currentLeaderEpoch: 4,
              fetchOffset: 77,
              lastFetchedEpoch: 3,
              logStartOffset: 2,
              partitionMaxBytes: 512,
            },
          ],
        },
      ],
      forgottenTopicsData: [{ topic: 'gone', partitions: [1, 2] }],
      rackId: 'rack',
    },
    response: {
      throttleTimeMs: 1,
      errorCode: 0,
      sessionId: 8,
      responses: [
        {
          topic: 't',
          partitions: [
            {
              partitionIndex: 0,
              errorCode: 0,
              highWatermark: 100,
              lastStableOffset: 90,
              logStartOffset: 1,
              abortedTransactions: [{ producerId: 5, firstOffset: 60 }],
              preferredReadReplica: 2,
              records: bytesB,
            },
          ],
        },
      ],
    },
  },
  ListOffsets: {
    request: {
      replicaId: -1,
      isolationLevel: 1,
      topics: [{ name: 't', partitions: [{ partitionIndex: 0, currentLeaderEpoch: 3, timestamp: -2 }] }],
    },
    response: {
      throttleTimeMs: 1,
      topics: [
        { name: 't', partitions: [{ partitionIndex: 0, errorCode: 0, timestamp: MS, offset: 5, leaderEpoch: 3 }] },
      ],
    },
  },
  Metadata: {
    request: {
      topics: [{ topicId: uuidA, name: 't' }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: true,
    },
    response: {
      throttleTimeMs: 2,
      brokers: [{ nodeId: 1, host: 'h', port: 9092, rack: 'r' }],
      clusterId: 'c',
      controllerId: 1,
      topics: [
        {
          errorCode: 0,
          name: 't',
          topicId: uuidA,
          isInternal: true,
          partitions: [
            {
              errorCode: 0,
              partitionIndex: 0,
              leaderId: 1,
              leaderEpoch: 6,
              replicaNodes: [1, 2],
              isrNodes: [1],
              offlineReplicas: [2],
            },
          ],
          topicAuthorizedOperations: 248,
        },
      ],
      clusterAuthorizedOperations: -2147483648,
    },
  },
  OffsetCommit: {
    request: {
      groupId: 'g',
      generationIdOrMemberEpoch: 3,
      memberId: 'm',
      groupInstanceId: 'i',
      retentionTimeMs: -1,
      topics: [
        {
          name: 't',
          partitions: [{ partitionIndex: 0, committedOffset: 5, committedLeaderEpoch: 2, committedMetadata: 'x' }],
        },
      ],
    },
    response: { throttleTimeMs: 1, topics: [{ name: 't', partitions: [{ partitionIndex: 0, errorCode: 0 }] }] },
  },
  OffsetFetch: {
    request: { groupId: 'g', topics: [{ name: 't', partitionIndexes: [0, 1] }], requireStable: true },
    response: {
      throttleTimeMs: 1,
      topics: [
        {
          name: 't',
          partitions: [{ partitionIndex: 0, committedOffset: 5, committedLeaderEpoch: 2, metadata: 'x', errorCode: 0 }],
        },
      ],
      errorCode: 0,
    },
  },
  FindCoordinator: {
    request: { key: 'g', keyType: 1 },
    response: { throttleTimeMs: 1, errorCode: 0, errorMessage: 'none', nodeId: 1, host: 'h', port: 9092 },
  },
  JoinGroup: {
    request: {
      groupId: 'g',
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 20_000,
      memberId: 'm',
      groupInstanceId: 'i',
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: bytesA }],
    },
    response: {
      throttleTimeMs: 1,
      errorCode: 0,
      generationId: 2,
      protocolType: 'consumer',
      protocolName: 'range',
      leader: 'm',
      memberId: 'm',
      members: [{ memberId: 'm', groupInstanceId: 'i', metadata: bytesA }],
    },
  },
  Heartbeat: {
    request: { groupId: 'g', generationId: 2, memberId: 'm', groupInstanceId: 'i' },
    response: { throttleTimeMs: 1, errorCode: 27 },
  },
  LeaveGroup: {
    request: { groupId: 'g', memberId: '', members: [{ memberId: 'm', groupInstanceId: 'i' }] },
    response: { throttleTimeMs: 1, errorCode: 0, members: [{ memberId: 'm', groupInstanceId: 'i', errorCode: 0 }] },
  },
  SyncGroup: {
    request: {
      groupId: 'g',
      generationId: 2,
      memberId: 'm',
      groupInstanceId: 'i',
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: [{ memberId: 'm', assignment: bytesB }],
    },
    response: { throttleTimeMs: 1, errorCode: 0, protocolType: 'consumer', protocolName: 'range', assignment: bytesB },
  },
  DescribeGroups: {
    request: { groups: ['g', 'h'], includeAuthorizedOperations: true },
    response: {
      throttleTimeMs: 1,
      groups: [
        {
          errorCode: 0,
          groupId: 'g',
          groupState: 'Stable',
          protocolType: 'consumer',
          protocolData: 'range',
          members: [
            {
              memberId: 'm',
              groupInstanceId: 'i',
              clientId: 'c',
              clientHost: '/127.0.0.1',
              memberMetadata: bytesA,
              memberAssignment: bytesB,
            },
          ],
          authorizedOperations: 8,
        },
      ],
    },
  },
  ListGroups: {
    request: { statesFilter: ['Stable', 'Empty'] },
    response: {
      throttleTimeMs: 1,
      errorCode: 0,
      groups: [{ groupId: 'g', protocolType: 'consumer', groupState: 'Stable' }],
    },
  },
  DeleteGroups: {
    request: { groupsNames: ['g', 'h'] },
    response: {
      throttleTimeMs: 2,
      results: [
        { groupId: 'g', errorCode: 0 },
        { groupId: 'h', errorCode: 69 },
      ],
    },
  },
  SaslHandshake: {
    request: { mechanism: 'SCRAM-SHA-512' },
    response: { errorCode: 33, mechanisms: ['PLAIN', 'SCRAM-SHA-512'] },
  },
  SaslAuthenticate: {
    request: { authBytes: Buffer.from('n,,n=alice,r=nonce') },
    response: {
      errorCode: 58,
      errorMessage: 'Authentication failed',
      authBytes: Buffer.from('v=sig'),
      sessionLifetimeMs: 5,
    },
  },
  ApiVersions: {
    request: { clientSoftwareName: 'embedded-kafka', clientSoftwareVersion: '0.1.0' },
    response: { errorCode: 0, apiKeys: [{ apiKey: 0, minVersion: 3, maxVersion: 9 }], throttleTimeMs: 1 },
  },
  CreateTopics: {
    request: {
      topics: [
        {
          name: 't',
          numPartitions: 3,
          replicationFactor: 2,
          assignments: [{ partitionIndex: 0, brokerIds: [1, 2] }],
          configs: [{ name: 'cleanup.policy', value: 'compact' }],
        },
      ],
      timeoutMs: 1000,
      validateOnly: true,
    },
    response: {
      throttleTimeMs: 1,
      topics: [
        {
          name: 't',
          errorCode: 0,
          errorMessage: 'ok',
          numPartitions: 3,
          replicationFactor: 2,
          configs: [{ name: 'cleanup.policy', value: 'compact', readOnly: false, configSource: 1, isSensitive: false }],
        },
      ],
    },
  },
  DeleteTopics: {
    request: { topicNames: ['t', 'u'], timeoutMs: 1000 },
    response: { throttleTimeMs: 1, responses: [{ name: 't', errorCode: 3 }] },
  },
  InitProducerId: {
    request: { transactionalId: 'tx', transactionTimeoutMs: 60_000, producerId: 7, producerEpoch: 1 },
    response: { throttleTimeMs: 1, errorCode: 0, producerId: 7, producerEpoch: 2 },
  },
  AddPartitionsToTxn: {
    request: { transactionalId: 'tx', producerId: 7, producerEpoch: 2, topics: [{ name: 't', partitions: [0, 3] }] },
    response: {
      throttleTimeMs: 1,
      resultsByTopic: [
        {
          name: 't',
          resultsByPartition: [
            { partitionIndex: 0, partitionErrorCode: 0 },
            { partitionIndex: 3, partitionErrorCode: 55 },
          ],
        },
      ],
    },
  },
  AddOffsetsToTxn: {
    request: { transactionalId: 'tx', producerId: 7, producerEpoch: 2, groupId: 'g' },
    response: { throttleTimeMs: 1, errorCode: 90 },
  },
  EndTxn: {
    request: { transactionalId: 'tx', producerId: 7, producerEpoch: 2, committed: true },
    response: { throttleTimeMs: 1, errorCode: 48 },
  },
  TxnOffsetCommit: {
    request: {
      transactionalId: 'tx',
      groupId: 'g',
      producerId: 7,
      producerEpoch: 2,
      generationId: 3,
      memberId: 'm',
      groupInstanceId: 'i',
      topics: [
        {
          name: 't',
          partitions: [{ partitionIndex: 0, committedOffset: 5, committedLeaderEpoch: 2, committedMetadata: null }],
        },
      ],
    },
    response: { throttleTimeMs: 1, topics: [{ name: 't', partitions: [{ partitionIndex: 0, errorCode: 0 }] }] },
  },
  CreatePartitions: {
    request: {
      topics: [{ name: 't', count: 4, assignments: [{ brokerIds: [1] }] }],
      timeoutMs: 1000,
      validateOnly: false,
    },
    response: { throttleTimeMs: 1, results: [{ name: 't', errorCode: 0, errorMessage: 'fine' }] },
  },
}

function roundTrip(
  type: AnyApi['request'],
  value: object,
  context: CodecContext,
): { bytes: Buffer; decoded: unknown; reencoded: Buffer } {
  const writer = new Writer()
  type.write(writer, value, context)
  const bytes = Buffer.from(writer.view())
  const reader = new Reader(bytes)
  const decoded: unknown = type.read(reader, context)
  expect(reader.remaining).toBe(0)
  const again = new Writer()
  type.write(again, decoded, context)
  return { bytes, decoded, reencoded: Buffer.from(again.view()) }
}

describe('every API round-trips through our own codec at every supported version', () => {
  it('ALL_APIS lists each API once, with sane version ranges', () => {
    expect(new Set(ALL_APIS.map((api) => api.key)).size).toBe(ALL_APIS.length)
    expect(new Set(ALL_APIS.map((api) => api.name)).size).toBe(ALL_APIS.length)
    expect(Object.keys(SAMPLES).sort()).toEqual(ALL_APIS.map((api) => api.name).sort())
    for (const api of ALL_APIS) {
      expect(api.minVersion).toBeLessThanOrEqual(api.maxVersion)
      expect(Number.isInteger(api.flexibleSince) || api.flexibleSince === Infinity).toBe(true)
    }
  })

  for (const api of ALL_APIS) {
    for (const v of versions(api.minVersion, api.maxVersion)) {
      for (const side of ['request', 'response'] as const) {
        it(`${api.name} v${v} ${side}${isFlexible(api, v) ? ' (flexible)' : ''}`, () => {
          const sample = SAMPLES[api.name]![side]
          const { bytes, decoded, reencoded } = roundTrip(api[side], sample, ctx(api, v))
          expect(reencoded.equals(bytes)).toBe(true)
          if (v === api.maxVersion) expect(decoded).toEqual(sample)
          // The classic and compact encodings of one version must carry the same values.
          const other = roundTrip(api[side], sample, ctx(api, v, !isFlexible(api, v)))
          expect(other.decoded).toEqual(decoded)
          expect(other.bytes.equals(bytes)).toBe(false)
        })
      }
    }
  }

  it('omitted fields take their spec defaults', () => {
    const response = roundTrip(
      Metadata.response,
      { brokers: [], topics: [{ name: 't', partitions: [] }] },
      ctx(Metadata, 12),
    )
    expect(response.decoded).toEqual({
      throttleTimeMs: 0,
      brokers: [],
      clusterId: null,
      controllerId: -1,
      topics: [
        {
          errorCode: 0,
          name: 't',
          topicId: NO_UUID,
          isInternal: false,
          partitions: [],
          topicAuthorizedOperations: -2147483648,
        },
      ],
      clusterAuthorizedOperations: -2147483648,
    })
    const produce = roundTrip(
      Produce.response,
      { responses: [{ name: 't', partitionResponses: [{ index: 0, errorCode: 0, baseOffset: 5 }] }] },
      ctx(Produce, 9),
    )
    expect(produce.decoded).toEqual({
      responses: [
        {
          name: 't',
          partitionResponses: [
            {
              index: 0,
              errorCode: 0,
              baseOffset: 5,
              logAppendTimeMs: -1,
              logStartOffset: -1,
              recordErrors: [],
              errorMessage: null,
            },
          ],
        },
      ],
      throttleTimeMs: 0,
    })
    // A request decoded at a version without a field reports the spec default.
    const fetch = roundTrip(Fetch.request, { maxWaitMs: 1, minBytes: 1, topics: [] }, ctx(Fetch, 4))
    expect(fetch.decoded).toMatchObject({
      replicaId: -1,
      maxBytes: 0x7fffffff,
      sessionId: 0,
      sessionEpoch: -1,
      rackId: '',
    })
  })

  it('flexible versions skip tagged fields a client sends', () => {
    // Heartbeat v4 (flexible): compact strings, then a tagged-field section with one unknown tag.
    const writer = new Writer()
    writer.uvarint(2).raw(Buffer.from('g')) // groupId
    writer.int32(5) // generationId
    writer.uvarint(2).raw(Buffer.from('m')) // memberId
    writer.uvarint(0) // groupInstanceId: null
    writer.uvarint(1).uvarint(7).uvarint(3).raw(Buffer.from('xyz')) // one tagged field, tag 7
    const reader = new Reader(Buffer.from(writer.view()))
    expect(Heartbeat.request.read(reader, ctx(Heartbeat, 4))).toEqual({
      groupId: 'g',
      generationId: 5,
      memberId: 'm',
      groupInstanceId: null,
    })
    expect(reader.remaining).toBe(0)
  })
})
