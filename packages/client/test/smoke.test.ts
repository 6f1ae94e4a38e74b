import { describe, expect, it } from 'vitest'
import { randomTopic, startCluster, startTestSidecar, waitFor } from '@kafka-sidecar/test-support'
import type { DeliveryReport } from '../src/index.js'
import { connectedProducer } from './helpers.js'

describe('smoke', () => {
  for (const mode of ['direct', 'sidecar'] as const) {
    it(`${mode}: send resolves with RecordMetadata and delivery callbacks fire`, async () => {
      const cluster = await startCluster()
      const topic = randomTopic()
      await cluster.createTopic({ topic, partitions: 3 })
      const sidecar = mode === 'sidecar' ? await startTestSidecar(cluster) : null
      const reports: DeliveryReport[] = []
      const producer = await connectedProducer({
        cluster,
        mode,
        address: sidecar?.address,
        config: { onDelivery: (r) => void reports.push(r) },
      })
      expect(producer.mode).toBe(mode)
      const result = await producer.send({
        topic,
        messages: [
          { key: 'a', value: '1' },
          { key: 'b', value: '2' },
          { key: 'a', value: '3' },
        ],
      })
      expect(result.map((m) => m.partition).sort()).toEqual([...new Set(result.map((m) => m.partition))].sort())
      await waitFor('3 reports', () => reports.length === 3)
      expect(reports.every((r) => r.path === mode && r.error === null && r.offset !== null)).toBe(true)
      expect(await cluster.records(topic)).toHaveLength(3)
    })
  }
})
