/**
 * Transactions end to end: KafkaJS's transactional producer (producer.transaction()) against the
 * cluster, read back by KafkaJS consumers in read_committed (their default) and read_uncommitted
 * mode, and the protocol's answers to requests that break the rules, sent over a raw connection.
 */
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import type { Consumer, Kafka } from 'kafkajs'
import type { EmbeddedKafka } from '../src/index.js'
import { ErrorCode } from '../src/protocol/error-codes.js'
import { Produce } from '../src/apis/00-produce.js'
import { Fetch } from '../src/apis/01-fetch.js'
import { ListOffsets } from '../src/apis/02-list-offsets.js'
import { OffsetFetch } from '../src/apis/09-offset-fetch.js'
import { FindCoordinator } from '../src/apis/10-find-coordinator.js'
import { ApiVersions } from '../src/apis/18-api-versions.js'
import { InitProducerId } from '../src/apis/22-init-producer-id.js'
import { AddPartitionsToTxn } from '../src/apis/24-add-partitions-to-txn.js'
import { AddOffsetsToTxn } from '../src/apis/25-add-offsets-to-txn.js'
import { EndTxn } from '../src/apis/26-end-txn.js'
import { TxnOffsetCommit } from '../src/apis/28-txn-offset-commit.js'
import {
  connectedAdmin,
  connectedConsumer,
  connectedProducer,
  kafkaFor,
  randomTopic,
  startCluster,
  waitFor,
} from '@kafka-sidecar/test-support'
import { openRaw, type RawClient } from './raw-client.js'

const require = createRequire(import.meta.url)

interface Seen {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly value: string
}

/** Runs `consumer` over `topics` from the beginning, collecting what it hands to eachMessage. */
async function collect(consumer: Consumer, topics: string[]): Promise<Seen[]> {
  const seen: Seen[] = []
  for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      seen.push({ topic, partition, offset: Number(message.offset), value: message.value!.toString() })
    },
  })
  return seen
}

const values = (seen: readonly Seen[]) => seen.map((s) => s.value)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function transactionalProducer(kafka: Kafka, transactionalId: string, transactionTimeout?: number) {
  return connectedProducer(kafka, {
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    ...(transactionTimeout === undefined ? {} : { transactionTimeout }),
  })
}

function readCommittedValues(cluster: EmbeddedKafka, topic: string): Promise<string[]> {
  return cluster
    .records(topic, { isolation: 'read_committed' })
    .then((records) => records.map((r) => r.value!.toString()))
}

describe('transactions with KafkaJS', () => {
  it('commit makes every record of the transaction visible to a read_committed consumer, and only then', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('txn')
    await cluster.createTopic({ topic, partitions: 1 })
    const kafka = kafkaFor(cluster)
    const producer = await transactionalProducer(kafka, 'tx-commit')

    const txn = await producer.transaction()
    await txn.send({ topic, messages: [{ value: 'one' }, { value: 'two' }] })
    await txn.send({ topic, messages: [{ value: 'three' }] })
    expect(await readCommittedValues(cluster, topic)).toEqual([])
    expect(cluster.offsets(topic)[0]).toMatchObject({ highWatermark: 3, lastStableOffset: 0 })
    await txn.commit()

    // One COMMIT marker after the three records: the high watermark counts it, records() does not.
    expect(cluster.offsets(topic)[0]).toMatchObject({ highWatermark: 4, lastStableOffset: 4 })
    const records = await cluster.records(topic)
    expect(records.map((r) => [r.offset, r.value!.toString(), r.transaction])).toEqual([
      [0, 'one', 'committed'],
      [1, 'two', 'committed'],
      [2, 'three', 'committed'],
    ])

    const consumer = await connectedConsumer(kafka, { groupId: randomTopic('group') })
    const seen = await collect(consumer, [topic])
    await waitFor('the committed records', () => seen.length >= 3)
    await sleep(300) // the marker must not surface as a message
    expect(seen.map((s) => [s.offset, s.value])).toEqual([
      [0, 'one'],
      [1, 'two'],
      [2, 'three'],
    ])
  })

  it('abort hides the records from read_committed consumers, while a read_uncommitted consumer sees them', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('txn')
    await cluster.createTopic({ topic, partitions: 1 })
    const kafka = kafkaFor(cluster)
    const producer = await transactionalProducer(kafka, 'tx-abort')

    const first = await producer.transaction()
    await first.send({ topic, messages: [{ value: 'before' }] })
    await first.commit()
    const aborted = await producer.transaction()
    await aborted.send({ topic, messages: [{ value: 'aborted-1' }, { value: 'aborted-2' }] })
    await aborted.send({ topic, messages: [{ value: 'aborted-3' }] })
    await aborted.abort()
    const last = await producer.transaction()
    await last.send({ topic, messages: [{ value: 'after' }] })
    await last.commit()

    const records = await cluster.records(topic)
    expect(records.map((r) => [r.value!.toString(), r.transaction])).toEqual([
      ['before', 'committed'],
      ['aborted-1', 'aborted'],
      ['aborted-2', 'aborted'],
      ['aborted-3', 'aborted'],
      ['after', 'committed'],
    ])
    expect(await readCommittedValues(cluster, topic)).toEqual(['before', 'after'])

    const committedReader = await connectedConsumer(kafka, { groupId: randomTopic('group') })
    const uncommittedReader = await connectedConsumer(kafka, { groupId: randomTopic('group'), readUncommitted: true })
    const committedSeen = await collect(committedReader, [topic])
    const uncommittedSeen = await collect(uncommittedReader, [topic])
    await waitFor('the record after the aborted transaction (read_committed)', () =>
      committedSeen.some((s) => s.value === 'after'),
    )
    await waitFor('the record after the aborted transaction (read_uncommitted)', () =>
      uncommittedSeen.some((s) => s.value === 'after'),
    )
    expect(values(committedSeen)).toEqual(['before', 'after'])
    expect(values(uncommittedSeen)).toEqual(['before', 'aborted-1', 'aborted-2', 'aborted-3', 'after'])
    // Offsets: 0 before, 1 its marker, 2-4 aborted, 5 ABORT marker, 6 after, 7 its marker.
    expect(committedSeen.map((s) => s.offset)).toEqual([0, 6])
  })

  it('an open transaction holds read_committed consumers at the last stable offset until it commits', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('txn')
    await cluster.createTopic({ topic, partitions: 1 })
    const kafka = kafkaFor(cluster)
    const plain = await connectedProducer(kafka)
    const producer = await transactionalProducer(kafka, 'tx-open')

    await plain.send({ topic, messages: [{ value: 'before' }] })
    const txn = await producer.transaction()
    await txn.send({ topic, messages: [{ value: 'inside' }] })
    // Not part of the transaction, but behind it: read_committed consumers must wait for it too.
    await plain.send({ topic, messages: [{ value: 'behind' }] })
    expect(cluster.offsets(topic)[0]).toMatchObject({ highWatermark: 3, lastStableOffset: 1 })

    // KafkaJS's admin lists offsets read_committed: "latest" is the last stable offset.
    const admin = await connectedAdmin(kafka)
    expect(await admin.fetchTopicOffsets(topic)).toEqual([{ partition: 0, offset: '1', high: '1', low: '0' }])

    const committedReader = await connectedConsumer(kafka, { groupId: randomTopic('group') })
    const uncommittedReader = await connectedConsumer(kafka, { groupId: randomTopic('group'), readUncommitted: true })
    const committedSeen = await collect(committedReader, [topic])
    const uncommittedSeen = await collect(uncommittedReader, [topic])
    await waitFor('the record before the transaction', () => committedSeen.length >= 1)
    await waitFor('everything, read_uncommitted', () => uncommittedSeen.length >= 3)
    await sleep(500) // several fetch rounds (maxWaitTimeInMs 100): still held at offset 1
    expect(values(committedSeen)).toEqual(['before'])
    expect(values(uncommittedSeen)).toEqual(['before', 'inside', 'behind'])

    await txn.commit()
    await waitFor('the records released by the commit', () => committedSeen.length >= 3)
    expect(committedSeen.map((s) => [s.offset, s.value])).toEqual([
      [0, 'before'],
      [1, 'inside'],
      [2, 'behind'],
    ])
    expect(await admin.fetchTopicOffsets(topic)).toEqual([{ partition: 0, offset: '4', high: '4', low: '0' }])
  })

  it('transaction.sendOffsets commits the group offsets on commit, and drops them on abort', async () => {
    const cluster = await startCluster()
    const input = randomTopic('in')
    const output = randomTopic('out')
    await cluster.createTopic({ topic: input, partitions: 2 })
    await cluster.createTopic({ topic: output, partitions: 1 })
    const kafka = kafkaFor(cluster)
    const groupId = randomTopic('group')
    const producer = await transactionalProducer(kafka, 'tx-offsets')
    const admin = await connectedAdmin(kafka)
    const committed = async () =>
      (await admin.fetchOffsets({ groupId, topics: [input] }))[0]!.partitions.map((p) => [p.partition, p.offset])

    const txn = await producer.transaction()
    await txn.send({ topic: output, messages: [{ value: 'derived-1' }] })
    await txn.sendOffsets({
      consumerGroupId: groupId,
      topics: [
        {
          topic: input,
          partitions: [
            { partition: 0, offset: '5' },
            { partition: 1, offset: '3' },
          ],
        },
      ],
    })
    // Pending: neither the group nor a client sees them before the commit.
    expect(cluster.committedOffset(groupId, input, 0)).toBeUndefined()
    expect(await committed()).toEqual([
      [0, '-1'],
      [1, '-1'],
    ])
    expect(cluster.transactions()).toEqual([
      expect.objectContaining({
        transactionalId: 'tx-offsets',
        state: 'Ongoing',
        partitions: [`${output}-0`],
        groups: [groupId],
      }),
    ])
    await txn.commit()
    expect(await committed()).toEqual([
      [0, '5'],
      [1, '3'],
    ])

    const aborted = await producer.transaction()
    await aborted.send({ topic: output, messages: [{ value: 'derived-2' }] })
    await aborted.sendOffsets({
      consumerGroupId: groupId,
      topics: [{ topic: input, partitions: [{ partition: 0, offset: '9' }] }],
    })
    await aborted.abort()
    expect(await committed()).toEqual([
      [0, '5'],
      [1, '3'],
    ])
    expect(cluster.committedOffset(groupId, input, 0)).toBe(5)
    expect(await readCommittedValues(cluster, output)).toEqual(['derived-1'])
  })

  it('a second producer with the same transactional id fences the first, whose open transaction is aborted', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('txn')
    await cluster.createTopic({ topic, partitions: 2 })
    const kafka = kafkaFor(cluster)
    const zombie = await transactionalProducer(kafka, 'tx-fenced')
    const zombieTxn = await zombie.transaction()
    await zombieTxn.send({ topic, messages: [{ partition: 0, value: 'zombie' }] })
    const [before] = cluster.transactions()
    expect(before).toMatchObject({ producerEpoch: 0, state: 'Ongoing' })

    const successor = await transactionalProducer(kafka, 'tx-fenced')
    const txn = await successor.transaction()
    // The successor's InitProducerId aborted the zombie's transaction and bumped the epoch.
    expect(cluster.transactions()).toEqual([
      expect.objectContaining({ producerId: before!.producerId, producerEpoch: 1, state: 'Empty' }),
    ])
    expect((await cluster.records(topic)).map((r) => [r.value!.toString(), r.transaction])).toEqual([
      ['zombie', 'aborted'],
    ])
    await txn.send({ topic, messages: [{ partition: 0, value: 'fresh' }] })
    await txn.commit()

    // Every further step of the zombie fails with the error KafkaJS documents for fencing.
    const fenced = { name: 'KafkaJSProtocolError', type: 'INVALID_PRODUCER_EPOCH', retriable: false }
    await expect(zombieTxn.send({ topic, messages: [{ partition: 0, value: 'late' }] })).rejects.toMatchObject(fenced) // Produce
    await expect(zombieTxn.send({ topic, messages: [{ partition: 1, value: 'late' }] })).rejects.toMatchObject(fenced) // AddPartitionsToTxn
    await expect(zombieTxn.commit()).rejects.toMatchObject(fenced) // EndTxn

    expect((await cluster.records(topic)).map((r) => [r.partition, r.value!.toString(), r.transaction])).toEqual([
      [0, 'zombie', 'aborted'],
      [0, 'fresh', 'committed'],
    ])
    expect(await readCommittedValues(cluster, topic)).toEqual(['fresh'])
  })

  it('the coordinator aborts a transaction that outlives its timeout and fences its producer', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('txn')
    await cluster.createTopic({ topic, partitions: 1 })
    const kafka = kafkaFor(cluster)
    const producer = await transactionalProducer(kafka, 'tx-timeout', 300)
    const txn = await producer.transaction()
    const started = Date.now()
    await txn.send({ topic, messages: [{ value: 'slow-1' }, { value: 'slow-2' }] })
    expect(cluster.transactions()[0]).toMatchObject({ state: 'Ongoing', timeoutMs: 300 })
    expect(cluster.offsets(topic)[0]).toMatchObject({ highWatermark: 2, lastStableOffset: 0 })

    await waitFor('the timeout abort', () => cluster.transactions()[0]!.state === 'CompleteAbort', 5_000)
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)
    expect(cluster.transactions()[0]).toMatchObject({ producerEpoch: 1, partitions: [], groups: [] })
    expect(cluster.offsets(topic)[0]).toMatchObject({ highWatermark: 3, lastStableOffset: 3 })
    expect((await cluster.records(topic)).map((r) => r.transaction)).toEqual(['aborted', 'aborted'])
    await expect(txn.commit()).rejects.toMatchObject({ type: 'INVALID_PRODUCER_EPOCH' })

    const consumer = await connectedConsumer(kafka, { groupId: randomTopic('group') })
    const plain = await connectedProducer(kafka)
    const seen = await collect(consumer, [topic])
    await plain.send({ topic, messages: [{ value: 'after-timeout' }] })
    await waitFor('the record after the aborted transaction', () => seen.length >= 1)
    await sleep(200)
    expect(values(seen)).toEqual(['after-timeout'])
  })

  it('one transaction spans several partitions of several topics, with a marker on each', async () => {
    const cluster = await startCluster({ brokers: 3 })
    const orders = randomTopic('orders')
    const audit = randomTopic('audit')
    await cluster.createTopic({ topic: orders, partitions: 3 })
    await cluster.createTopic({ topic: audit, partitions: 2 })
    const kafka = kafkaFor(cluster)
    const producer = await transactionalProducer(kafka, 'tx-multi')

    const txn = await producer.transaction()
    await txn.sendBatch({
      topicMessages: [
        {
          topic: orders,
          messages: [0, 1, 2].flatMap((p) => [
            { partition: p, value: `o${p}a` },
            { partition: p, value: `o${p}b` },
          ]),
        },
        {
          topic: audit,
          messages: [
            { partition: 0, value: 'a0' },
            { partition: 1, value: 'a1' },
          ],
        },
      ],
    })
    expect(cluster.transactions()[0]!.partitions.slice().sort()).toEqual(
      [`${audit}-0`, `${audit}-1`, `${orders}-0`, `${orders}-1`, `${orders}-2`].sort(),
    )
    expect(cluster.offsets(orders).map((o) => o.lastStableOffset)).toEqual([0, 0, 0])
    expect(cluster.offsets(audit).map((o) => o.lastStableOffset)).toEqual([0, 0])

    const consumer = await connectedConsumer(kafka, { groupId: randomTopic('group') })
    const seen = await collect(consumer, [orders, audit])
    await sleep(400)
    expect(seen).toEqual([])

    await txn.commit()
    expect(cluster.offsets(orders).map((o) => [o.highWatermark, o.lastStableOffset])).toEqual([
      [3, 3],
      [3, 3],
      [3, 3],
    ])
    expect(cluster.offsets(audit).map((o) => [o.highWatermark, o.lastStableOffset])).toEqual([
      [2, 2],
      [2, 2],
    ])
    await waitFor('all eight records', () => seen.length >= 8)
    await sleep(200)
    const sorted = seen
      .map((s) => `${s.topic === orders ? 'orders' : 'audit'}:${s.partition}:${s.offset}:${s.value}`)
      .sort()
    expect(sorted).toEqual([
      'audit:0:0:a0',
      'audit:1:0:a1',
      'orders:0:0:o0a',
      'orders:0:1:o0b',
      'orders:1:0:o1a',
      'orders:1:1:o1b',
      'orders:2:0:o2a',
      'orders:2:1:o2b',
    ])
  })
})

// ---------------------------------------------------------------------------------------------
// The protocol, request by request
// ---------------------------------------------------------------------------------------------

const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (args: object) => Promise<{ buffer: Buffer }>
}
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (args: object) => unknown

/** A batch as KafkaJS's transactional producer encodes it. */
async function batchOf(
  values: string[],
  producerId: number,
  producerEpoch: number,
  firstSequence: number,
  transactional = true,
  timestamp = Date.now(),
): Promise<Buffer> {
  const batch = await RecordBatch({
    firstTimestamp: timestamp,
    maxTimestamp: timestamp,
    records: values.map((value, offsetDelta) => Record({ offsetDelta, key: null, value: Buffer.from(value) })),
    lastOffsetDelta: values.length - 1,
    producerId,
    producerEpoch,
    firstSequence,
    transactional,
  })
  return Buffer.from(batch.buffer)
}

/** A one-broker cluster (so broker 1 leads and coordinates everything), a topic and a raw connection. */
async function rawSetup(partitions = 2): Promise<{ cluster: EmbeddedKafka; topic: string; client: RawClient }> {
  const cluster = await startCluster({ brokers: 1 })
  const topic = randomTopic('raw')
  await cluster.createTopic({ topic, partitions })
  const broker = cluster.brokers()[0]!
  return { cluster, topic, client: await openRaw({ host: broker.host, port: broker.port }) }
}

async function initTransactional(client: RawClient, transactionalId: string, transactionTimeoutMs = 60_000) {
  const answer = await client.roundTrip(InitProducerId, 1, { transactionalId, transactionTimeoutMs })
  expect(answer.errorCode).toBe(ErrorCode.NONE)
  return { producerId: answer.producerId, producerEpoch: answer.producerEpoch }
}

async function produce(
  client: RawClient,
  transactionalId: string | null,
  topic: string,
  partition: number,
  records: Buffer,
) {
  const answer = await client.roundTrip(Produce, 7, {
    transactionalId,
    acks: -1,
    timeoutMs: 5_000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  })
  return answer.responses[0]!.partitionResponses[0]!
}

function partitionErrors(answer: {
  resultsByTopic: Array<{
    name: string
    resultsByPartition: Array<{ partitionIndex: number; partitionErrorCode: number }>
  }>
}) {
  return answer.resultsByTopic.flatMap((t) =>
    t.resultsByPartition.map((p) => [t.name, p.partitionIndex, p.partitionErrorCode]),
  )
}

describe('transaction protocol errors', () => {
  it('advertises the transaction APIs in ApiVersions', async () => {
    const { client } = await rawSetup()
    const { apiKeys } = await client.roundTrip(ApiVersions, 2, {})
    for (const api of [AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit]) {
      expect(apiKeys).toContainEqual({ apiKey: api.key, minVersion: 0, maxVersion: 3 })
    }
  })

  it('refuses transactional batches to a partition not added, from a stale epoch, or without a transactional id', async () => {
    const { cluster, topic, client } = await rawSetup()
    const { producerId, producerEpoch } = await initTransactional(client, 'tx-raw-produce')
    // Before AddPartitionsToTxn: INVALID_TXN_STATE, and nothing is written.
    expect(
      await produce(client, 'tx-raw-produce', topic, 0, await batchOf(['x'], producerId, producerEpoch, 0)),
    ).toMatchObject({
      errorCode: ErrorCode.INVALID_TXN_STATE,
      baseOffset: -1,
    })
    const added = await client.roundTrip(AddPartitionsToTxn, 1, {
      transactionalId: 'tx-raw-produce',
      producerId,
      producerEpoch,
      topics: [{ name: topic, partitions: [0] }],
    })
    expect(partitionErrors(added)).toEqual([[topic, 0, ErrorCode.NONE]])
    expect(
      await produce(client, 'tx-raw-produce', topic, 0, await batchOf(['a'], producerId, producerEpoch, 0)),
    ).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0 })
    // Partition 1 was not added to this transaction.
    expect(
      await produce(client, 'tx-raw-produce', topic, 1, await batchOf(['b'], producerId, producerEpoch, 0)),
    ).toMatchObject({ errorCode: ErrorCode.INVALID_TXN_STATE })
    // Not the current epoch.
    expect(
      await produce(client, 'tx-raw-produce', topic, 0, await batchOf(['c'], producerId, producerEpoch + 1, 0)),
    ).toMatchObject({ errorCode: ErrorCode.INVALID_PRODUCER_EPOCH })
    // Not the producer id of this transactional id.
    expect(
      await produce(client, 'tx-raw-produce', topic, 0, await batchOf(['d'], producerId + 100, producerEpoch, 0)),
    ).toMatchObject({ errorCode: ErrorCode.INVALID_PRODUCER_ID_MAPPING })
    // A transactional batch in a request without a transactional id.
    expect(await produce(client, null, topic, 0, await batchOf(['e'], producerId, producerEpoch, 1))).toMatchObject({
      errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    })
    // The same producer id writing outside its open transaction, on a partition where it is open.
    expect(
      await produce(client, null, topic, 0, await batchOf(['f'], producerId, producerEpoch, 1, false)),
    ).toMatchObject({ errorCode: ErrorCode.INVALID_TXN_STATE })
    expect((await cluster.records(topic)).map((r) => [r.partition, r.value!.toString(), r.transaction])).toEqual([
      [0, 'a', 'open'],
    ])
  })

  it('answers EndTxn with no open transaction INVALID_TXN_STATE, a retried end NONE, and an unknown id INVALID_PRODUCER_ID_MAPPING', async () => {
    const { topic, client } = await rawSetup()
    const { producerId, producerEpoch } = await initTransactional(client, 'tx-raw-end')
    const end = (committed: boolean, id = 'tx-raw-end', epoch = producerEpoch) =>
      client
        .roundTrip(EndTxn, 1, { transactionalId: id, producerId, producerEpoch: epoch, committed })
        .then((a) => a.errorCode)
    expect(await end(true)).toBe(ErrorCode.INVALID_TXN_STATE)
    expect(await end(false)).toBe(ErrorCode.INVALID_TXN_STATE)
    expect(await end(true, 'tx-never-initialized')).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING)

    await client.roundTrip(AddPartitionsToTxn, 1, {
      transactionalId: 'tx-raw-end',
      producerId,
      producerEpoch,
      topics: [{ name: topic, partitions: [0] }],
    })
    expect(await end(true)).toBe(ErrorCode.NONE)
    expect(await end(true)).toBe(ErrorCode.NONE) // a retry of the commit the client may not have heard about
    expect(await end(false)).toBe(ErrorCode.INVALID_TXN_STATE) // but not the opposite outcome
  })

  it('reports a fenced epoch as INVALID_PRODUCER_EPOCH before v2 and PRODUCER_FENCED from v2 on', async () => {
    const { topic, client } = await rawSetup()
    const first = await initTransactional(client, 'tx-raw-fence')
    const second = await initTransactional(client, 'tx-raw-fence')
    expect(second).toEqual({ producerId: first.producerId, producerEpoch: first.producerEpoch + 1 })
    const stale = { transactionalId: 'tx-raw-fence', producerId: first.producerId, producerEpoch: first.producerEpoch }
    const add = { ...stale, topics: [{ name: topic, partitions: [0] }] }
    expect(partitionErrors(await client.roundTrip(AddPartitionsToTxn, 1, add))).toEqual([
      [topic, 0, ErrorCode.INVALID_PRODUCER_EPOCH],
    ])
    expect(partitionErrors(await client.roundTrip(AddPartitionsToTxn, 3, add))).toEqual([
      [topic, 0, ErrorCode.PRODUCER_FENCED],
    ])
    expect((await client.roundTrip(AddOffsetsToTxn, 0, { ...stale, groupId: 'g' })).errorCode).toBe(
      ErrorCode.INVALID_PRODUCER_EPOCH,
    )
    expect((await client.roundTrip(AddOffsetsToTxn, 2, { ...stale, groupId: 'g' })).errorCode).toBe(
      ErrorCode.PRODUCER_FENCED,
    )
    expect((await client.roundTrip(EndTxn, 1, { ...stale, committed: true })).errorCode).toBe(
      ErrorCode.INVALID_PRODUCER_EPOCH,
    )
    expect((await client.roundTrip(EndTxn, 2, { ...stale, committed: true })).errorCode).toBe(ErrorCode.PRODUCER_FENCED)
    // KIP-360: asking to bump an epoch that is no longer current is refused too (v3 has no PRODUCER_FENCED).
    const bump = await client.roundTrip(InitProducerId, 3, {
      transactionalId: 'tx-raw-fence',
      transactionTimeoutMs: 60_000,
      ...first,
    })
    expect(bump).toMatchObject({ errorCode: ErrorCode.INVALID_PRODUCER_EPOCH, producerId: -1 })
    const rightBump = await client.roundTrip(InitProducerId, 3, {
      transactionalId: 'tx-raw-fence',
      transactionTimeoutMs: 60_000,
      ...second,
    })
    expect(rightBump).toMatchObject({
      errorCode: ErrorCode.NONE,
      producerId: first.producerId,
      producerEpoch: second.producerEpoch + 1,
    })
  })

  it('adds no partition when one does not exist (UNKNOWN_TOPIC_OR_PARTITION, the rest OPERATION_NOT_ATTEMPTED)', async () => {
    const { cluster, topic, client } = await rawSetup()
    const { producerId, producerEpoch } = await initTransactional(client, 'tx-raw-add')
    const answer = await client.roundTrip(AddPartitionsToTxn, 1, {
      transactionalId: 'tx-raw-add',
      producerId,
      producerEpoch,
      topics: [
        { name: topic, partitions: [0, 7] },
        { name: 'no-such-topic', partitions: [0] },
      ],
    })
    expect(partitionErrors(answer)).toEqual([
      [topic, 0, ErrorCode.OPERATION_NOT_ATTEMPTED],
      [topic, 7, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      ['no-such-topic', 0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    ])
    expect(cluster.transactions()[0]).toMatchObject({ state: 'Empty', partitions: [] })
  })

  it('validates InitProducerId: empty transactional id, timeout above transaction.max.timeout.ms', async () => {
    const cluster = await startCluster({ brokers: 1, transactionMaxTimeoutMs: 10_000 })
    const broker = cluster.brokers()[0]!
    const client = await openRaw({ host: broker.host, port: broker.port })
    const init = (transactionalId: string, transactionTimeoutMs: number) =>
      client.roundTrip(InitProducerId, 1, { transactionalId, transactionTimeoutMs })
    expect((await init('', 5_000)).errorCode).toBe(ErrorCode.INVALID_REQUEST)
    expect((await init('tx-raw-timeout', 10_001)).errorCode).toBe(ErrorCode.INVALID_TRANSACTION_TIMEOUT)
    expect((await init('tx-raw-timeout', 0)).errorCode).toBe(ErrorCode.INVALID_TRANSACTION_TIMEOUT)
    expect(await init('tx-raw-timeout', 10_000)).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: 0 })
  })

  it('sends transaction requests to the transactional id coordinator and TxnOffsetCommit to the group coordinator', async () => {
    const cluster = await startCluster({ brokers: 3 })
    const address = (id: number) => {
      const broker = cluster.brokers().find((b) => b.brokerId === id)!
      return { host: broker.host, port: broker.port }
    }
    const any = await openRaw(address(1))
    const transactionalId = 'tx-raw-routing'
    const groupId = 'group-raw-routing'
    const txnCoordinator = await any.roundTrip(FindCoordinator, 2, { key: transactionalId, keyType: 1 })
    const groupCoordinator = await any.roundTrip(FindCoordinator, 2, { key: groupId, keyType: 0 })
    expect(txnCoordinator.errorCode).toBe(ErrorCode.NONE)
    expect((await any.roundTrip(FindCoordinator, 2, { key: transactionalId, keyType: 2 })).errorCode).toBe(
      ErrorCode.INVALID_REQUEST,
    )

    const other = await openRaw(address(cluster.brokers().find((b) => b.brokerId !== txnCoordinator.nodeId)!.brokerId))
    expect(
      (await other.roundTrip(InitProducerId, 1, { transactionalId, transactionTimeoutMs: 60_000 })).errorCode,
    ).toBe(ErrorCode.NOT_COORDINATOR)
    const coordinator = await openRaw(address(txnCoordinator.nodeId))
    const { producerId, producerEpoch } = await initTransactional(coordinator, transactionalId)
    const ids = { transactionalId, producerId, producerEpoch }
    expect((await other.roundTrip(EndTxn, 1, { ...ids, committed: true })).errorCode).toBe(ErrorCode.NOT_COORDINATOR)
    expect((await other.roundTrip(AddOffsetsToTxn, 1, { ...ids, groupId })).errorCode).toBe(ErrorCode.NOT_COORDINATOR)

    const topic = randomTopic('raw')
    await cluster.createTopic({ topic, partitions: 1 })
    const commit = {
      ...ids,
      groupId,
      topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: 11, committedMetadata: null }] }],
    }
    const notGroupCoordinator = await openRaw(
      address(cluster.brokers().find((b) => b.brokerId !== groupCoordinator.nodeId)!.brokerId),
    )
    const groupBroker = await openRaw(address(groupCoordinator.nodeId))
    const commitError = async (client: RawClient) =>
      (await client.roundTrip(TxnOffsetCommit, 1, commit)).topics[0]!.partitions[0]!.errorCode
    expect(await commitError(notGroupCoordinator)).toBe(ErrorCode.NOT_COORDINATOR)
    // The group must have joined the transaction through AddOffsetsToTxn first.
    expect(await commitError(groupBroker)).toBe(ErrorCode.INVALID_TXN_STATE)
    expect((await coordinator.roundTrip(AddOffsetsToTxn, 1, { ...ids, groupId })).errorCode).toBe(ErrorCode.NONE)
    expect(await commitError(groupBroker)).toBe(ErrorCode.NONE)

    // OffsetFetch: the pending offset is invisible; requireStable (v7) says it is unstable.
    const fetchOffsets = (version: number, requireStable: boolean) =>
      groupBroker
        .roundTrip(OffsetFetch, version, { groupId, topics: [{ name: topic, partitionIndexes: [0] }], requireStable })
        .then((a) => a.topics[0]!.partitions[0]!)
    expect(await fetchOffsets(5, false)).toMatchObject({ committedOffset: -1, errorCode: ErrorCode.NONE })
    expect(await fetchOffsets(7, true)).toMatchObject({
      committedOffset: -1,
      errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT,
    })
    expect((await coordinator.roundTrip(EndTxn, 1, { ...ids, committed: true })).errorCode).toBe(ErrorCode.NONE)
    expect(await fetchOffsets(7, true)).toMatchObject({ committedOffset: 11, errorCode: ErrorCode.NONE })
    expect(cluster.committedOffset(groupId, topic, 0)).toBe(11)
  })

  it('Fetch read_committed stops at the last stable offset and lists aborted transactions in range; ListOffsets answers the LSO', async () => {
    const { topic, client } = await rawSetup(1)
    const a = await initTransactional(client, 'tx-raw-fetch-a')
    const b = await initTransactional(client, 'tx-raw-fetch-b')
    const add = (id: string, ids: { producerId: number; producerEpoch: number }) =>
      client.roundTrip(AddPartitionsToTxn, 1, {
        transactionalId: id,
        ...ids,
        topics: [{ name: topic, partitions: [0] }],
      })
    await add('tx-raw-fetch-a', a)
    await add('tx-raw-fetch-b', b)
    await produce(
      client,
      'tx-raw-fetch-a',
      topic,
      0,
      await batchOf(['a1', 'a2'], a.producerId, a.producerEpoch, 0, true, 1_000),
    ) // offsets 0-1
    await produce(
      client,
      'tx-raw-fetch-b',
      topic,
      0,
      await batchOf(['b1'], b.producerId, b.producerEpoch, 0, true, 2_000),
    ) // offset 2
    await client.roundTrip(EndTxn, 1, { transactionalId: 'tx-raw-fetch-a', ...a, committed: false }) // ABORT at 3

    const fetch = async (isolationLevel: number, fetchOffset = 0) => {
      const answer = await client.roundTrip(Fetch, 11, {
        maxWaitMs: 0,
        minBytes: 1,
        isolationLevel,
        topics: [{ topic, partitions: [{ partition: 0, fetchOffset, partitionMaxBytes: 1 << 20 }] }],
      })
      const partition = answer.responses[0]!.partitions[0]!
      const batches: number[] = []
      for (
        let at = 0;
        partition.records && at < partition.records.length;
        at += partition.records.readInt32BE(at + 8) + 12
      ) {
        batches.push(Number(partition.records.readBigInt64BE(at)))
      }
      return { ...partition, records: batches }
    }
    // b's open transaction (from offset 2) holds the LSO: read_committed gets a's batch only, and learns it was aborted.
    expect(await fetch(1)).toMatchObject({
      highWatermark: 4,
      lastStableOffset: 2,
      abortedTransactions: [{ producerId: a.producerId, firstOffset: 0 }],
      records: [0],
    })
    expect(await fetch(0)).toMatchObject({
      highWatermark: 4,
      lastStableOffset: 2,
      abortedTransactions: [],
      records: [0, 2, 3],
    })
    expect(await fetch(1, 2)).toMatchObject({ abortedTransactions: [], records: [] })

    const listOffset = async (isolationLevel: number, timestamp: number) =>
      (
        await client.roundTrip(ListOffsets, 5, {
          replicaId: -1,
          isolationLevel,
          topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp }] }],
        })
      ).topics[0]!.partitions[0]!.offset
    const latest = (isolationLevel: number) => listOffset(isolationLevel, -1)
    expect(await latest(1)).toBe(2)
    expect(await latest(0)).toBe(4)
    // By timestamp: b's batch (2000) is past the LSO, so read_committed finds nothing yet.
    expect(await listOffset(0, 1_500)).toBe(2)
    expect(await listOffset(1, 1_500)).toBe(-1)
    expect(await listOffset(1, 500)).toBe(0)

    await client.roundTrip(EndTxn, 1, { transactionalId: 'tx-raw-fetch-b', ...b, committed: true }) // COMMIT at 4
    expect(await fetch(1)).toMatchObject({
      highWatermark: 5,
      lastStableOffset: 5,
      abortedTransactions: [{ producerId: a.producerId, firstOffset: 0 }],
      records: [0, 2, 3, 4],
    })
    // A fetch past the aborted transaction's marker no longer lists it.
    expect(await fetch(1, 4)).toMatchObject({ abortedTransactions: [], records: [4] })
    expect(await latest(1)).toBe(5)
    expect(await listOffset(1, 1_500)).toBe(2)
  })
})
