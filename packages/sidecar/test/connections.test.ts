/**
 * The sidecar exists to hold one producer's worth of broker connections for a whole pod: its
 * topic-metadata reads must not open a second pool.
 */
import { describe, expect, it } from 'vitest'
import { randomTopic, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import { bytes, emit, emitRequest, sidecarClient } from './helpers.js'

describe('broker connections', () => {
  it('holds one connection per broker, metadata reads and auto-creation included', async () => {
    const cluster = await startCluster({ brokers: 3 })
    const topic = randomTopic()
    // Six partitions over three brokers: the producer writes to every broker.
    await cluster.createTopic({ topic, partitions: 6 })
    const sidecar = await startTestSidecar(cluster)
    const client = sidecarClient(sidecar)
    cluster.resetConnectionStats()
    await emit(
      client,
      emitRequest(
        topic,
        Array.from({ length: 6 }, (_, partition) => ({ value: bytes(`v${partition}`), partition })),
      ),
    )
    // An unknown topic goes through a Metadata request that the brokers answer by creating it.
    await emit(client, emitRequest(randomTopic('auto'), [{ value: bytes('auto-created') }]))
    const stats = cluster.connectionStats()
    expect(stats.map((s) => s.current)).toEqual([1, 1, 1])
    expect(stats.map((s) => s.peak)).toEqual([1, 1, 1])
  })
})
