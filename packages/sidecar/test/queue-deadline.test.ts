/**
 * A record still queued when its request's window runs out (its timeout, or the sidecar's request
 * timeout when longer) is failed unsent (REQUEST_TIMED_OUT, retriable) and never written later:
 * the caller hears a definite "not written" within its own deadline instead of an unknown outcome
 * it would have to re-send. A short send timeout is the broker's, as in KafkaJS: it does not
 * shorten the window.
 */
import { describe, expect, it } from 'vitest'
import { randomTopic, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import { bytes, emit, emitRequest, sidecarClient } from './helpers.js'

describe('queued records past their request window', () => {
  it(
    'are failed unsent with REQUEST_TIMED_OUT, and not written when the brokers come back',
    { timeout: 30_000 },
    async () => {
      const cluster = await startCluster({ brokers: 3 })
      const topic = randomTopic()
      await cluster.createTopic({ topic, partitions: 1 })
      // A long broker check keeps the sidecar accepting while the brokers are down.
      const sidecar = await startTestSidecar(cluster, { kafkaProbeIntervalMs: 60_000, requestTimeoutMs: 1_000 })
      const client = sidecarClient(sidecar)
      await emit(client, emitRequest(topic, [{ value: bytes('warm-up'), partition: 0 }]))
      await cluster.stopBrokers()

      // The first request goes to KafkaJS at once and waits in its retries; the second queues behind it.
      const inFlight = emit(
        client,
        emitRequest(topic, [{ value: bytes('in-flight'), partition: 0 }], { timeoutMs: 20_000 }),
      )
      // Let it leave for the brokers first, so the next request cannot join its batch.
      await new Promise((resolve) => setTimeout(resolve, 300))
      const started = Date.now()
      const queued = await emit(
        client,
        emitRequest(topic, [{ value: bytes('queued'), partition: 0 }], { timeoutMs: 1_000 }),
      )
      const tookMs = Date.now() - started
      expect(queued.received).toBe(true)
      expect(queued.results).toHaveLength(1)
      expect(queued.results[0]!.error).toMatchObject({
        kafkaErrorName: 'REQUEST_TIMED_OUT',
        kafkaErrorCode: 7,
        retriable: true,
      })
      expect(queued.results[0]!.error!.message).toMatch(/^not sent: waited \d+ ms in the sidecar queue/)
      expect(tookMs).toBeGreaterThanOrEqual(900)
      expect(tookMs).toBeLessThan(5_000)

      await cluster.startBrokers()
      await inFlight
      const values = (await cluster.records(topic)).map((r) => r.value!.toString())
      expect(values).not.toContain('queued')
      expect(values).toContain('warm-up')
    },
  )

  it(
    'with a timeout shorter than the window (1 s), wait the window: written when the brokers come back 2.5 s later',
    { timeout: 30_000 },
    async () => {
      const cluster = await startCluster({ brokers: 3 })
      const topic = randomTopic()
      await cluster.createTopic({ topic, partitions: 1 })
      const sidecar = await startTestSidecar(cluster, { kafkaProbeIntervalMs: 60_000 })
      const client = sidecarClient(sidecar)
      await emit(client, emitRequest(topic, [{ value: bytes('warm-up'), partition: 0 }]))
      await cluster.stopBrokers()
      const inFlight = emit(client, emitRequest(topic, [{ value: bytes('in-flight'), partition: 0 }], { timeoutMs: 0 }))
      await new Promise((resolve) => setTimeout(resolve, 300))
      const queued = emit(client, emitRequest(topic, [{ value: bytes('queued'), partition: 0 }], { timeoutMs: 1_000 }))
      await new Promise((resolve) => setTimeout(resolve, 2_500))
      await cluster.startBrokers()
      const acks = await Promise.all([inFlight, queued])
      expect(acks.map((a) => a.results.map((r) => r.error))).toEqual([[undefined], [undefined]])
      expect((await cluster.records(topic)).map((r) => r.value!.toString())).toEqual(['warm-up', 'in-flight', 'queued'])
    },
  )
})
