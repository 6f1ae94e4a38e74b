/**
 * Hostile and broken input over the wire. Each case checks the protocol's answer (an error code,
 * or a closed connection where Kafka closes one), then that the cluster is unharmed: a fresh
 * KafkaJS producer can still write, and connections that did nothing wrong still get answers.
 */
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { EmbeddedKafka, EmbeddedKafkaConfigError, type EmbeddedKafkaOptions } from '../src/index.js'
import { ErrorCode } from '../src/protocol/error-codes.js'
import { Produce } from '../src/apis/00-produce.js'
import { Fetch } from '../src/apis/01-fetch.js'
import { Metadata } from '../src/apis/03-metadata.js'
import { ApiVersions } from '../src/apis/18-api-versions.js'
import { Writer } from '../src/protocol/writer.js'
import { connectedProducer, kafkaFor, randomTopic, startCluster } from '@kafka-sidecar/test-support'
import { encodeRequest, frame, openRaw, requestHeader, type RawClient } from './raw-client.js'

const require = createRequire(import.meta.url)

// ---------------------------------------------------------------------------------------------
// KafkaJS's record batch encoder: an independent source of well-formed magic-2 batches
// ---------------------------------------------------------------------------------------------

interface KafkaJsEncoder {
  readonly buffer: Buffer
}
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (args: { records: KafkaJsEncoder[]; lastOffsetDelta: number }) => Promise<KafkaJsEncoder>
}
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (args: {
  offsetDelta: number
  key: Buffer | null
  value: Buffer | null
}) => KafkaJsEncoder
const kafkaJsCrc32c = require('kafkajs/src/protocol/recordBatch/crc32C') as (bytes: Buffer) => number

/** Batch layout offsets (magic v2). */
const CRC_AT = 17
const BATCH_HEADER_SIZE = 61
const ATTRIBUTES_AT = 21

async function buildBatch(values: readonly (string | Buffer)[]): Promise<Buffer> {
  const records = values.map((value, offsetDelta) => Record({ offsetDelta, key: null, value: Buffer.from(value) }))
  const batch = await RecordBatch({ records, lastOffsetDelta: values.length - 1 })
  return Buffer.from(batch.buffer)
}

/** Re-stamps the CRC after an edit, with KafkaJS's CRC-32C (not ours), so only the edit differs. */
function restampCrc(batch: Buffer): void {
  batch.writeUInt32BE(kafkaJsCrc32c(batch.subarray(ATTRIBUTES_AT)), CRC_AT)
}

// ---------------------------------------------------------------------------------------------
// Cluster plumbing
// ---------------------------------------------------------------------------------------------

function brokerAddress(cluster: EmbeddedKafka, brokerId: number): { host: string; port: number } {
  const broker = cluster.brokers().find((b) => b.brokerId === brokerId)
  if (!broker) throw new Error(`no broker ${brokerId}`)
  return { host: broker.host, port: broker.port }
}

function leaderAddress(cluster: EmbeddedKafka, topic: string): { host: string; port: number } {
  return brokerAddress(cluster, cluster.offsets(topic)[0]!.leaderId)
}

/** A fresh KafkaJS producer writes a record that the cluster then holds. */
async function expectClusterServes(cluster: EmbeddedKafka): Promise<void> {
  const topic = randomTopic('after')
  await cluster.createTopic({ topic, partitions: 1 })
  const producer = await connectedProducer(kafkaFor(cluster))
  const value = `still-serving-${randomBytes(4).toString('hex')}`
  await producer.send({ topic, messages: [{ value }] })
  const records = await cluster.records(topic)
  expect(records.map((r) => r.value?.toString())).toEqual([value])
}

/** A connection opened before the bad input, that must keep getting answers after it. */
async function bystander(cluster: EmbeddedKafka, brokerId = 1): Promise<RawClient> {
  const client = await openRaw(brokerAddress(cluster, brokerId))
  const answer = await client.roundTrip(ApiVersions, 0, {})
  expect(answer.errorCode).toBe(ErrorCode.NONE)
  return client
}

async function expectBystanderServed(client: RawClient, topic?: string): Promise<void> {
  expect(client.isClosed).toBe(false)
  const answer = await client.roundTrip(Metadata, 1, { topics: topic === undefined ? null : [{ name: topic }] })
  expect(answer.brokers.length).toBeGreaterThan(0)
  if (topic !== undefined) expect(answer.topics.map((t) => [t.name, t.errorCode])).toEqual([[topic, ErrorCode.NONE]])
}

function produceBody(topic: string, records: Buffer | null, { acks = -1, partition = 0 } = {}) {
  return {
    transactionalId: null,
    acks,
    timeoutMs: 5_000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  }
}

async function produceRaw(
  client: RawClient,
  topic: string,
  records: Buffer | null,
  options: { acks?: number; partition?: number } = {},
) {
  const answer = await client.roundTrip(Produce, 7, produceBody(topic, records, options))
  expect(answer.responses).toHaveLength(1)
  expect(answer.responses[0]!.name).toBe(topic)
  expect(answer.responses[0]!.partitionResponses).toHaveLength(1)
  return answer.responses[0]!.partitionResponses[0]!
}

/** Topic with one partition, and a raw connection to its leader. */
async function topicAndLeader(cluster: EmbeddedKafka): Promise<{ topic: string; leader: RawClient }> {
  const topic = randomTopic('raw')
  await cluster.createTopic({ topic, partitions: 1 })
  return { topic, leader: await openRaw(leaderAddress(cluster, topic)) }
}

// ---------------------------------------------------------------------------------------------
// Framing
// ---------------------------------------------------------------------------------------------

describe('garbage bytes', () => {
  it('closes the connection on an HTTP request line and keeps serving', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const other = await bystander(cluster)
    const client = await openRaw(brokerAddress(cluster, 1))
    await client.write(Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n', 'latin1'))
    await client.waitForClose()
    expect(client.pendingBytes).toBe(0) // no answer, just the close
    await expectBystanderServed(other)
    await expectClusterServes(cluster)
  })

  it('closes the connection on a TLS ClientHello sent to the plaintext port', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const client = await openRaw(brokerAddress(cluster, 1))
    // Record type 22 (handshake), TLS 1.0 record version, then a handshake body.
    await client.write(
      Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0xc4, 0x01, 0x00, 0x00, 0xc0, 0x03, 0x03]), randomBytes(53)]),
    )
    await client.waitForClose()
    expect(client.pendingBytes).toBe(0)
    await expectClusterServes(cluster)
  })

  it('closes the connection on 64 random bytes whose size prefix is negative', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const other = await bystander(cluster)
    const garbage = randomBytes(64)
    garbage[0] = garbage[0]! | 0x80
    const client = await openRaw(brokerAddress(cluster, 1))
    await client.write(garbage)
    await client.waitForClose()
    expect(client.pendingBytes).toBe(0)
    await expectBystanderServed(other)
    await expectClusterServes(cluster)
  })

  it('closes the connection on a well-sized frame of random bytes with an unknown api key', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const payload = randomBytes(60)
    payload.writeInt16BE(-1 - (payload.readUInt16BE(0) & 0x7fff), 0) // negative: never a real api key
    const client = await openRaw(brokerAddress(cluster, 1))
    await client.write(frame(payload))
    await client.waitForClose()
    expect(client.pendingBytes).toBe(0)
    await expectClusterServes(cluster)
  })
})

describe('truncated frames', () => {
  it('survives a frame cut short by a half-close: no answer, the connection ends', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const other = await bystander(cluster)
    const client = await openRaw(brokerAddress(cluster, 1))
    const size = Buffer.alloc(4)
    size.writeInt32BE(100)
    const header = requestHeader(Metadata.key, 1, 7)
    await client.write(Buffer.concat([size, header, Buffer.alloc(50 - header.length)])) // 50 of the 100 bytes
    client.end()
    await client.waitForClose()
    expect(client.pendingBytes).toBe(0)
    await expectBystanderServed(other)
    await expectClusterServes(cluster)
  })

  it('waits for the rest of a partial frame, then answers it once complete', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const client = await openRaw(brokerAddress(cluster, 1))
    const request = encodeRequest(Metadata, 1, 42, { topics: null })
    await client.write(request.subarray(0, 3)) // not even a whole size prefix
    await client.write(request.subarray(3, 12))
    expect(await client.staysOpenFor(150)).toBe(true)
    expect(client.pendingBytes).toBe(0) // nothing answered yet
    await client.write(request.subarray(12))
    const { correlationId, body } = await client.receive(Metadata, 1)
    expect(correlationId).toBe(42)
    expect(body.brokers.map((b) => b.nodeId)).toEqual([1])
    await expectClusterServes(cluster)
  })

  it('closes the connection when a complete frame ends right after the request header', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const other = await bystander(cluster)
    const client = await openRaw(brokerAddress(cluster, 1))
    // Metadata v1 needs an int32 topic count after the header; the frame ends before it.
    await client.write(frame(requestHeader(Metadata.key, 1, 1)))
    await client.waitForClose()
    expect(client.pendingBytes).toBe(0)
    await expectBystanderServed(other)
    await expectClusterServes(cluster)
  })

  it('closes the connection when a frame ends inside the request header (no client id)', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const client = await openRaw(brokerAddress(cluster, 1))
    const header = new Writer(8).int16(Metadata.key).int16(1).int32(1)
    await client.write(frame(Buffer.from(header.view())))
    await client.waitForClose()
    expect(client.pendingBytes).toBe(0)
    await expectClusterServes(cluster)
  })

  it('closes the connection when a length inside the frame points past its end', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const client = await openRaw(brokerAddress(cluster, 1))
    // One topic whose name claims 30000 bytes, in a frame that has 5.
    const body = new Writer(32).int32(1).int16(30_000).raw(Buffer.from('abcde'))
    await client.write(frame(Buffer.concat([requestHeader(Metadata.key, 1, 1), Buffer.from(body.view())])))
    await client.waitForClose()
    expect(client.pendingBytes).toBe(0)
    await expectClusterServes(cluster)
  })

  it('closes the connection when a topic array claims more elements than the frame can hold', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const client = await openRaw(brokerAddress(cluster, 1))
    const body = new Writer(8).int32(0x7fffffff)
    await client.write(frame(Buffer.concat([requestHeader(Metadata.key, 1, 1), Buffer.from(body.view())])))
    await client.waitForClose()
    expect(client.pendingBytes).toBe(0)
    await expectClusterServes(cluster)
  })
})

describe('frame sizes', () => {
  it.each([
    ['2 GB (0x7fffffff)', 0x7fffffff],
    ['just over socket.request.max.bytes', 104_857_601],
    ['-1', -1],
    ['-2^31', -0x80000000],
    ['0', 0],
    ['4 (shorter than any request header)', 4],
  ])('closes the connection promptly on a frame size of %s, without buffering', async (_label, size) => {
    const cluster = await startCluster({ brokers: 1 })
    const other = await bystander(cluster)
    const client = await openRaw(brokerAddress(cluster, 1))
    const prefix = Buffer.alloc(4)
    prefix.writeInt32BE(size)
    const started = Date.now()
    // Only the size prefix and a few bytes: a broker that waited for the whole frame would hang.
    await client.write(Buffer.concat([prefix, Buffer.alloc(16)]))
    await client.waitForClose(1_000)
    expect(Date.now() - started).toBeLessThan(1_000)
    expect(client.pendingBytes).toBe(0)
    await expectBystanderServed(other)
    await expectClusterServes(cluster)
  })

  it('honours a smaller maxRequestBytes option', async () => {
    const cluster = await startCluster({ brokers: 1, maxRequestBytes: 1_024 })
    const client = await openRaw(brokerAddress(cluster, 1))
    const big = encodeRequest(Metadata, 1, 1, {
      topics: [
        { name: 'x'.repeat(200) },
        { name: 'y'.repeat(200) },
        { name: 'z'.repeat(200) },
        { name: 'w'.repeat(500) },
      ],
    })
    expect(big.length - 4).toBeGreaterThan(1_024)
    await client.write(big.subarray(0, 8))
    await client.waitForClose(1_000)
    const ok = await openRaw(brokerAddress(cluster, 1))
    const answer = await ok.roundTrip(Metadata, 1, { topics: null })
    expect(answer.brokers.map((b) => b.nodeId)).toEqual([1])
    await expectClusterServes(cluster)
  })
})

// ---------------------------------------------------------------------------------------------
// API keys and versions
// ---------------------------------------------------------------------------------------------

describe('unknown api keys', () => {
  it.each([9999, 60, 29 /* DescribeAcls: not served */, -1])('closes the connection on api key %i', async (apiKey) => {
    const cluster = await startCluster({ brokers: 1 })
    const other = await bystander(cluster)
    const client = await openRaw(brokerAddress(cluster, 1))
    await client.write(frame(Buffer.concat([requestHeader(apiKey, 0, 1), Buffer.alloc(8)])))
    await client.waitForClose()
    expect(client.pendingBytes).toBe(0)
    await expectBystanderServed(other)
    await expectClusterServes(cluster)
  })
})

describe('unsupported versions', () => {
  it('answers ApiVersions v99 in v0 format with UNSUPPORTED_VERSION and our ranges, and keeps the connection', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const client = await openRaw(brokerAddress(cluster, 1))
    // A future client would send v99 with a flexible (v2) header and a body we cannot know.
    await client.write(
      frame(
        Buffer.concat([
          requestHeader(ApiVersions.key, 99, 5, { flexible: true }),
          Buffer.from([0x07, 0x66, 0x75, 0x74, 0x75, 0x72, 0x65, 0x00]),
        ]),
      ),
    )
    const { correlationId, body } = await client.receive(ApiVersions, 0)
    expect(correlationId).toBe(5)
    expect(body.errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION)
    expect(body.apiKeys).toContainEqual({ apiKey: Produce.key, minVersion: 3, maxVersion: Produce.maxVersion })
    expect(body.apiKeys).toContainEqual({ apiKey: ApiVersions.key, minVersion: 0, maxVersion: ApiVersions.maxVersion })
    expect(body.apiKeys).toContainEqual({
      apiKey: Metadata.key,
      minVersion: Metadata.minVersion,
      maxVersion: Metadata.maxVersion,
    })
    // Not closed: the client downgrades on the same connection and gets the same ranges.
    expect(await client.staysOpenFor(50)).toBe(true)
    const downgraded = await client.roundTrip(ApiVersions, 0, {})
    expect(downgraded.errorCode).toBe(ErrorCode.NONE)
    expect(downgraded.apiKeys).toEqual(body.apiKeys)
    await expectClusterServes(cluster)
  })

  it.each([
    ['Produce v1 (below our minimum 3)', Produce.key, 1],
    ['Produce v2', Produce.key, 2],
    ['Metadata v99', Metadata.key, 99],
    ['Fetch v0', Fetch.key, 0],
  ])('closes the connection on %s', async (_label, apiKey, version) => {
    const cluster = await startCluster({ brokers: 1 })
    const other = await bystander(cluster)
    const client = await openRaw(brokerAddress(cluster, 1))
    await client.write(
      frame(Buffer.concat([requestHeader(apiKey, version, 1), Buffer.from(new Writer(4).int32(-1).view())])),
    )
    await client.waitForClose()
    expect(client.pendingBytes).toBe(0)
    await expectBystanderServed(other)
    await expectClusterServes(cluster)
  })
})

// ---------------------------------------------------------------------------------------------
// Produce validation
// ---------------------------------------------------------------------------------------------

describe('produce validation', () => {
  it('refuses a batch whose CRC does not match with CORRUPT_MESSAGE and appends nothing', async () => {
    const cluster = await startCluster({ brokers: 3 })
    const { topic, leader } = await topicAndLeader(cluster)
    const good = await buildBatch(['hello-crc'])
    const corrupt = Buffer.from(good)
    corrupt[corrupt.length - 2] = corrupt[corrupt.length - 2]! ^ 0x01 // a bit of the value's last byte
    const refused = await produceRaw(leader, topic, corrupt)
    expect(refused.errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
    expect(refused.baseOffset).toBe(-1)
    expect(cluster.offsets(topic)[0]!.highWatermark).toBe(0)
    // The same connection, and the batch before the flip, are fine.
    const accepted = await produceRaw(leader, topic, good)
    expect(accepted.errorCode).toBe(ErrorCode.NONE)
    expect(accepted.baseOffset).toBe(0)
    expect((await cluster.records(topic)).map((r) => r.value?.toString())).toEqual(['hello-crc'])
    await expectClusterServes(cluster)
  })

  it('refuses a batch with a corrupted CRC field itself with CORRUPT_MESSAGE', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const { topic, leader } = await topicAndLeader(cluster)
    const batch = await buildBatch(['a', 'b'])
    batch[CRC_AT] = batch[CRC_AT]! ^ 0xff
    expect((await produceRaw(leader, topic, batch)).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
    expect(cluster.offsets(topic)[0]!.highWatermark).toBe(0)
    await expectClusterServes(cluster)
  })

  it('refuses a batch whose length field overstates the bytes sent with CORRUPT_MESSAGE', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const { topic, leader } = await topicAndLeader(cluster)
    const batch = await buildBatch(['truncated'])
    expect((await produceRaw(leader, topic, batch.subarray(0, batch.length - 3))).errorCode).toBe(
      ErrorCode.CORRUPT_MESSAGE,
    )
    expect((await produceRaw(leader, topic, batch.subarray(0, 40))).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE)
    expect(cluster.offsets(topic)[0]!.highWatermark).toBe(0)
    await expectClusterServes(cluster)
  })

  it('refuses a batch whose record fields disagree with the record length (valid CRC), appending nothing', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const { topic, leader } = await topicAndLeader(cluster)
    const batch = await buildBatch(['abcdef'])
    // The one record: length, attributes, timestampDelta, offsetDelta, key length (-1 = 0x01), ...
    // Claim a 2-byte key instead of null: the record's length no longer matches its fields.
    const keyLengthAt = BATCH_HEADER_SIZE + 4
    expect(batch[keyLengthAt]).toBe(0x01)
    batch[keyLengthAt] = 0x04
    restampCrc(batch)
    const result = await produceRaw(leader, topic, batch)
    // Kafka decodes every record before appending (LogValidator) and refuses the batch.
    expect([ErrorCode.CORRUPT_MESSAGE, ErrorCode.INVALID_RECORD]).toContain(result.errorCode)
    expect(cluster.offsets(topic)[0]!.highWatermark).toBe(0)
    await expectClusterServes(cluster)
  })

  it('refuses a gzip batch whose compressed bytes are not gzip (valid CRC), appending nothing', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const { topic, leader } = await topicAndLeader(cluster)
    const batch = await buildBatch(['not-really-gzip'])
    batch.writeInt16BE(batch.readInt16BE(ATTRIBUTES_AT) | 1, ATTRIBUTES_AT)
    restampCrc(batch)
    const result = await produceRaw(leader, topic, batch)
    expect([ErrorCode.CORRUPT_MESSAGE, ErrorCode.INVALID_RECORD]).toContain(result.errorCode)
    expect(cluster.offsets(topic)[0]!.highWatermark).toBe(0)
    await expectClusterServes(cluster)
  })

  it('answers NOT_LEADER_OR_FOLLOWER for a partition this broker does not lead', async () => {
    const cluster = await startCluster({ brokers: 3 })
    const topic = randomTopic('raw')
    await cluster.createTopic({ topic, partitions: 1 })
    const leaderId = cluster.offsets(topic)[0]!.leaderId
    const follower = cluster.brokers().find((b) => b.brokerId !== leaderId)!
    const client = await openRaw(brokerAddress(cluster, follower.brokerId))
    const result = await produceRaw(client, topic, await buildBatch(['misrouted']))
    expect(result.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    expect(cluster.offsets(topic)[0]!.highWatermark).toBe(0)
    await expectClusterServes(cluster)
  })

  it('answers UNKNOWN_TOPIC_OR_PARTITION for a partition that does not exist', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const { topic, leader } = await topicAndLeader(cluster)
    const result = await produceRaw(leader, topic, await buildBatch(['nowhere']), { partition: 5 })
    expect(result.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    await expectClusterServes(cluster)
  })

  it.each([5, 2, -2])('answers INVALID_REQUIRED_ACKS for acks=%i and appends nothing', async (acks) => {
    const cluster = await startCluster({ brokers: 1 })
    const { topic, leader } = await topicAndLeader(cluster)
    const result = await produceRaw(leader, topic, await buildBatch(['acks']), { acks })
    expect(result.errorCode).toBe(ErrorCode.INVALID_REQUIRED_ACKS)
    expect(cluster.offsets(topic)[0]!.highWatermark).toBe(0)
    await expectClusterServes(cluster)
  })

  it('answers UNSUPPORTED_COMPRESSION_TYPE for a snappy batch with a valid CRC', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const { topic, leader } = await topicAndLeader(cluster)
    const batch = await buildBatch(['pretend-snappy'])
    batch.writeInt16BE(batch.readInt16BE(ATTRIBUTES_AT) | 2, ATTRIBUTES_AT)
    restampCrc(batch)
    const result = await produceRaw(leader, topic, batch)
    expect(result.errorCode).toBe(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE)
    expect(cluster.offsets(topic)[0]!.highWatermark).toBe(0)
    await expectClusterServes(cluster)
  })

  it.each([
    ['lz4', 3],
    ['zstd', 4],
  ])('answers UNSUPPORTED_COMPRESSION_TYPE for a %s batch', async (_name, codec) => {
    const cluster = await startCluster({ brokers: 1 })
    const { topic, leader } = await topicAndLeader(cluster)
    const batch = await buildBatch(['pretend'])
    batch.writeInt16BE(batch.readInt16BE(ATTRIBUTES_AT) | codec, ATTRIBUTES_AT)
    restampCrc(batch)
    expect((await produceRaw(leader, topic, batch)).errorCode).toBe(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE)
    expect(cluster.offsets(topic)[0]!.highWatermark).toBe(0)

    await expectClusterServes(cluster)
  })

  it('answers MESSAGE_TOO_LARGE for a batch over maxMessageBytes, and accepts one under it', async () => {
    const cluster = await startCluster({ brokers: 1, maxMessageBytes: 200 })
    const { topic, leader } = await topicAndLeader(cluster)
    const big = await buildBatch(['x'.repeat(300)])
    expect(big.length).toBeGreaterThan(200)
    const refused = await produceRaw(leader, topic, big)
    expect(refused.errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE)
    expect(cluster.offsets(topic)[0]!.highWatermark).toBe(0)
    const small = await buildBatch(['fits'])
    expect(small.length).toBeLessThanOrEqual(200)
    expect((await produceRaw(leader, topic, small)).errorCode).toBe(ErrorCode.NONE)
    expect(cluster.offsets(topic)[0]!.highWatermark).toBe(1)
    await expectClusterServes(cluster)
  })

  it('answers INVALID_RECORD (or CORRUPT_MESSAGE) for null or empty record data', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const { topic, leader } = await topicAndLeader(cluster)
    expect((await produceRaw(leader, topic, null)).errorCode).toBe(ErrorCode.INVALID_RECORD)
    expect((await produceRaw(leader, topic, Buffer.alloc(0))).errorCode).toBe(ErrorCode.INVALID_RECORD)
    expect(cluster.offsets(topic)[0]!.highWatermark).toBe(0)
    await expectClusterServes(cluster)
  })

  it('keeps answering other partitions of the same request when one is refused', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const topic = randomTopic('raw')
    await cluster.createTopic({ topic, partitions: 2 })
    const client = await openRaw(brokerAddress(cluster, 1))
    const corrupt = await buildBatch(['bad'])
    corrupt[corrupt.length - 2] = corrupt[corrupt.length - 2]! ^ 0x01
    const answer = await client.roundTrip(Produce, 7, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5_000,
      topicData: [
        {
          name: topic,
          partitionData: [
            { index: 0, records: corrupt },
            { index: 1, records: await buildBatch(['good']) },
          ],
        },
      ],
    })
    expect(answer.responses[0]!.partitionResponses.map((p) => [p.index, p.errorCode])).toEqual([
      [0, ErrorCode.CORRUPT_MESSAGE],
      [1, ErrorCode.NONE],
    ])
    expect(cluster.offsets(topic).map((p) => p.highWatermark)).toEqual([0, 1])

    await expectClusterServes(cluster)
  })
})

// ---------------------------------------------------------------------------------------------
// Topic names
// ---------------------------------------------------------------------------------------------

describe('topic names', () => {
  it('answers INVALID_TOPIC_EXCEPTION for "bad topic!" in Metadata and creates nothing', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const client = await openRaw(brokerAddress(cluster, 1))
    const answer = await client.roundTrip(Metadata, 1, { topics: [{ name: 'bad topic!' }] })
    expect(answer.topics.map((t) => [t.name, t.errorCode])).toEqual([['bad topic!', ErrorCode.INVALID_TOPIC_EXCEPTION]])
    expect(cluster.topics()).not.toContain('bad topic!')
    await expectClusterServes(cluster)
  })

  it('answers INVALID_TOPIC_EXCEPTION for a 250-character name, and accepts 249', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const client = await openRaw(brokerAddress(cluster, 1))
    const tooLong = 'a'.repeat(250)
    const longest = 'b'.repeat(249)
    const answer = await client.roundTrip(Metadata, 1, { topics: [{ name: tooLong }, { name: longest }] })
    expect(answer.topics.map((t) => [t.name, t.errorCode])).toEqual([
      [tooLong, ErrorCode.INVALID_TOPIC_EXCEPTION],
      [longest, ErrorCode.NONE],
    ])
    expect(cluster.topics()).not.toContain(tooLong)
    expect(cluster.topics()).toContain(longest)
    await expectClusterServes(cluster)
  })

  it.each(['.', '..', ''])('answers INVALID_TOPIC_EXCEPTION for the name %j', async (name) => {
    const cluster = await startCluster({ brokers: 1 })
    const client = await openRaw(brokerAddress(cluster, 1))
    const answer = await client.roundTrip(Metadata, 1, { topics: [{ name }] })
    expect(answer.topics.map((t) => [t.name, t.errorCode])).toEqual([[name, ErrorCode.INVALID_TOPIC_EXCEPTION]])

    expect(cluster.topics()).toEqual([])
    await expectClusterServes(cluster)
  })

  it('closes the connection on a topic name that is not valid UTF-8', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const other = await bystander(cluster)
    const client = await openRaw(brokerAddress(cluster, 1))
    const name = Buffer.from([0x61, 0xff, 0x62]) // 0xff never occurs in UTF-8
    const body = new Writer(16).int32(1).int16(name.length).raw(name)
    await client.write(frame(Buffer.concat([requestHeader(Metadata.key, 1, 1), Buffer.from(body.view())])))
    await client.waitForClose()
    expect(client.pendingBytes).toBe(0)
    expect(cluster.topics()).toEqual([])
    await expectBystanderServed(other)
    await expectClusterServes(cluster)
  })

  it('closes the connection on an overlong UTF-8 encoding in a produced topic name', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const client = await openRaw(brokerAddress(cluster, 1))
    // Produce v7 with a valid body, whose topic name bytes are patched to an overlong '/'.
    const placeholder = 'topic-PP'
    const request = encodeRequest(Produce, 7, 1, produceBody(placeholder, await buildBatch(['x'])))
    const at = request.indexOf(Buffer.from('PP'))
    expect(at).toBeGreaterThan(0)
    request[at] = 0xc0
    request[at + 1] = 0xaf
    await client.write(request)
    await client.waitForClose()
    expect(client.pendingBytes).toBe(0)
    await expectClusterServes(cluster)
  })
})

// ---------------------------------------------------------------------------------------------
// Ordering
// ---------------------------------------------------------------------------------------------

describe('pipelining', () => {
  it('answers pipelined requests in request order even when the first one long-polls', async () => {
    const cluster = await startCluster({ brokers: 3 })
    const { topic, leader } = await topicAndLeader(cluster)
    const fetch = encodeRequest(Fetch, 11, 1, {
      replicaId: -1,
      maxWaitMs: 300,
      minBytes: 1,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic,
          partitions: [
            { partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 },
          ],
        },
      ],
      forgottenTopicsData: [],
      rackId: '',
    })
    const metadata2 = encodeRequest(Metadata, 1, 2, { topics: [{ name: topic }] })
    const metadata3 = encodeRequest(Metadata, 1, 3, { topics: null })
    const started = Date.now()
    await leader.write(Buffer.concat([fetch, metadata2, metadata3]))

    const first = await leader.receive(Fetch, 11)
    const fetchedAfter = Date.now() - started
    const second = await leader.receive(Metadata, 1)
    const third = await leader.receive(Metadata, 1)
    expect([first.correlationId, second.correlationId, third.correlationId]).toEqual([1, 2, 3])
    // The fetch really waited, so the metadata answers (ready at once) really were held back.
    expect(fetchedAfter).toBeGreaterThanOrEqual(250)
    const partition = first.body.responses[0]!.partitions[0]!
    expect(partition.errorCode).toBe(ErrorCode.NONE)
    expect(partition.highWatermark).toBe(0)
    expect(second.body.topics.map((t) => [t.name, t.errorCode])).toEqual([[topic, ErrorCode.NONE]])
    expect(third.body.topics.map((t) => t.name)).toContain(topic)
    await expectClusterServes(cluster)
  })

  it('answers a burst of requests in one write in order, including a refused produce', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const { topic, leader } = await topicAndLeader(cluster)
    const frames = [
      encodeRequest(Metadata, 1, 10, { topics: [{ name: topic }] }),
      encodeRequest(Produce, 7, 11, produceBody(topic, await buildBatch(['one']), { acks: 5 })),
      encodeRequest(Produce, 7, 12, produceBody(topic, await buildBatch(['two']))),
      encodeRequest(ApiVersions, 0, 13, {}),
    ]
    await leader.write(Buffer.concat(frames))
    expect((await leader.receive(Metadata, 1)).correlationId).toBe(10)
    const refused = await leader.receive(Produce, 7)
    expect(refused.correlationId).toBe(11)
    expect(refused.body.responses[0]!.partitionResponses[0]!.errorCode).toBe(ErrorCode.INVALID_REQUIRED_ACKS)
    const accepted = await leader.receive(Produce, 7)
    expect(accepted.correlationId).toBe(12)
    expect(accepted.body.responses[0]!.partitionResponses[0]!.errorCode).toBe(ErrorCode.NONE)
    expect((await leader.receive(ApiVersions, 0)).correlationId).toBe(13)
    expect((await cluster.records(topic)).map((r) => r.value?.toString())).toEqual(['two'])

    await expectClusterServes(cluster)
  })

  it('still answers requests sent before a malformed one, then closes', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const client = await openRaw(brokerAddress(cluster, 1))
    await client.write(
      Buffer.concat([
        encodeRequest(Metadata, 1, 1, { topics: null }),
        frame(Buffer.concat([requestHeader(9999, 0, 2), Buffer.alloc(4)])),
      ]),
    )
    const answered = await client.receive(Metadata, 1)
    expect(answered.correlationId).toBe(1)
    await client.waitForClose()
    expect(client.pendingBytes).toBe(0)
    await expectClusterServes(cluster)
  })
})

// ---------------------------------------------------------------------------------------------
// Cluster options
// ---------------------------------------------------------------------------------------------

describe('invalid cluster options', () => {
  it.each<[string, EmbeddedKafkaOptions, string]>([
    ['brokers: 0', { brokers: 0 }, 'brokers'],
    ['brokers: 1.5', { brokers: 1.5 }, 'brokers'],
    ['an unknown option', { bogusOption: true } as EmbeddedKafkaOptions, 'bogusOption'],
    ['retentionBytes: 0', { retentionBytes: 0 }, 'retentionBytes'],
    ['maxMessageBytes: 0', { maxMessageBytes: 0 }, 'maxMessageBytes'],
    ['port: 70000', { port: 70_000 }, 'port'],
    ['ports of the wrong length', { brokers: 2, ports: [0] }, 'ports'],
  ])('rejects %s with an EmbeddedKafkaConfigError naming the option', async (_label, options, option) => {
    const error = await EmbeddedKafka.start(options).then(
      async (cluster) => {
        await cluster.stop()
        return undefined
      },
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(EmbeddedKafkaConfigError)
    expect((error as EmbeddedKafkaConfigError).option).toBe(option)
    expect((error as EmbeddedKafkaConfigError).message).toContain(`"${option}"`)
  })
})
