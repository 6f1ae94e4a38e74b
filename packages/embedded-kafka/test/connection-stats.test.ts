import { describe, expect, it } from 'vitest'
import { connectedProducer, kafkaFor, randomTopic, startCluster, waitFor } from '@kafka-sidecar/test-support'

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0)

describe('connection stats', () => {
  it('count current, peak and total connections per broker as clients come and go', async () => {
    const cluster = await startCluster({ brokers: 3 })
    expect(cluster.connectionStats()).toEqual(
      [1, 2, 3].map((brokerId) => ({ brokerId, current: 0, peak: 0, total: 0, clientIds: [] })),
    )

    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 3 }) // one partition led by each broker
    const producers = await Promise.all(['app-a', 'app-b'].map((id) => connectedProducer(kafkaFor(cluster, id))))
    for (const producer of producers)
      await producer.send({ topic, messages: [0, 1, 2].map((partition) => ({ partition, value: 'x' })) })

    const during = cluster.connectionStats()
    for (const broker of during) {
      // Each producer holds at least one connection to every broker leading a partition it writes.
      expect(broker.current).toBeGreaterThanOrEqual(2)
      expect(broker.clientIds).toEqual(expect.arrayContaining(['app-a', 'app-b']))
    }
    const peakDuring = sum(during.map((b) => b.peak))

    await Promise.all(producers.map((p) => p.disconnect()))
    await waitFor('all connections closed', () => sum(cluster.connectionStats().map((b) => b.current)) === 0)
    const after = cluster.connectionStats()
    expect(sum(after.map((b) => b.peak))).toBe(peakDuring)
    expect(sum(after.map((b) => b.total))).toBeGreaterThanOrEqual(sum(during.map((b) => b.current)))

    cluster.resetConnectionStats()
    expect(cluster.connectionStats().map((b) => [b.current, b.peak, b.total, b.clientIds.length])).toEqual([
      [0, 0, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ])
  })
})
