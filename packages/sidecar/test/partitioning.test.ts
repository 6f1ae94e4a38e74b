import { Kafka, logLevel } from 'kafkajs'
import { describe, expect, it, onTestFinished } from 'vitest'
import { randomTopic, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import { bytes, emit, emitRequest, sidecarClient } from './helpers.js'

describe('partitioning', () => {
  it('puts every key on the partition a direct KafkaJS producer chooses', async () => {
    const cluster = await startCluster()
    const directTopic = randomTopic('direct')
    const sidecarTopic = randomTopic('sidecar')
    await cluster.createTopic({ topic: directTopic, partitions: 7 })
    await cluster.createTopic({ topic: sidecarTopic, partitions: 7 })
    const keys = Array.from({ length: 200 }, (_, i) => `customer-${i * 7919}`)
    keys.push('', 'ünïcødé-key', '0')

    const kafka = new Kafka({ clientId: 'direct', brokers: cluster.bootstrapServers, logLevel: logLevel.NOTHING })
    const producer = kafka.producer()
    await producer.connect()
    onTestFinished(() => producer.disconnect())
    await producer.send({ topic: directTopic, messages: keys.map((key) => ({ key, value: key })) })

    const sidecar = await startTestSidecar(cluster)
    await emit(
      sidecarClient(sidecar),
      emitRequest(
        sidecarTopic,
        keys.map((key) => ({ key: bytes(key), value: bytes(key) })),
      ),
    )

    const partitionByKey = async (topic: string) =>
      new Map((await cluster.records(topic)).map((r) => [r.key!.toString(), r.partition]))
    const direct = await partitionByKey(directTopic)
    const viaSidecar = await partitionByKey(sidecarTopic)
    expect(viaSidecar.size).toBe(keys.length)
    for (const key of keys) expect([key, viaSidecar.get(key)]).toEqual([key, direct.get(key)])
    expect(new Set(direct.values()).size).toBe(7)
  })

  it('keeps null and empty keys apart: empty hashes, null spreads', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 5 })
    const sidecar = await startTestSidecar(cluster)
    const client = sidecarClient(sidecar)
    await emit(
      client,
      emitRequest(
        topic,
        Array.from({ length: 20 }, () => ({ key: Buffer.alloc(0), value: bytes('empty') })),
      ),
    )
    for (let i = 0; i < 20; i++) await emit(client, emitRequest(topic, [{ value: bytes('null') }]))
    const records = await cluster.records(topic)
    const emptyPartitions = new Set(records.filter((r) => r.value!.toString() === 'empty').map((r) => r.partition))
    const nullPartitions = new Set(records.filter((r) => r.value!.toString() === 'null').map((r) => r.partition))
    expect(emptyPartitions.size).toBe(1)
    expect(
      records.filter((r) => r.value!.toString() === 'empty').every((r) => r.key !== null && r.key.length === 0),
    ).toBe(true)
    expect(records.filter((r) => r.value!.toString() === 'null').every((r) => r.key === null)).toBe(true)
    expect(nullPartitions.size).toBeGreaterThan(1)
  })

  it('forwards explicit partitions as given, 0 included, and keeps tombstones and repeated headers', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 3 })
    const sidecar = await startTestSidecar(cluster)
    await emit(
      sidecarClient(sidecar),
      emitRequest(topic, [
        {
          key: bytes('a'),
          value: bytes('zero'),
          partition: 0,
          headers: [
            { key: 'trace', value: bytes('1') },
            { key: 'trace', value: bytes('2') },
            { key: 'solo', value: bytes('x') },
          ],
        },
        { key: bytes('a'), partition: 2, timestampMs: 1_700_000_000_000 },
      ]),
    )
    const [zero, tombstone] = await cluster.records(topic)
    expect(zero).toMatchObject({ partition: 0, offset: 0 })
    expect(zero!.headers.map((h) => [h.key, h.value!.toString()])).toEqual([
      ['trace', '1'],
      ['trace', '2'],
      ['solo', 'x'],
    ])
    expect(tombstone).toMatchObject({ partition: 2, value: null, timestamp: 1_700_000_000_000 })
  })
})
