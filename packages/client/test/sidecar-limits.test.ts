/**
 * Limits KafkaJS does not have, on the sidecar path (issue 12, finding 6d): sends larger than one
 * request are split in order, never refused and never ending the stream; records up to Kafka's
 * own default message.max.bytes pass; codecs the application registered compress its sends as in
 * KafkaJS (those sends go direct, and connect says so); what stays a limit fails with its error.
 */
import { join } from 'node:path'
import kafkajs from 'kafkajs'
import type { Message } from 'kafkajs'
import { describe, expect, it, onTestFinished } from 'vitest'
import { randomTopic, spawnSidecar, startCluster, startTestSidecar, tempDir } from '@kafka-sidecar/test-support'
import { Kafka, logLevel, SIDECAR_EVENTS, type SidecarProducer } from '../src/index.js'
import { clientProducer, connectedProducer, sidecarBesidePlainKafkaJS } from './helpers.js'
import {
  captureLogs,
  connectedPlainProducer,
  normalizeMetadata,
  outcome,
  outcomeFacts,
  recordBytes,
} from './kafkajs-reference.js'

function watchFallbacks(producer: SidecarProducer): unknown[] {
  const fallbacks: unknown[] = []
  producer.on(SIDECAR_EVENTS.FALLBACK, (event) => void fallbacks.push(event.payload))
  return fallbacks
}

describe('sends larger than one sidecar request', () => {
  it('12,000 records in one send (the sidecar takes 10,000 per request): written through the sidecar as KafkaJS writes them', async () => {
    const cluster = await startCluster()
    const [ours, theirs] = [randomTopic(), randomTopic()]
    await cluster.createTopic({ topic: ours, partitions: 3 })
    await cluster.createTopic({ topic: theirs, partitions: 3 })
    const sidecar = await startTestSidecar(cluster)
    const client = await connectedProducer({ cluster, mode: 'sidecar', address: sidecar.address })
    const fallbacks = watchFallbacks(client)
    const plain = await connectedPlainProducer(cluster)
    const messages: Message[] = Array.from({ length: 12_000 }, (_, i) => ({ key: `k${i % 50}`, value: `v${i}` }))
    const want = await plain.send({ topic: theirs, messages })
    const got = await client.send({ topic: ours, messages })
    expect(normalizeMetadata(got, { [ours]: 'T' })).toEqual(normalizeMetadata(want, { [theirs]: 'T' }))
    expect((await cluster.records(ours)).map((r) => recordBytes(r))).toEqual(
      (await cluster.records(theirs)).map((r) => recordBytes(r)),
    )
    expect(fallbacks).toEqual([])
  })

  it('a split send whose later piece is refused as a whole: each record reported once, as failed', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 3 })
    const sidecar = await startTestSidecar(cluster)
    const reports: Array<{ id: string; failed: boolean }> = []
    const client = await connectedProducer({
      cluster,
      mode: 'sidecar',
      address: sidecar.address,
      config: { onDelivery: (r) => void reports.push({ id: String(r.headers?.id), failed: r.error !== null }) },
    })
    // 10,000 records fill the first request, which is written and acked; the second holds a
    // record with more headers than the sidecar takes (the client has no such limit), so the
    // sidecar refuses that request whole, and the send fails.
    const tooMany = Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`h${i}`, 'x']))
    const messages: Message[] = Array.from({ length: 12_000 }, (_, i) => ({
      value: `v${i}`,
      headers: { ...(i === 11_000 ? tooMany : {}), id: String(i) },
    }))
    await expect(client.send({ topic, messages })).rejects.toMatchObject({ type: 'INVALID_RECORD' })
    // Before the first piece's reports waited for its sibling, its 10,000 records were reported
    // written, then failed with the send.
    const perRecord = new Map<string, number>()
    for (const { id } of reports) perRecord.set(id, (perRecord.get(id) ?? 0) + 1)
    expect(perRecord.size).toBe(12_000)
    expect([...perRecord].filter(([, n]) => n !== 1).slice(0, 3)).toEqual([])
    expect(reports.filter((r) => !r.failed).length).toBe(0)
  })

  it(
    'a 40 MB send (past what the sidecar reads in one message) goes through the sidecar in pieces; the stream and the sends beside it are unaffected',
    { timeout: 60_000 },
    async () => {
      const cluster = await startCluster({ brokers: 1 })
      const topic = randomTopic()
      await cluster.createTopic({ topic, partitions: 50 })
      const sidecar = await startTestSidecar(cluster)
      // The sidecar runs in this process: decoding 40 MB stalls the loop the client shares, over a
      // second on a loaded machine, and the sidecar's stall guard would refuse the next piece of a
      // client that could have given up by then (2 s by default). A client that says it waits
      // 10 s is not one.
      const client = await connectedProducer({
        cluster,
        mode: 'sidecar',
        address: sidecar.address,
        sidecar: { livenessTimeoutMs: 10_000 },
      })
      const fallbacks = watchFallbacks(client)
      const big = Array.from({ length: 50 }, (_, i) => ({ partition: i, value: Buffer.alloc(800_000, i) }))
      const small = Array.from({ length: 10 }, (_, i) =>
        client.send({ topic, messages: [{ partition: 0, value: `small-${i}` }] }),
      )
      const metadata = await client.send({ topic, messages: big })
      await Promise.all(small)
      expect(metadata).toHaveLength(50)
      expect(fallbacks).toEqual([])
      expect(client.breakerState).toBe('closed')
      expect(client.directConnected).toBe(false)
      expect((await cluster.records(topic)).length).toBe(60)
    },
  )
})

describe('record size', () => {
  it("a record of 1,040,000 bytes, within Kafka's default message.max.bytes, is written as KafkaJS writes it", async () => {
    const { cluster, ours, theirs, client, plain } = await sidecarBesidePlainKafkaJS()
    const messages = [{ key: 'big', value: Buffer.alloc(1_040_000, 3) }]
    const want = await plain.send({ topic: theirs, messages })
    const got = await client.send({ topic: ours, messages })
    expect(normalizeMetadata(got, { [ours]: 'T' })).toEqual(normalizeMetadata(want, { [theirs]: 'T' }))
    expect((await cluster.records(ours)).map((r) => recordBytes(r))).toEqual(
      (await cluster.records(theirs)).map((r) => recordBytes(r)),
    )
  })
})

describe('codecs the application registered', () => {
  it(
    'Snappy registered in the application: its sends are compressed by the application codec as in KafkaJS (they go direct), and connect names it',
    { timeout: 30_000 },
    async () => {
      const cluster = await startCluster({ brokers: 1 })
      const [ours, theirs] = [randomTopic(), randomTopic()]
      await cluster.createTopic({ topic: ours, partitions: 1 })
      await cluster.createTopic({ topic: theirs, partitions: 1 })
      // The sidecar in its own process, as in a pod: a codec registered here is not registered there.
      const sidecar = await spawnSidecar(cluster, join(await tempDir(), 'sidecar.sock'))
      const codecs = kafkajs.CompressionCodecs as Record<
        number,
        () => { compress(encoder: { buffer: Buffer }): Promise<Buffer>; decompress(buffer: Buffer): Promise<Buffer> }
      >
      const original = codecs[kafkajs.CompressionTypes.Snappy]!
      let compressed = 0
      // embedded-kafka reads none and gzip only: it refuses the batch, to KafkaJS as to the client.
      codecs[kafkajs.CompressionTypes.Snappy] = () => ({
        compress: async (encoder) => {
          compressed++
          return encoder.buffer
        },
        decompress: async (buffer) => buffer,
      })
      onTestFinished(() => void (codecs[kafkajs.CompressionTypes.Snappy] = original))
      const logs = captureLogs()
      const kafka = new Kafka({
        clientId: 'codec-test',
        brokers: cluster.bootstrapServers,
        logLevel: logLevel.WARN,
        logCreator: logs.logCreator,
        sidecar: { mode: 'sidecar', address: sidecar.address, connectTimeoutMs: 10_000 },
      })
      const client = kafka.producer()
      onTestFinished(() => client.disconnect().catch(() => {}))
      await client.connect()
      expect(logs.entries.filter((e) => e.label === 'WARN').map((e) => e.log.message)).toContainEqual(
        expect.stringMatching(/compression Snappy.*go directly to Kafka/),
      )
      const plain = await connectedPlainProducer(cluster)
      const messages = [{ key: 'k', value: 'v' }]
      const want = await outcome(() =>
        plain.send({ topic: theirs, messages, compression: kafkajs.CompressionTypes.Snappy }),
      )
      const byKafkaJS = compressed
      const got = await outcome(() =>
        client.send({ topic: ours, messages, compression: kafkajs.CompressionTypes.Snappy }),
      )
      expect(byKafkaJS).toBe(1)
      expect(compressed).toBe(2)
      expect(outcomeFacts(got)).toEqual(outcomeFacts(want))
      // Other sends of the producer still go through the sidecar.
      await client.send({ topic: ours, messages: [{ value: 'plain' }] })
      expect(client.mode).toBe('sidecar')
    },
  )
})

describe('limits that stay', () => {
  it('more than 10,000 headers on one record: refused by the sidecar with INVALID_RECORD, naming the limit', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)
    const client = clientProducer({ cluster, mode: 'sidecar', address: sidecar.address })
    await client.connect()
    const headers = Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`h${i}`, 'x']))
    const error = (await client.send({ topic, messages: [{ value: 'v', headers }] }).catch((e: unknown) => e)) as Error
    expect(error).toBeInstanceOf(kafkajs.KafkaJSProtocolError)
    expect(error).toMatchObject({ type: 'INVALID_RECORD', retriable: false })
    expect(String(error.cause)).toMatch(/has 10001 headers, the limit is 10000/)
    await client.send({
      topic,
      messages: [{ value: 'v', headers: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`h${i}`, 'x'])) }],
    })
  })
})
