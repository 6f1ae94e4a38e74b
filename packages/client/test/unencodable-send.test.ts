/**
 * A send with a number no field of the contract can carry is refused alone. (A timeout the
 * contract cannot carry goes to the direct path before: sidecar-path-limits.ts. A timestamp that
 * is not a number reaches the encoder.) grpc-js cancels the whole stream when its serializer throws: every send in flight on it
 * then failed with an unknown outcome and went to the direct path, where the records the sidecar
 * had already taken were written a second time.
 */
import { randomTopic, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import { describe, expect, it } from 'vitest'
import { SIDECAR_EVENTS } from '../src/index.js'
import { connectedProducer } from './helpers.js'

describe('sidecar mode: a send the contract cannot carry', () => {
  it('is refused alone, naming the problem; the sends beside it are written once, through the sidecar', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const topic = randomTopic('unencodable')
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)
    const producer = await connectedProducer({ cluster, mode: 'sidecar', address: sidecar.address })
    const fallbacks: unknown[] = []
    producer.on(SIDECAR_EVENTS.FALLBACK, (event) => void fallbacks.push(event.payload))

    const good = Array.from({ length: 20 }, (_, i) => producer.send({ topic, messages: [{ value: `good-${i}` }] }))
    // A send of its own (other acks), so the coalescer does not merge it with the others.
    const bad = producer.send({ topic, acks: 1, messages: [{ value: 'bad', timestamp: 'soon' }] })
    const more = producer.send({ topic, messages: [{ value: 'after' }] })

    await expect(bad).rejects.toThrow(/cannot be encoded for the sidecar \(.*NaN/)
    await Promise.all([...good, more])
    const values = (await cluster.records(topic)).map((r) => String(r.value)).sort()
    expect(values).toEqual([...Array.from({ length: 20 }, (_, i) => `good-${i}`), 'after'].sort())
    expect(fallbacks).toEqual([])
  })
})
