import { describe, expect, it } from 'vitest'
import { randomTopic, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import { bytes, emit, emitRequest, sidecarClient } from './helpers.js'

describe('Emit (unary) round trip', () => {
  it('writes records to the cluster and acks with the broker result per partition', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 3 })
    const sidecar = await startTestSidecar(cluster)
    const client = sidecarClient(sidecar)
    const ack = await emit(
      client,
      emitRequest(topic, [
        { key: bytes('k'), value: bytes('v1'), partition: 0 },
        { key: bytes('k'), value: bytes('v2'), partition: 0 },
        { value: bytes('p2'), partition: 2 },
      ]),
    )
    expect(ack.received).toBe(true)
    expect(ack.error).toBeUndefined()
    expect(ack.results.sort((a, b) => a.partition - b.partition)).toEqual([
      expect.objectContaining({ topic, partition: 0, baseOffset: 0, recordIndexes: [0, 1], error: undefined }),
      expect.objectContaining({ topic, partition: 2, baseOffset: 0, recordIndexes: [2], error: undefined }),
    ])
    const records = await cluster.records(topic)
    expect(records.map((r) => [r.partition, r.offset, r.value!.toString()])).toEqual([
      [0, 0, 'v1'],
      [0, 1, 'v2'],
      [2, 0, 'p2'],
    ])
  })
})
