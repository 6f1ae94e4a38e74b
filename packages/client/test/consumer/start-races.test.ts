/**
 * A start asks the sidecar which cluster it reads before it joins (consumer-cluster.ts), so
 * there is a moment between run() and the join. run() again, or stop(), in that moment must do
 * what KafkaJS does: a second run() is warned about and changes nothing; a stop() means nothing
 * starts.
 */
import { describe, expect, it } from 'vitest'
import { waitFor } from '@kafka-sidecar/test-support'
import { sidecarConsumer } from './in-memory-transport.js'

const P0 = { topic: 't', partition: 0, assignmentId: 1 }

describe('run() and stop() while a start asks the sidecar its cluster', () => {
  it('a second run() meanwhile joins nothing more and keeps the first handlers', async () => {
    const { consumer, transport } = sidecarConsumer()
    await consumer.subscribe({ topic: 't' })
    const seen: string[] = []
    const first = consumer.run({ eachMessage: async () => void seen.push('first') })
    const second = consumer.run({ eachMessage: async () => void seen.push('second') })
    await second
    await waitFor('the join', () => transport.listener !== null, 2_000)
    transport.assign([P0])
    await first
    transport.deliver(P0, [{ offset: 0 }])
    await waitFor('the record handled', () => seen.length === 1, 2_000)
    expect(seen).toEqual(['first'])
    expect(transport.sent.filter((s) => s.kind === 'join')).toHaveLength(1)
    await consumer.disconnect()
  })

  it('stop() meanwhile: nothing joins, nothing runs', async () => {
    const { consumer, transport } = sidecarConsumer()
    await consumer.subscribe({ topic: 't' })
    const running = consumer.run({ eachMessage: async () => {} })
    await consumer.stop()
    await running
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(transport.sent.filter((s) => s.kind === 'join')).toHaveLength(0)
    expect(transport.listener).toBeNull()
  })
})
