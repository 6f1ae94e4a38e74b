import { CompressionTypes } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { connectedAdmin, connectedProducer, kafkaFor, randomTopic, startCluster } from '@kafka-sidecar/test-support'

const text = (b: Buffer | null) => (b === null ? null : b.toString())

describe('producer (KafkaJS producer over TCP)', () => {
  it('appends records with consecutive offsets and returns KafkaJS RecordMetadata', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const producer = await connectedProducer(kafkaFor(cluster))
    const first = await producer.send({ topic, messages: [{ value: 'a' }, { value: 'b' }] })
    const second = await producer.send({ topic, messages: [{ value: 'c' }] })
    expect(first).toEqual([
      { topicName: topic, partition: 0, errorCode: 0, baseOffset: '0', logAppendTime: '-1', logStartOffset: '0' },
    ])
    expect(second[0]).toMatchObject({ baseOffset: '2' })
    const records = await cluster.records(topic)
    expect(records.map((r) => [r.offset, text(r.value)])).toEqual([
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
    ])
  })

  it('auto-creates a topic on first metadata request, with the default partition count', async () => {
    const cluster = await startCluster({ defaultPartitions: 4 })
    const topic = randomTopic()
    const producer = await connectedProducer(kafkaFor(cluster))
    await producer.send({ topic, messages: [{ value: 'x' }] })
    expect(cluster.offsets(topic)).toHaveLength(4)
  })

  it('refuses unknown topics when auto-creation is off', async () => {
    const cluster = await startCluster({ autoCreateTopics: false })
    const kafka = kafkaFor(cluster)
    const producer = await connectedProducer(kafka, { retry: { retries: 0 } })
    await expect(producer.send({ topic: randomTopic(), messages: [{ value: 'x' }] })).rejects.toThrow(
      /does not host this topic-partition/,
    )
  })

  it('writes idempotently with a producer id and sequence numbers', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 2 })
    const producer = await connectedProducer(kafkaFor(cluster), { idempotent: true, maxInFlightRequests: 1 })
    for (let i = 0; i < 5; i++)
      await producer.send({ topic, acks: -1, messages: [{ partition: i % 2, value: `v${i}` }] })
    const records = await cluster.records(topic)
    expect(records.map((r) => `${r.partition}:${r.offset}:${text(r.value)}`)).toEqual([
      '0:0:v0',
      '0:1:v2',
      '0:2:v4',
      '1:0:v1',
      '1:1:v3',
    ])
  })

  it('stores gzip batches and decodes them for assertions', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const producer = await connectedProducer(kafkaFor(cluster))
    const messages = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: 'compressible '.repeat(20) + i }))
    await producer.send({ topic, compression: CompressionTypes.GZIP, messages })
    const records = await cluster.records(topic)
    expect(records).toHaveLength(50)
    expect(text(records[49]!.value)).toBe('compressible '.repeat(20) + 49)
    expect(records.map((r) => r.offset)).toEqual(Array.from({ length: 50 }, (_, i) => i))
  })

  // KafkaJS writes base sequence 0 even without a producer id; the header says what the wire said.
  it('reports each stored batch header: compression, timestamp type, producer id and sequence', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const plain = await connectedProducer(kafkaFor(cluster))
    await plain.send({ topic, messages: [{ value: 'a' }, { value: 'b' }] })
    await plain.send({ topic, compression: CompressionTypes.GZIP, messages: [{ value: 'c' }] })
    const idempotent = await connectedProducer(kafkaFor(cluster), { idempotent: true, maxInFlightRequests: 1 })
    await idempotent.send({ topic, acks: -1, messages: [{ value: 'd' }] })
    const batches = cluster
      .batches(topic)
      .map(
        ({
          baseOffset,
          lastOffset,
          recordCount,
          compression,
          timestampType,
          producerId,
          baseSequence,
          transactional,
        }) => ({
          baseOffset,
          lastOffset,
          recordCount,
          compression,
          timestampType,
          idempotent: producerId >= 0,
          baseSequence,
          transactional,
        }),
      )
    expect(batches).toEqual([
      {
        baseOffset: 0,
        lastOffset: 1,
        recordCount: 2,
        compression: 'none',
        timestampType: 'CreateTime',
        idempotent: false,
        baseSequence: 0,
        transactional: false,
      },
      {
        baseOffset: 2,
        lastOffset: 2,
        recordCount: 1,
        compression: 'gzip',
        timestampType: 'CreateTime',
        idempotent: false,
        baseSequence: 0,
        transactional: false,
      },
      {
        baseOffset: 3,
        lastOffset: 3,
        recordCount: 1,
        compression: 'none',
        timestampType: 'CreateTime',
        idempotent: true,
        baseSequence: 0,
        transactional: false,
      },
    ])
  })

  it('keeps repeated header names, null and empty keys, and tombstones distinct', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const producer = await connectedProducer(kafkaFor(cluster))
    await producer.send({
      topic,
      messages: [
        { key: null, value: 'null-key', headers: { trace: ['a', 'b'], single: 'one' } },
        { key: '', value: 'empty-key' },
        { key: 'gone', value: null },
      ],
    })
    const [nullKey, emptyKey, tombstone] = await cluster.records(topic)
    expect(nullKey!.key).toBeNull()
    expect(nullKey!.headers.map((h) => [h.key, text(h.value)])).toEqual([
      ['trace', 'a'],
      ['trace', 'b'],
      ['single', 'one'],
    ])
    expect(emptyKey!.key).toEqual(Buffer.alloc(0))
    expect(tombstone!.value).toBeNull()
    expect(text(tombstone!.key)).toBe('gone')
  })

  it('honours explicit partition 0 and spreads null keys across partitions', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 3 })
    const producer = await connectedProducer(kafkaFor(cluster))
    await producer.send({ topic, messages: Array.from({ length: 6 }, () => ({ partition: 0, value: 'p0' })) })
    expect(cluster.offsets(topic).map((o) => o.highWatermark)).toEqual([6, 0, 0])
    for (let i = 0; i < 30; i++) await producer.send({ topic, messages: [{ value: `n${i}` }] })
    const written = cluster.offsets(topic).map((o) => o.highWatermark)
    expect(written[1]! + written[2]!).toBeGreaterThan(0)
    expect(written.reduce((a, b) => a + b)).toBe(36)
  })

  it('keeps records whose keys hash to the same partition on that partition (murmur2, as Java)', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    const admin = await connectedAdmin(kafkaFor(cluster))
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }] })
    const producer = await connectedProducer(kafkaFor(cluster))
    await producer.send({
      topic,
      messages: Array.from({ length: 20 }, (_, i) => ({ key: `user-${i % 5}`, value: String(i) })),
    })
    const byKey = new Map<string, Set<number>>()
    for (const r of await cluster.records(topic)) {
      const key = text(r.key)!
      byKey.set(key, (byKey.get(key) ?? new Set()).add(r.partition))
    }
    expect([...byKey.values()].every((partitions) => partitions.size === 1)).toBe(true)
    expect(byKey.size).toBe(5)
  })

  it('answers acks=0 with silence, and still stores the records', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const producer = await connectedProducer(kafkaFor(cluster))
    const result = await producer.send({ topic, acks: 0, messages: [{ value: 'fire' }, { value: 'forget' }] })
    expect(result).toEqual([])
    const confirm = await producer.send({ topic, acks: -1, messages: [{ value: 'after' }] })
    expect(confirm[0]!.baseOffset).toBe('2')
  })

  it('bounds retained bytes per partition and advances the log start offset', async () => {
    const cluster = await startCluster({ retentionBytes: 4096 })
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const producer = await connectedProducer(kafkaFor(cluster))
    for (let i = 0; i < 40; i++) await producer.send({ topic, messages: [{ value: Buffer.alloc(500, i) }] })
    const [offsets] = cluster.offsets(topic)
    expect(offsets!.highWatermark).toBe(40)
    expect(offsets!.logStartOffset).toBeGreaterThan(30)
    const records = await cluster.records(topic)
    expect(records.length * 500).toBeLessThanOrEqual(4096)
    expect(records.at(-1)!.offset).toBe(39)
  })
})
