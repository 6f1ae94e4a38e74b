/**
 * A send larger than the sidecar's max_request_bytes fails alone, with KafkaJS's MESSAGE_TOO_LARGE:
 * the stream, the sends merged with it and the breaker are unaffected.
 */
import { describe, expect, it } from 'vitest'
import { randomTopic, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import { KafkaJSProtocolError } from '../src/index.js'
import { connectedProducer } from './helpers.js'

describe('a send over the sidecar request limit', () => {
  it('fails by itself; concurrent small sends succeed through the sidecar, nothing falls back', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 3 })
    const sidecar = await startTestSidecar(cluster, { maxRequestBytes: 64 * 1024, maxRecordBytes: 1_000_000 })
    const producer = await connectedProducer({ cluster, mode: 'sidecar', address: sidecar.address })
    let fallbacks = 0
    producer.on(producer.events.FALLBACK, () => void fallbacks++)
    const small = Array.from({ length: 10 }, (_, i) =>
      producer.send({ topic, messages: [{ key: `k${i}`, value: `small-${i}` }] }),
    )
    const big = producer.send({ topic, messages: [{ key: 'big', value: Buffer.alloc(100 * 1024, 1) }] })
    const bigError = await big.then(
      () => null,
      (e: unknown) => e,
    )
    expect(bigError).toBeInstanceOf(KafkaJSProtocolError)
    expect(bigError).toMatchObject({ type: 'MESSAGE_TOO_LARGE', retriable: false })
    expect(String((bigError as Error).cause)).toMatch(/larger than max_request_bytes 65536/)
    await Promise.all(small)
    expect(fallbacks).toBe(0)
    expect(producer.breakerState).toBe('closed')
    expect((await cluster.records(topic)).map((r) => r.value!.toString()).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `small-${i}`).sort(),
    )
  })
})
