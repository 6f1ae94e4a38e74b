import { status, type ServiceError } from '@grpc/grpc-js'
import { describe, expect, it } from 'vitest'
import { randomTopic, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import { bytes, emit, emitError, emitRequest, sidecarClient } from './helpers.js'
import { TestStream } from './stream-helpers.js'

describe('backpressure', () => {
  it('refuses a request that would overfill the queue with RESOURCE_EXHAUSTED and retry_after_ms, then recovers', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster, { maxQueuedRecords: 50, requestTimeoutMs: 5_000 })
    const client = sidecarClient(sidecar)
    await emit(client, emitRequest(topic, [{ value: bytes('warm') }]))

    await cluster.stopBrokers() // nothing drains: what is accepted stays held
    const stream = new TestStream(client)
    const held = stream.send(
      emitRequest(
        topic,
        Array.from({ length: 50 }, (_, i) => ({ value: bytes(`held-${i}`) })),
      ),
    )
    const refused = await stream.send(emitRequest(topic, [{ value: bytes('one too many') }]))
    expect(refused.received).toBe(false)
    expect(refused.error).toMatchObject({ grpcCode: status.RESOURCE_EXHAUSTED, retriable: true })
    expect(refused.error!.retryAfterMs).toBeGreaterThan(0)
    expect(refused.error!.message).toMatch(/queue is full.*queued records would reach 51 of 50/)

    const unary = (await emitError(client, emitRequest(topic, [{ value: bytes('unary') }]))) as ServiceError
    expect(unary.code).toBe(status.RESOURCE_EXHAUSTED)
    expect(Number(unary.metadata.get('retry-after-ms')[0])).toBeGreaterThan(0)

    await cluster.startBrokers()
    const heldAck = await held
    expect(heldAck.results.every((r) => r.error === undefined)).toBe(true)
    const retried = await emit(client, emitRequest(topic, [{ value: bytes('after recovery') }]))
    expect(retried.results[0]!.error).toBeUndefined()
    const values = (await cluster.records(topic)).map((r) => r.value!.toString())
    expect(values).toHaveLength(52)
    expect(values.at(-1)).toBe('after recovery')
    expect(values).not.toContain('one too many')
  })

  it('bounds each partition separately', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 2 })
    const sidecar = await startTestSidecar(cluster, {
      maxQueuedBytesPerPartition: 4_000,
      maxRecordBytes: 2_000,
      requestTimeoutMs: 5_000,
    })
    const client = sidecarClient(sidecar)
    await emit(
      client,
      emitRequest(topic, [
        { value: bytes('warm'), partition: 0 },
        { value: bytes('warm'), partition: 1 },
      ]),
    )
    await cluster.stopBrokers()
    const stream = new TestStream(client)
    const big = Buffer.alloc(1_500)
    void stream.send(
      emitRequest(topic, [
        { value: big, partition: 0 },
        { value: big, partition: 0 },
      ]),
    )
    const full = await stream.send(emitRequest(topic, [{ value: big, partition: 0 }]))
    expect(full.error).toMatchObject({ grpcCode: status.RESOURCE_EXHAUSTED })
    expect(full.error!.message).toContain(`partition ${topic}-0`)
    const otherPartition = stream.send(emitRequest(topic, [{ value: big, partition: 1 }]))
    await cluster.startBrokers()
    expect((await otherPartition).received).toBe(true)
  })

  it('refuses a request larger than a bound on its own as too large (RECORD_LIST_TOO_LARGE), not as full', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 2 })
    const sidecar = await startTestSidecar(cluster, { maxQueuedRecords: 10, maxQueuedRecordsPerPartition: 4 })
    const client = sidecarClient(sidecar)
    const cases: Array<[Parameters<typeof emitRequest>[1], RegExp]> = [
      [
        Array.from({ length: 11 }, (_, i) => ({ value: bytes(`r${i}`), partition: i % 2 })),
        /11 records, max_queued_records 10/,
      ],
      [
        Array.from({ length: 5 }, (_, i) => ({ value: bytes(`r${i}`), partition: 1 })),
        new RegExp(`5 records for partition ${topic}-1, max_queued_records_per_partition 4`),
      ],
    ]
    for (const [records, reason] of cases) {
      const error = (await emitError(client, emitRequest(topic, records))) as ServiceError
      expect(status[error.code]).toBe('INVALID_ARGUMENT')
      expect(error.details).toMatch(/^request is larger than this sidecar ever queues: /)
      expect(error.details).toMatch(reason)
      expect(error.metadata.get('kafka-error-name')[0]).toBe('RECORD_LIST_TOO_LARGE')
    }
    // What fits is still taken.
    const ack = await emit(
      client,
      emitRequest(
        topic,
        Array.from({ length: 4 }, (_, i) => ({ value: bytes(`ok${i}`), partition: 0 })),
      ),
    )
    expect(ack.results.every((r) => r.error === undefined)).toBe(true)
  })
})
