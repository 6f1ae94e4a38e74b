/**
 * Per-partition order across a switch between the sidecar and the direct path (the PathGate):
 * what is in flight on one path settles before the other path writes, sends resent after a
 * failure keep their place, and KafkaJS's direct producer gets sends in the order they were made.
 */
import { createConnection, createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import kafkajs from 'kafkajs'
import { describe, expect, it, onTestFinished } from 'vitest'
import { randomTopic, spawnSidecar, startCluster, tempDir, waitFor } from '@kafka-sidecar/test-support'
import type { DeliveryReport } from '../src/index.js'
import { PathGate, type PathName } from '../src/path/path-gate.js'
import { checkPerKeyOrder, idOf, KeyedSender, storedId } from './fault-helpers.js'
import { clientProducer, connectedProducer } from './helpers.js'

describe('PathGate', () => {
  /** Enters each path in turn and records the order in which sends are admitted. */
  function recorder(gate: PathGate) {
    const admitted: string[] = []
    const enter = (name: string, path: PathName, ticket?: number) =>
      gate.enter(path, ticket).then(() => void admitted.push(name))
    return { admitted, enter }
  }
  const turn = () => new Promise((resolve) => setImmediate(resolve))

  it('admits sends on the current path at once, and a switch only once the other path is empty', async () => {
    const gate = new PathGate()
    const { admitted, enter } = recorder(gate)
    void enter('s1', 'sidecar')
    void enter('s2', 'sidecar')
    await turn()
    expect(admitted).toEqual(['s1', 's2'])
    void enter('d1', 'direct')
    void enter('s3', 'sidecar') // behind the waiting switch, though its path is the current one
    await turn()
    expect(admitted).toEqual(['s1', 's2'])
    gate.leave()
    await turn()
    expect(admitted).toEqual(['s1', 's2'])
    gate.leave()
    await turn()
    expect(admitted).toEqual(['s1', 's2', 'd1'])
    gate.leave()
    await turn()
    expect(admitted).toEqual(['s1', 's2', 'd1', 's3'])
    expect(gate.activePath).toBe('sidecar')
  })

  it('a send switched to the other path after a failure keeps its place ahead of later sends', async () => {
    const gate = new PathGate()
    const { admitted, enter } = recorder(gate)
    const tickets = [gate.ticket(), gate.ticket(), gate.ticket()]
    void enter('a', 'sidecar', tickets[0])
    void enter('b', 'sidecar', tickets[1])
    void enter('c', 'sidecar', tickets[2])
    await turn()
    admitted.length = 0
    void enter('later', 'direct') // arrives while a, b and c are in flight on the sidecar
    // They fail in another order than they were sent (c, then a, then b) and go direct.
    for (const [name, ticket] of [
      ['c', tickets[2]],
      ['a', tickets[0]],
      ['b', tickets[1]],
    ] as const) {
      void gate.switchTo('direct', ticket).then(() => void admitted.push(name))
    }
    await turn()
    expect(admitted).toEqual(['a', 'b', 'c', 'later'])
    expect(gate.activePath).toBe('direct')
  })
})

describe('ordering across a switch, for real', () => {
  it(
    'sidecar -> direct -> sidecar: a send that must go direct waits while an earlier one is in flight on a frozen sidecar, and the next waits for it',
    { timeout: 20_000 },
    async () => {
      const cluster = await startCluster()
      const topic = randomTopic('gate')
      await cluster.createTopic({ topic, partitions: 1 })
      const sidecar = await spawnSidecar(cluster, join(await tempDir(), 'sidecar.sock'))
      const reports: DeliveryReport[] = []
      const producer = await connectedProducer({
        cluster,
        mode: 'sidecar',
        address: sidecar.address,
        config: { onDelivery: (r) => void reports.push(r) },
        // Pings unanswered for 10 s would end the connection: longer than the freeze below.
        sidecar: { connectTimeoutMs: 10_000, livenessTimeoutMs: 10_000 },
      })
      const settled: string[] = []
      const send = (id: string, timeout?: number) =>
        producer
          .send({ topic, timeout, messages: [{ key: 'k', value: id, headers: { id } }] })
          .then(() => void settled.push(id))
      await send('k:0')

      sidecar.signal('SIGSTOP')
      const first = send('k:1') // in flight on the frozen sidecar
      await new Promise((resolve) => setImmediate(resolve))
      const direct = send('k:2', -1) // a timeout the sidecar cannot carry: this send goes direct, as KafkaJS passes it on
      const third = send('k:3') // back to the sidecar, behind k:2
      // Give a gate-less client every chance to write k:2 directly (and k:3), then check it did not.
      await new Promise((resolve) => setTimeout(resolve, 500))
      expect((await cluster.records(topic)).map(storedId)).toEqual(['k:0'])
      expect(settled).toEqual(['k:0'])

      sidecar.signal('SIGCONT') // k:1 is written and answered; then k:2 goes direct, then k:3 through the sidecar
      await Promise.all([first, direct, third])
      expect(settled).toEqual(['k:0', 'k:1', 'k:2', 'k:3'])
      expect((await cluster.records(topic)).map(storedId)).toEqual(['k:0', 'k:1', 'k:2', 'k:3'])
      await waitFor('every report', () => reports.length === 4)
      expect(reports.map((r) => [idOf(r), r.path])).toEqual([
        ['k:0', 'sidecar'],
        ['k:1', 'sidecar'],
        ['k:2', 'direct'],
        ['k:3', 'sidecar'],
      ])
    },
  )

  it(
    'direct -> sidecar: a send going back to the sidecar waits while an earlier one is still in flight on the direct path',
    { timeout: 20_000 },
    async () => {
      const cluster = await startCluster()
      const topic = randomTopic('back')
      await cluster.createTopic({ topic, partitions: 1 })
      const sidecar = await spawnSidecar(cluster, join(await tempDir(), 'sidecar.sock'))
      const reports: DeliveryReport[] = []
      const producer = await connectedProducer({
        cluster,
        mode: 'sidecar',
        address: sidecar.address,
        config: { onDelivery: (r) => void reports.push(r) },
        sidecar: {
          connectTimeoutMs: 10_000,
          livenessTimeoutMs: 1_000,
          breaker: { volumeThreshold: 1, errorThresholdPercentage: 1, resetTimeoutMs: 1_000 },
        },
      })
      const halfOpen = new Promise<void>((resolve) => producer.on(producer.events.BREAKER_HALF_OPEN, () => resolve()))
      const settled: string[] = []
      const send = (id: string, extra: { timeout?: number; compression?: number } = {}) =>
        producer
          .send({ topic, ...extra, messages: [{ key: 'k', value: id, headers: { id } }] })
          .then(() => void settled.push(id))
      await send('k:0')

      // Open the breaker: k:1 gets no answer (nor its pings) from a frozen sidecar and is written directly.
      sidecar.signal('SIGSTOP')
      await send('k:1')
      expect(producer.breakerState).toBe('open')
      sidecar.signal('SIGCONT')

      // k:2 goes direct and stays in flight for 2 s (this process's gzip is made slow on purpose).
      const codecs = kafkajs.CompressionCodecs as Record<
        number,
        () => { compress(e: unknown): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> }
      >
      const gzip = codecs[kafkajs.CompressionTypes.GZIP]!
      codecs[kafkajs.CompressionTypes.GZIP] = () => ({
        compress: async (encoder) => {
          await new Promise((resolve) => setTimeout(resolve, 2_000))
          return gzip().compress(encoder)
        },
        decompress: (buffer) => gzip().decompress(buffer),
      })
      onTestFinished(() => void (codecs[kafkajs.CompressionTypes.GZIP] = gzip))
      const slow = send('k:2', { compression: kafkajs.CompressionTypes.GZIP })
      await halfOpen
      // k:3 is the half-open probe: it must wait for k:2 rather than overtake it through the sidecar.
      const probe = send('k:3')
      await Promise.all([slow, probe])
      expect(settled).toEqual(['k:0', 'k:1', 'k:2', 'k:3'])
      expect([...new Set((await cluster.records(topic)).map(storedId))]).toEqual(['k:0', 'k:1', 'k:2', 'k:3'])
      expect(producer.breakerState).toBe('closed')
      await waitFor('every report', () => reports.length === 4)
      expect(reports.map((r) => [idOf(r), r.path])).toEqual([
        ['k:0', 'sidecar'],
        ['k:1', 'direct'],
        ['k:2', 'direct'],
        ['k:3', 'sidecar'],
      ])
    },
  )

  it('direct: sends started in one tick reach the partition in send order (KafkaJS 2.2.4 alone swaps the last two)', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('burst')
    await cluster.createTopic({ topic, partitions: 3 })
    const producer = await connectedProducer({ cluster, mode: 'direct' })
    const expected = new Map<string, string[]>()
    for (let round = 0; round < 20; round++) {
      const key = `key-${round % 4}`
      const ids = Array.from({ length: 2 + (round % 4) }, (_, i) => `${key}:${round}:${i}`)
      expected.set(key, [...(expected.get(key) ?? []), ...ids])
      await Promise.all(ids.map((id) => producer.send({ topic, messages: [{ key, value: id, headers: { id } }] })))
    }
    const stored = new Map<string, string[]>()
    for (const r of await cluster.records(topic))
      stored.set(r.key!.toString(), [...(stored.get(r.key!.toString()) ?? []), storedId(r)])
    expect(stored).toEqual(expected)
  })

  it(
    "direct, cold: sends made together while metadata is slow (a fallback's first seconds) reach the partition in call order",
    { timeout: 30_000 },
    async () => {
      const cluster = await startCluster()
      const topic = randomTopic('cold')
      await cluster.createTopic({ topic, partitions: 6 })
      // The bootstrap broker answers 1.5 s late: the first send waits that long (or more) for the
      // topic's metadata, longer than a send waits for the one before it once partitioned.
      const proxy = await slowBootstrap(cluster.bootstrapServers[0]!, 1_500)
      onTestFinished(() => proxy.close())
      const producer = clientProducer({
        cluster: { ...cluster, bootstrapServers: [proxy.address] } as typeof cluster,
        mode: 'direct',
      })
      await producer.connect()
      // As at a fallback: 4 keys, 3 sends each in flight, each key's next send when one settles.
      const sender = new KeyedSender(producer, topic, ['a', 'b', 'c', 'd'], { window: 3, pauseMs: 2 })
      sender.start()
      await waitFor('sends acked past the cold start', () => sender.acked.length >= 200, 20_000)
      await sender.stop()
      const order = checkPerKeyOrder(await cluster.records(topic))
      expect(order.violations).toEqual([])
      expect(order.duplicates).toBe(0)
    },
  )

  it(
    'direct: sends to a topic that does not exist never hold up sends to other topics',
    { timeout: 60_000 },
    async () => {
      const cluster = await startCluster({ autoCreateTopics: false })
      const healthy = randomTopic('healthy')
      await cluster.createTopic({ topic: healthy, partitions: 1 })
      const producer = await connectedProducer({
        cluster,
        mode: 'direct',
        config: { allowAutoTopicCreation: false, retry: { retries: 3, initialRetryTime: 200 } },
      })
      const missing = randomTopic('missing')
      const stuck = [0, 1, 2].map((i) =>
        producer.send({ topic: missing, messages: [{ value: `m${i}` }] }).catch((error: Error) => error),
      )
      await new Promise((resolve) => setTimeout(resolve, 100))
      const started = Date.now()
      await producer.send({ topic: healthy, messages: [{ value: 'on time' }] })
      expect(Date.now() - started).toBeLessThan(1_000)
      for (const error of await Promise.all(stuck)) expect(error).toBeInstanceOf(Error)
    },
  )

  it(
    'direct: keeping that order never holds other sends up for long behind one that is stuck',
    { timeout: 20_000 },
    async () => {
      const cluster = await startCluster()
      const topic = randomTopic('stuck')
      await cluster.createTopic({ topic, partitions: 2 })
      const producer = await connectedProducer({ cluster, mode: 'direct', config: { retry: { retries: 0 } } })
      await producer.send({ topic, messages: [{ value: 'warm', partition: 1 }] })

      // A codec that takes 3 s to compress: a send using it is stuck inside KafkaJS, on a
      // partition this producer has not written yet (so the next send would wait for it).
      const codecs = kafkajs.CompressionCodecs as Record<number, () => unknown>
      const original = codecs[kafkajs.CompressionTypes.ZSTD]
      codecs[kafkajs.CompressionTypes.ZSTD] = () => ({
        compress: async (encoder: { buffer: Buffer }) => {
          await new Promise((resolve) => setTimeout(resolve, 3_000))
          return encoder.buffer
        },
        decompress: async (buffer: Buffer) => buffer,
      })
      onTestFinished(() => void (codecs[kafkajs.CompressionTypes.ZSTD] = original))
      let stuckSettled = false
      const stuck = producer
        .send({ topic, compression: kafkajs.CompressionTypes.ZSTD, messages: [{ value: 'stuck', partition: 0 }] })
        .finally(() => (stuckSettled = true))
      stuck.catch(() => {})

      const started = Date.now()
      await producer.send({ topic, messages: [{ value: 'after', partition: 1 }] })
      expect(Date.now() - started).toBeLessThan(1_800)
      expect(stuckSettled).toBe(false)
      await Promise.allSettled([stuck])
    },
  )
})

/** A TCP proxy to one broker that holds each answer `delayMs` before passing it on. */
async function slowBootstrap(target: string, delayMs: number): Promise<{ address: string; close: () => void }> {
  const [host, port] = target.split(':')
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = createConnection(Number(port), host)
    for (const socket of [client, upstream]) sockets.add(socket)
    upstream.on('data', (chunk) => setTimeout(() => client.destroyed || client.write(chunk), delayMs))
    client.on('data', (chunk) => upstream.write(chunk))
    const close = () => {
      client.destroy()
      upstream.destroy()
    }
    for (const socket of [client, upstream]) socket.on('error', close).on('close', close)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    address: `127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () => {
      server.close()
      for (const socket of sockets) socket.destroy()
    },
  }
}
