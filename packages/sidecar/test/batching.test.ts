/**
 * A request's records for one partition leave in one record batch, as KafkaJS sends one send's
 * records for a partition in one batch: the broker takes or refuses them whole, and records of
 * other requests never split them. Issue 12, finding 6a.
 */
import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { produceLog, randomTopic, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import { bytes, emit, emitRequest, sidecarClient } from './helpers.js'
import { TestStream } from './stream-helpers.js'

const records = (count: number, prefix: string, size = 100) =>
  Array.from({ length: count }, (_, i) => ({
    value: Buffer.concat([bytes(`${prefix}-${i}-`), Buffer.alloc(size, 1)]),
    partition: 0,
  }))

describe('batches keep each request whole per partition', () => {
  it('2,500 records of one request for one partition reach the broker as one batch (more than maxBatchRecords)', async () => {
    const log = produceLog()
    const cluster = await startCluster({ brokers: 1, logger: log.logger })
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)
    const ack = await emit(sidecarClient(sidecar), emitRequest(topic, records(2_500, 'r')))
    expect(ack.results.map((r) => [r.baseOffset, r.recordIndexes.length, r.error])).toEqual([[0, 2_500, undefined]])
    expect(log.batches(topic).map((b) => b.records)).toEqual([2_500])
  })

  it('requests pipelined together are batched at request boundaries, never cut in two', async () => {
    const log = produceLog()
    const cluster = await startCluster({ brokers: 1, logger: log.logger })
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)
    const stream = new TestStream(sidecarClient(sidecar))
    const instanceId = `instance-${randomUUID()}`
    // 600 + 600 + 600 records: 1,000 per batch would cut the second request.
    const acks = await Promise.all(
      ['a', 'b', 'c'].map((name) => stream.send(emitRequest(topic, records(600, name), { instanceId }))),
    )
    expect(acks.map((a) => a.results.map((r) => r.recordIndexes.length))).toEqual([[600], [600], [600]])
    for (const batch of log.batches(topic)) expect(batch.records % 600).toBe(0)
    expect(log.batches(topic).reduce((n, b) => n + b.records, 0)).toBe(1_800)
  })

  it('a request carrying several sends (one TopicRecords each, same topic) keeps each send whole', async () => {
    const log = produceLog()
    const cluster = await startCluster({ brokers: 1, logger: log.logger })
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)
    const merged = emitRequest(topic, [])
    merged.topics = ['a', 'b', 'c'].map((name) => ({
      topic,
      records: records(600, name).map((r) => ({ ...r, headers: [] })),
    }))
    const ack = await emit(sidecarClient(sidecar), merged)
    expect(ack.results.flatMap((r) => r.recordIndexes).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 1_800 }, (_, i) => i),
    )
    for (const batch of log.batches(topic)) expect(batch.records % 600).toBe(0)
    expect((await cluster.records(topic)).map((r) => r.value!.toString().split('-').slice(0, 2).join('-'))).toEqual(
      ['a', 'b', 'c'].flatMap((name) => Array.from({ length: 600 }, (_, i) => `${name}-${i}`)),
    )
  })

  it('a request too large for the broker fails whole, nothing of it written, and alone: records of other requests are written', async () => {
    const log = produceLog()
    // 2,500 records of ~110 bytes: about 280 KB in one batch, over message.max.bytes; 1,000 of them fit.
    const cluster = await startCluster({ brokers: 1, logger: log.logger, maxMessageBytes: 150_000 })
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 2 })
    const sidecar = await startTestSidecar(cluster)
    const client = sidecarClient(sidecar)
    const [big, small] = await Promise.all([
      emit(client, emitRequest(topic, records(2_500, 'big'))),
      emit(client, emitRequest(topic, [{ value: bytes('small'), partition: 1 }])),
    ])
    expect(big.results).toHaveLength(1)
    expect(big.results[0]!.error).toMatchObject({
      kafkaErrorName: 'MESSAGE_TOO_LARGE',
      kafkaErrorCode: 10,
      retriable: false,
    })
    expect(small.results.map((r) => [r.partition, r.baseOffset, r.error])).toEqual([[1, 0, undefined]])
    expect((await cluster.records(topic)).map((r) => r.value!.toString())).toEqual(['small'])
  })
})
