/**
 * Readiness follows the brokers after the first connect: a whole-cluster outage makes the
 * sidecar not ready (and refuse requests, so clients fall back at once); the cluster's return
 * makes it ready again.
 */
import { status } from '@grpc/grpc-js'
import { describe, expect, it } from 'vitest'
import { randomTopic, startCluster, startTestSidecar, waitFor } from '@kafka-sidecar/test-support'
import { bytes, emit, emitError, emitRequest, sidecarClient } from './helpers.js'

async function readyz(httpAddress: string): Promise<number> {
  return (await fetch(`http://${httpAddress}/readyz`)).status
}

describe('Kafka liveness', () => {
  it(
    'goes not ready when every broker stops, refuses requests, and is ready again when they return',
    { timeout: 30_000 },
    async () => {
      const cluster = await startCluster({ brokers: 3 })
      const topic = randomTopic()
      await cluster.createTopic({ topic, partitions: 3 })
      const sidecar = await startTestSidecar(cluster, { kafkaProbeIntervalMs: 200 })
      const client = sidecarClient(sidecar)
      await emit(client, emitRequest(topic, [{ value: bytes('before') }]))
      expect(await readyz(sidecar.httpAddress!)).toBe(200)

      await cluster.stopBrokers()
      await waitFor('/readyz 503', async () => (await readyz(sidecar.httpAddress!)) === 503, 10_000)
      const refused = await emitError(client, emitRequest(topic, [{ value: bytes('during') }]))
      expect(refused.code).toBe(status.UNAVAILABLE)
      expect(refused.details).toContain('not connected to Kafka')

      await cluster.startBrokers()
      await waitFor('/readyz 200', async () => (await readyz(sidecar.httpAddress!)) === 200, 15_000)
      const ack = await emit(client, emitRequest(topic, [{ value: bytes('after') }]))
      expect(ack.received).toBe(true)
      expect((await cluster.records(topic)).map((r) => r.value?.toString()).sort()).toEqual(['after', 'before'])
    },
  )
})
