/**
 * A full sidecar (RESOURCE_EXHAUSTED with retry_after_ms) is backpressure, not failure: the client
 * waits what the sidecar asked and tries again for up to backpressureRetryMs, never falls back, keeps
 * the breaker closed, and when room never comes gives KafkaJS's retriable error.
 */
import kafkajs from 'kafkajs'
import type { RunningSidecar } from '@kafka-sidecar/sidecar'
import { describe, expect, it } from 'vitest'
import { randomTopic, startCluster, startTestSidecar, waitFor } from '@kafka-sidecar/test-support'
import type { DeliveryReport } from '../src/index.js'
import { idOf } from './fault-helpers.js'
import { connectedProducer } from './helpers.js'

/** The sidecar's own count of records by stage (attempted, accepted, rejected, acked, failed). */
async function sidecarRecords(sidecar: RunningSidecar, stage: string): Promise<number> {
  const metric = await sidecar.metrics.registry.getSingleMetric('kafka_sidecar_records_total')!.get()
  return metric.values.filter((v) => v.labels.stage === stage).reduce((n, v) => n + v.value, 0)
}

describe('backpressure from a full sidecar', () => {
  async function fullSidecar(backpressureRetryMs?: number) {
    const cluster = await startCluster()
    const topic = randomTopic('full')
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster, { maxQueuedRecords: 5, requestTimeoutMs: 20_000 })
    const reports: DeliveryReport[] = []
    const seen = { fallbacks: 0, breakerOpened: 0 }
    const producer = await connectedProducer({
      cluster,
      mode: 'sidecar',
      address: sidecar.address,
      config: { onDelivery: (r) => void reports.push(r) },
      sidecar: { backpressureRetryMs },
    })
    producer.on(producer.events.FALLBACK, () => void seen.fallbacks++)
    producer.on(producer.events.BREAKER_OPEN, () => void seen.breakerOpened++)
    await producer.send({ topic, messages: [{ value: 'warm', headers: { id: 'warm' } }] })

    // With the brokers gone nothing drains: five held records fill the sidecar.
    await cluster.stopBrokers()
    const held = producer.send({
      topic,
      timeout: 20_000,
      messages: Array.from({ length: 5 }, (_, i) => ({ value: `held-${i}`, headers: { id: `held-${i}` } })),
    })
    await waitFor('the held records to be queued', async () => (await sidecarRecords(sidecar, 'accepted')) === 6)
    return { cluster, topic, sidecar, producer, reports, seen, held }
  }

  it(
    'waits and retries while the sidecar is full, then succeeds through it once there is room',
    { timeout: 20_000 },
    async () => {
      const { cluster, topic, sidecar, producer, reports, seen, held } = await fullSidecar()
      const waiting = producer.send({
        topic,
        timeout: 15_000,
        messages: [{ value: 'patient', headers: { id: 'patient' } }],
      })
      await waitFor(
        'the sidecar to refuse the waiting send more than once',
        async () => (await sidecarRecords(sidecar, 'rejected')) >= 2,
      )
      expect(producer.breakerState).toBe('closed')

      await cluster.startBrokers()
      await held
      const metadata = await waiting
      expect(metadata).toHaveLength(1)
      expect(seen).toEqual({ fallbacks: 0, breakerOpened: 0 })
      expect(producer.breakerState).toBe('closed')
      expect(producer.directConnected).toBe(false)
      expect((await cluster.records(topic)).map((r) => r.value!.toString())).toEqual([
        'warm',
        'held-0',
        'held-1',
        'held-2',
        'held-3',
        'held-4',
        'patient',
      ])
      await waitFor('every report', () => reports.length === 7)
      expect(reports.find((r) => idOf(r) === 'patient')).toMatchObject({ path: 'sidecar', error: null, offset: '6' })
    },
  )

  it(
    'gives a retriable KafkaJSError when room does not come within backpressureRetryMs, without falling back',
    { timeout: 20_000 },
    async () => {
      const timeout = 1_000
      const { cluster, topic, sidecar, producer, reports, seen, held } = await fullSidecar(timeout)
      const started = Date.now()
      let error: Error | undefined
      try {
        await producer.send({ topic, messages: [{ value: 'refused', headers: { id: 'refused' } }] })
      } catch (e) {
        error = e as Error
      }
      const took = Date.now() - started
      expect(error).toBeInstanceOf(kafkajs.KafkaJSError)
      expect(error).not.toBeInstanceOf(kafkajs.KafkaJSNonRetriableError)
      expect(error).toMatchObject({ retriable: true })
      expect(error!.message).toMatch(/sidecar queue is full \(queued records would reach 6 of 5\)/)
      expect(took).toBeLessThanOrEqual(timeout + 500)
      expect(took).toBeGreaterThanOrEqual(timeout - 2_000) // at most one retry_after (<= 2 s) short of it
      expect(await sidecarRecords(sidecar, 'rejected')).toBeGreaterThanOrEqual(2) // it did retry
      expect(seen).toEqual({ fallbacks: 0, breakerOpened: 0 })
      expect(producer.breakerState).toBe('closed')
      expect(producer.directConnected).toBe(false)

      const failed = reports.filter((r) => idOf(r) === 'refused')
      expect(failed).toHaveLength(1)
      expect(failed[0]).toMatchObject({ path: 'sidecar', offset: null, error: { retriable: true } })

      await cluster.startBrokers()
      await held
      expect((await cluster.records(topic)).map((r) => r.value!.toString())).toEqual([
        'warm',
        'held-0',
        'held-1',
        'held-2',
        'held-3',
        'held-4',
      ])
    },
  )

  it(
    "keeps each producer's send order in a partition while the sidecar refuses and takes sends by turns",
    { timeout: 60_000 },
    async () => {
      // A queue of 16 records against 3 producers with 48 single-record sends in flight each: most
      // messages meet a full queue, and room opens between one message and the next. A refused
      // send must not be overtaken by a later send of its producer that found room.
      const cluster = await startCluster()
      const topic = randomTopic('order')
      await cluster.createTopic({ topic, partitions: 1 })
      const sidecar = await startTestSidecar(cluster, { maxQueuedRecords: 16, lingerMs: 1 })
      const producers = await Promise.all(
        [0, 1, 2].map(() => connectedProducer({ cluster, mode: 'sidecar', address: sidecar.address })),
      )
      const perProducer = 600
      const inFlight = 48
      await Promise.all(
        producers.map(async (producer, p) => {
          let next = 0
          const lane = async () => {
            while (next < perProducer) {
              const seq = next++
              await producer.send({ topic, messages: [{ value: `${p}:${seq}` }] })
            }
          }
          await Promise.all(Array.from({ length: inFlight }, lane))
        }),
      )
      expect(await sidecarRecords(sidecar, 'rejected')).toBeGreaterThan(50) // backpressure did happen, often
      const written = await cluster.records(topic)
      expect(written).toHaveLength(3 * perProducer)
      for (let p = 0; p < 3; p++) {
        const sequence = written
          .map((r) => r.value!.toString().split(':').map(Number))
          .filter(([producer]) => producer === p)
          .map(([, seq]) => seq!)
        const outOfOrder = sequence.filter((seq, i) => i > 0 && seq < sequence[i - 1]!).length
        expect({ producer: p, records: sequence.length, outOfOrder }).toEqual({
          producer: p,
          records: perProducer,
          outOfOrder: 0,
        })
      }
      for (const producer of producers) expect(producer.directConnected).toBe(false)
    },
  )
})
