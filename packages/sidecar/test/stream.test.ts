import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { randomTopic, startCluster, startTestSidecar, waitFor } from '@kafka-sidecar/test-support'
import { bytes, emitRequest, sidecarClient } from './helpers.js'
import { TestStream } from './stream-helpers.js'

describe('EmitStream', () => {
  it('acks many pipelined requests by request id and writes every record', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 3 })
    const sidecar = await startTestSidecar(cluster)
    const stream = new TestStream(sidecarClient(sidecar))
    const instanceId = `instance-${randomUUID()}`
    const requests = Array.from({ length: 50 }, (_, r) =>
      emitRequest(
        topic,
        Array.from({ length: 20 }, (_, i) => ({ key: bytes(`key-${i % 6}`), value: bytes(`${r}:${i}`) })),
        { instanceId },
      ),
    )
    const acks = await Promise.all(requests.map((request) => stream.send(request)))
    expect(acks.map((a) => a.requestId)).toEqual(requests.map((r) => r.requestId))
    for (const ack of acks) {
      expect(ack.received).toBe(true)
      expect(ack.results.flatMap((r) => r.recordIndexes).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 20 }, (_, i) => i),
      )
      expect(ack.results.every((r) => r.error === undefined)).toBe(true)
    }
    expect(await cluster.records(topic)).toHaveLength(1000)
    await stream.end()
  })

  it('gives each record the offset its ack promised', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 2 })
    const sidecar = await startTestSidecar(cluster)
    const stream = new TestStream(sidecarClient(sidecar))
    const requests = Array.from({ length: 10 }, (_, r) =>
      emitRequest(
        topic,
        Array.from({ length: 7 }, (_, i) => ({ value: bytes(`${r}:${i}`), partition: i % 2 })),
      ),
    )
    const acks = await Promise.all(requests.map((request) => stream.send(request)))
    const records = await cluster.records(topic)
    for (const [r, ack] of acks.entries()) {
      for (const result of ack.results) {
        result.recordIndexes.forEach((index, position) => {
          const stored = records.find(
            (s) => s.partition === result.partition && s.offset === result.baseOffset + position,
          )
          expect(stored?.value?.toString()).toBe(`${r}:${index}`)
        })
      }
    }
  })

  it('keeps per-partition order for every client while many clients write concurrently', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 4 })
    const sidecar = await startTestSidecar(cluster)
    const clients = 6
    const requestsPerClient = 40
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        const stream = new TestStream(sidecarClient(sidecar))
        const instanceId = `client-${c}`
        const pending = []
        let seq = 0
        for (let r = 0; r < requestsPerClient; r++) {
          const records = Array.from({ length: 5 }, () => ({
            key: bytes(`c${c}-k${seq % 3}`),
            value: bytes(`${c}:${seq++}`),
          }))
          pending.push(stream.send(emitRequest(topic, records, { instanceId })))
          if (r % 7 === 0) await new Promise((resolve) => setImmediate(resolve))
        }
        const acks = await Promise.all(pending)
        expect(acks.every((a) => a.received && a.results.every((res) => !res.error))).toBe(true)
        await stream.end()
      }),
    )
    const records = await cluster.records(topic)
    expect(records).toHaveLength(clients * requestsPerClient * 5)
    const lastSeqByKey = new Map<string, number>()
    for (const record of records) {
      const [client, seq] = record.value!.toString().split(':').map(Number)
      const key = `${record.partition}/${record.key!.toString()}/${client}`
      expect(seq).toBeGreaterThan(lastSeqByKey.get(key) ?? -1)
      lastSeqByKey.set(key, seq!)
    }
  })

  it('answers fire-and-forget requests as soon as they are queued', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    const sidecar = await startTestSidecar(cluster)
    const stream = new TestStream(sidecarClient(sidecar))
    const ack = await stream.send(emitRequest(topic, [{ value: bytes('queued') }], { awaitDelivery: false }))
    expect(ack).toMatchObject({ received: true, results: [] })
    await waitFor(
      'the record in the cluster',
      async () => cluster.topics().includes(topic) && (await cluster.records(topic)).length === 1,
    )
  })
})
