/**
 * CreateTime of a record sent without a timestamp: KafkaJS stamps the application's Date.now()
 * when it builds the batch, so the record's time falls within the send, by the application's
 * clock. Through the sidecar the client stamps it at send(), so the same holds, rather than the
 * sidecar's clock when it encodes. Issue 12, finding 6c.
 *
 * The sidecar runs as its own process (as in a pod), and this process's clock is set an hour
 * back for the sends: a record stamped by the sidecar's clock falls outside the send's window.
 */
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { randomTopic, spawnSidecar, startCluster, tempDir } from '@kafka-sidecar/test-support'
import { connectedProducer } from './helpers.js'

const HOUR = 3_600_000

describe('CreateTime of records without a timestamp', () => {
  it.each(['direct', 'sidecar'] as const)('%s mode: within the send, by the application clock', async (mode) => {
    const cluster = await startCluster({ brokers: 1 })
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = mode === 'sidecar' ? await spawnSidecar(cluster, join(await tempDir(), 'sidecar.sock')) : null
    const producer = await connectedProducer({
      cluster,
      mode,
      address: sidecar?.address,
      sidecar: { connectTimeoutMs: 10_000 },
    })
    await producer.send({ topic, messages: [{ value: 'warm-up' }] })

    const realNow = Date.now.bind(Date)
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => realNow() - HOUR)
    let window: [number, number]
    try {
      const before = Date.now()
      await producer.send({ topic, messages: [{ value: 'stamped' }, { value: 'given', timestamp: '1700000000000' }] })
      window = [before, Date.now()]
    } finally {
      clock.mockRestore()
    }
    const [stamped, given] = (await cluster.records(topic)).slice(1)
    expect(stamped!.timestamp).toBeGreaterThanOrEqual(window[0])
    expect(stamped!.timestamp).toBeLessThanOrEqual(window[1])
    expect(given!.timestamp).toBe(1_700_000_000_000)
  })
})
