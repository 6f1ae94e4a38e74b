/**
 * Drop-in parity: one behaviour suite run in both modes against a 3-broker embedded cluster (and,
 * in sidecar mode, a real sidecar over a Unix socket). Wherever KafkaJS defines the answer, the
 * client's answer is compared with what a plain KafkaJS 2.2.4 producer (imported from 'kafkajs')
 * does on the same cluster with the same input. In sidecar mode every test also checks that the
 * sends really went through the sidecar (no fallback to the direct path hid a difference).
 */
import type { EmbeddedKafkaOptions, EmbeddedRecord } from '@kafka-sidecar/embedded-kafka'
import kafkajs from 'kafkajs'
import type { Message, Producer, RecordMetadata } from 'kafkajs'
import { describe, expect, it, onTestFinished } from 'vitest'
import { randomTopic, startCluster, startTestSidecar, waitFor } from '@kafka-sidecar/test-support'
import {
  CompressionTypes,
  Kafka,
  logLevel,
  SIDECAR_EVENTS,
  type SidecarKafkaConfig,
  type SidecarProducer,
  type SidecarProducerConfig,
} from '../src/index.js'
import { clientProducer } from './helpers.js'
import {
  captureLogs,
  connectedPlainProducer,
  errorFacts,
  normalizeMetadata,
  outcome,
  outcomeFacts,
  plainKafka,
  plainProducer,
  recordBytes,
  renameTopics,
} from './kafkajs-reference.js'

const METADATA_KEYS = ['baseOffset', 'errorCode', 'logAppendTime', 'logStartOffset', 'partition', 'topicName']

/** Values of the stored records of a topic, by partition, in offset order. */
function valuesByPartition(records: readonly EmbeddedRecord[]): Record<number, string[]> {
  const out: Record<number, string[]> = {}
  for (const r of [...records].sort((a, b) => a.partition - b.partition || a.offset - b.offset))
    (out[r.partition] ??= []).push(r.value?.toString() ?? '<null>')
  return out
}

function partitionOfValue(records: readonly EmbeddedRecord[]): Map<string, number> {
  return new Map(records.map((r) => [r.value!.toString(), r.partition]))
}

/** Deterministic, varied keys: strings of many lengths (empty included), unicode, and raw bytes. */
function manyKeys(count: number): Array<string | Buffer> {
  const keys: Array<string | Buffer> = ['', ' ', '0', 'a', 'key', 'ключ', '🔑', 'Aa', 'BB', 'x'.repeat(1000)]
  let seed = 0x2545f491
  const next = () => {
    seed = (seed * 1103515245 + 12345) >>> 0
    return seed
  }
  while (keys.length < count) {
    const length = next() % 40
    const bytes = Buffer.alloc(length)
    for (let i = 0; i < length; i++) bytes[i] = next() & 0xff
    keys.push(keys.length % 3 === 0 ? bytes : `user-${next().toString(36)}-${keys.length}`)
  }
  return keys
}

describe.each(['direct', 'sidecar'] as const)('%s mode', (mode) => {
  async function setup(clusterOptions: EmbeddedKafkaOptions = {}) {
    const cluster = await startCluster(clusterOptions)
    const sidecar = mode === 'sidecar' ? await startTestSidecar(cluster) : null
    const address = sidecar?.address
    const fallbacks: unknown[] = []
    const watch = (producer: SidecarProducer) => {
      producer.on(SIDECAR_EVENTS.FALLBACK, (event) => void fallbacks.push(event.payload))
      return producer
    }
    const unconnected = (config?: SidecarProducerConfig) => watch(clientProducer({ cluster, mode, address, config }))
    return {
      cluster,
      address,
      unconnected,
      async producer(config?: SidecarProducerConfig): Promise<SidecarProducer> {
        const producer = unconnected(config)
        await producer.connect()
        return producer
      },
      /** A client `Kafka` of this mode with extra KafkaJS config; its producers are not disconnected for you. */
      kafka(config: Partial<SidecarKafkaConfig> = {}): Kafka {
        return new Kafka({
          clientId: 'client-test',
          brokers: cluster.bootstrapServers,
          logLevel: logLevel.NOTHING,
          ...config,
          sidecar: { mode, ...(address ? { address } : {}), connectTimeoutMs: 3_000, ...config.sidecar },
        })
      },
      watch,
      async topic(partitions = 3, prefix = 'topic'): Promise<string> {
        const topic = randomTopic(prefix)
        await cluster.createTopic({ topic, partitions })
        return topic
      },
      /** The producer runs in this suite's mode and, in sidecar mode, nothing fell back to the direct path. */
      onPath(producer: SidecarProducer): void {
        expect(producer.mode).toBe(mode)
        if (mode === 'sidecar') {
          expect(fallbacks).toEqual([])
          expect(producer.breakerState).toBe('closed')
          expect(producer.directConnected).toBe(false)
        }
      },
    }
  }

  describe('offsets and RecordMetadata', () => {
    it('offsets per partition after several sends are those of KafkaJS', async () => {
      const s = await setup()
      const [ours, theirs] = [await s.topic(3), await s.topic(3)]
      const client = await s.producer()
      const plain = await connectedPlainProducer(s.cluster)
      const sends: Message[][] = [
        [
          { partition: 0, value: 'a' },
          { partition: 1, value: 'b' },
          { partition: 0, value: 'c' },
        ],
        [
          { key: 'k1', value: 'd' },
          { key: 'k2', value: 'e' },
          { key: 'k3', value: 'f' },
          { key: 'k1', value: 'g' },
        ],
        [{ partition: 2, value: 'h' }],
        Array.from({ length: 10 }, (_, i) => ({ key: `key-${i}`, value: `v${i}` })),
        [{ partition: 0, value: 'i' }],
      ]
      for (const messages of sends) {
        const before = await s.cluster.records(ours)
        const got = await client.send({ topic: ours, messages })
        const want = await plain.send({ topic: theirs, messages })
        expect(normalizeMetadata(got, { [ours]: 'T' })).toEqual(normalizeMetadata(want, { [theirs]: 'T' }))
        // Each partition's base offset is the number of records it held before this send.
        for (const m of got) expect(m.baseOffset).toBe(String(before.filter((r) => r.partition === m.partition).length))
      }
      const highWatermarks = (topic: string) =>
        s.cluster.offsets(topic).map(({ partition, highWatermark }) => ({ partition, highWatermark }))
      expect(highWatermarks(ours)).toEqual(highWatermarks(theirs))
      expect(highWatermarks(ours).reduce((n, p) => n + p.highWatermark, 0)).toBe(sends.flat().length)
      s.onPath(client)
    })

    it.each([-1, 1])('RecordMetadata (acks %i) has the fields and values KafkaJS returns', async (acks) => {
      const s = await setup()
      const [ours, theirs] = [await s.topic(3), await s.topic(3)]
      const client = await s.producer()
      const plain = await connectedPlainProducer(s.cluster)
      const messages = Array.from({ length: 9 }, (_, i) => ({ key: `shape-${i}`, value: `value-${i}` }))
      const got = await client.send({ topic: ours, messages, acks })
      const want = await plain.send({ topic: theirs, messages, acks })
      expect(want.length).toBeGreaterThan(1)
      expect(normalizeMetadata(got, { [ours]: 'T' })).toEqual(normalizeMetadata(want, { [theirs]: 'T' }))
      // toEqual ignores undefined properties: compare the key sets and value types too.
      const shape = (m: RecordMetadata) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, typeof v]))
      expect(normalizeMetadata(got, {}).map(shape)).toEqual(normalizeMetadata(want, {}).map(shape))
      for (const m of got) expect(Object.keys(m).sort()).toEqual(METADATA_KEYS)
      s.onPath(client)
    })

    it('acks: 0 resolves like KafkaJS (an empty array) and the records are written', async () => {
      const s = await setup()
      const [ours, theirs] = [await s.topic(3), await s.topic(3)]
      const client = await s.producer()
      const plain = await connectedPlainProducer(s.cluster)
      const messages = Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }))
      const got = await client.send({ topic: ours, messages, acks: 0 })
      const want = await plain.send({ topic: theirs, messages, acks: 0 })
      expect(want).toEqual([])
      expect(got).toEqual(want)
      await waitFor('5 records', async () => (await s.cluster.records(ours)).length === 5)
      s.onPath(client)
    })
  })

  describe('partitioning', () => {
    it('keys go to the partition a plain KafkaJS producer picks (300 keys, strings and bytes)', async () => {
      const s = await setup()
      const [ours, theirs] = [await s.topic(7), await s.topic(7)]
      const client = await s.producer()
      const plain = await connectedPlainProducer(s.cluster)
      const messages = manyKeys(300).map((key, i) => ({ key, value: String(i) }))
      for (let i = 0; i < messages.length; i += 60) {
        await client.send({ topic: ours, messages: messages.slice(i, i + 60) })
        await plain.send({ topic: theirs, messages: messages.slice(i, i + 60) })
      }
      const got = partitionOfValue(await s.cluster.records(ours))
      const want = partitionOfValue(await s.cluster.records(theirs))
      expect(got.size).toBe(300)
      const differing = messages
        .filter((m) => got.get(m.value) !== want.get(m.value))
        .map((m) => ({ key: m.key, ours: got.get(m.value), kafkajs: want.get(m.value) }))
      expect(differing).toEqual([])
      expect(new Set(got.values()).size).toBe(7)
      s.onPath(client)
    })

    it('explicit partitions are used as given, partition 0 included, whatever the key', async () => {
      const s = await setup()
      const [ours, theirs] = [await s.topic(3), await s.topic(3)]
      const client = await s.producer()
      const plain = await connectedPlainProducer(s.cluster)
      const messages: Message[] = [
        { partition: 0, key: 'a', value: 'p0-a' },
        { partition: 0, key: 'b', value: 'p0-b' },
        { partition: 0, key: 'c', value: 'p0-c' },
        { partition: 0, key: null, value: 'p0-null' },
        { partition: 2, key: 'a', value: 'p2-a' },
        { partition: 1, value: 'p1-nokey' },
        { partition: 0, key: Buffer.from([1, 2, 3]), value: 'p0-bytes' },
      ]
      const got = await client.send({ topic: ours, messages })
      const want = await plain.send({ topic: theirs, messages })
      expect(normalizeMetadata(got, { [ours]: 'T' })).toEqual(normalizeMetadata(want, { [theirs]: 'T' }))
      expect(valuesByPartition(await s.cluster.records(ours))).toEqual({
        0: ['p0-a', 'p0-b', 'p0-c', 'p0-null', 'p0-bytes'],
        1: ['p1-nokey'],
        2: ['p2-a'],
      })
      s.onPath(client)
    })

    it('null keys round-robin over the partitions as in KafkaJS (one send, and one record per send)', async () => {
      const s = await setup()
      const client = await s.producer()
      const plain = await connectedPlainProducer(s.cluster)
      const spread = async (send: (topic: string, messages: Message[]) => Promise<unknown>) => {
        const batchTopic = await s.topic(3)
        await send(
          batchTopic,
          Array.from({ length: 30 }, (_, i) => ({ value: String(i), key: i % 2 === 0 ? null : undefined })),
        )
        const singleTopic = await s.topic(3)
        for (let i = 0; i < 30; i++) await send(singleTopic, [{ value: String(i) }])
        const describe = (records: EmbeddedRecord[]) => {
          const partitionOf = partitionOfValue(records)
          const sequence = Array.from({ length: 30 }, (_, i) => partitionOf.get(String(i))!)
          return {
            counts: [0, 1, 2].map((p) => records.filter((r) => r.partition === p).length),
            // KafkaJS's round robin: each record goes to the partition after the previous one's.
            rotates: sequence.every((p, i) => i === 0 || p === (sequence[i - 1]! + 1) % 3),
          }
        }
        return {
          batch: describe(await s.cluster.records(batchTopic)),
          single: describe(await s.cluster.records(singleTopic)),
        }
      }
      const want = await spread((topic, messages) => plain.send({ topic, messages }))
      const got = await spread((topic, messages) => client.send({ topic, messages }))
      expect(want).toEqual({
        batch: { counts: [10, 10, 10], rotates: true },
        single: { counts: [10, 10, 10], rotates: true },
      })
      expect(got).toEqual(want)
      s.onPath(client)
    })
  })

  describe('validation errors are KafkaJS errors (class, name, message, retriable)', () => {
    interface Case {
      readonly config?: SidecarProducerConfig
      readonly connect: boolean
      readonly disconnect?: boolean
      readonly call: (producer: Pick<Producer, 'send' | 'sendBatch'>, topic: string) => unknown
      readonly expected: (topic: string) => Record<string, unknown>
    }
    const nonRetriable = (message: string) => ({
      className: 'KafkaJSNonRetriableError',
      name: 'KafkaJSNonRetriableError',
      message,
      retriable: false,
    })
    const cases: Record<string, Case> = {
      'empty topic': {
        connect: true,
        call: (p) => p.send({ topic: '', messages: [{ value: 'x' }] }),
        expected: () => nonRetriable('Invalid topic'),
      },
      'no topic': {
        connect: true,
        call: (p) => p.send({ messages: [{ value: 'x' }] } as never),
        expected: () => nonRetriable('Invalid topic'),
      },
      'no topic in one of sendBatch topicMessages': {
        connect: true,
        call: (p, t) =>
          p.sendBatch({ topicMessages: [{ topic: t, messages: [{ value: 'x' }] }, { messages: [] } as never] }),
        expected: () => nonRetriable('Invalid topic'),
      },
      'messages missing': {
        connect: true,
        call: (p, t) => p.send({ topic: t } as never),
        expected: (t) => nonRetriable(`Invalid messages array [undefined] for topic "${t}"`),
      },
      'messages null': {
        connect: true,
        call: (p, t) => p.send({ topic: t, messages: null } as never),
        expected: (t) => nonRetriable(`Invalid messages array [null] for topic "${t}"`),
      },
      'value: undefined': {
        connect: true,
        call: (p, t) =>
          p.send({ topic: t, messages: [{ key: 'ok', value: 'ok' }, { key: 'k', value: undefined } as never] }),
        expected: (t) => nonRetriable(`Invalid message without value for topic "${t}": {"key":"k"}`),
      },
      'idempotent producer with acks 1': {
        config: { idempotent: true },
        connect: true,
        call: (p, t) => p.send({ topic: t, messages: [{ value: 'x' }], acks: 1 }),
        expected: () =>
          nonRetriable("Not requiring ack for all messages invalidates the idempotent producer's EoS guarantees"),
      },
      'idempotent producer with acks 0': {
        config: { idempotent: true },
        connect: true,
        call: (p, t) => p.sendBatch({ topicMessages: [{ topic: t, messages: [{ value: 'x' }] }], acks: 0 }),
        expected: () =>
          nonRetriable("Not requiring ack for all messages invalidates the idempotent producer's EoS guarantees"),
      },
      'send on a never-connected producer': {
        connect: false,
        call: (p, t) => p.send({ topic: t, messages: [{ value: 'x' }] }),
        expected: () => ({
          className: 'KafkaJSError',
          name: 'KafkaJSError',
          message: 'The producer is disconnected',
          retriable: true,
        }),
      },
      'sendBatch without topicMessages on a never-connected producer': {
        connect: false,
        call: (p) => p.sendBatch({}),
        expected: () => ({
          className: 'KafkaJSError',
          name: 'KafkaJSError',
          message: 'The producer is disconnected',
          retriable: true,
        }),
      },
      'send after disconnect': {
        connect: true,
        disconnect: true,
        call: (p, t) => p.send({ topic: t, messages: [{ value: 'x' }] }),
        expected: () => ({
          className: 'KafkaJSError',
          name: 'KafkaJSError',
          message: 'The producer is disconnected',
          retriable: true,
        }),
      },
      'a header with an undefined value (KafkaJS cannot encode it)': {
        connect: true,
        call: (p, t) =>
          p.send({ topic: t, messages: [{ key: 'k', value: 'v', headers: { ok: 'yes', missing: undefined } }] }),
        expected: () => ({ className: 'TypeError', name: 'TypeError' }),
      },
      'a number value, outside the types (KafkaJS cannot encode it)': {
        connect: true,
        call: (p, t) => p.send({ topic: t, messages: [{ key: 'k', value: 42 as unknown as string }] }),
        expected: () => ({ className: 'TypeError', name: 'TypeError' }),
      },
      'send(undefined) rejects (never throws synchronously)': {
        connect: true,
        call: (p) => p.send(undefined as never),
        expected: () => ({ className: 'TypeError', name: 'TypeError' }),
      },
      'sendBatch(undefined) rejects (never throws synchronously)': {
        connect: true,
        call: (p) => p.sendBatch(undefined as never),
        expected: () => ({ className: 'TypeError', name: 'TypeError' }),
      },
    }

    it.each(Object.keys(cases))('%s', async (name) => {
      const { config, connect, disconnect, call, expected } = cases[name]!
      const s = await setup()
      const topic = await s.topic(3)
      const client = s.unconnected(config)
      const plain = plainProducer(s.cluster, config)
      if (connect) await Promise.all([client.connect(), plain.connect()])
      if (disconnect) await Promise.all([client.disconnect(), plain.disconnect()])
      const want = await outcome(() => call(plain, topic))
      const got = await outcome(() => call(client, topic))
      expect(want.sync).toBe(false)
      expect(outcomeFacts(want)).toMatchObject({ ok: false, error: expected(topic) })
      expect(outcomeFacts(got)).toEqual(outcomeFacts(want))
      expect(await s.cluster.records(topic)).toEqual([])
    })

    it('an idempotent producer with retries 0 is refused at producer() time', async () => {
      const s = await setup()
      const config = { idempotent: true, retry: { retries: 0 } }
      const want = await outcome(() => plainKafka(s.cluster).producer(config))
      const got = await outcome(() => s.kafka().producer(config))
      expect(outcomeFacts(want)).toEqual({
        sync: true,
        error: expect.objectContaining(
          nonRetriable('Idempotent producer must allow retries to protect against transient errors'),
        ),
      })
      expect(outcomeFacts(got)).toEqual(outcomeFacts(want))
    })

    it('transaction() without a transactionalId is refused as in KafkaJS', async () => {
      const s = await setup()
      const client = await s.producer()
      const plain = await connectedPlainProducer(s.cluster)
      const want = await outcome(() => plain.transaction())
      const got = await outcome(() => client.transaction())
      expect(outcomeFacts(want)).toMatchObject({
        sync: false,
        ok: false,
        error: nonRetriable('Must provide transactional id for transactional producer'),
      })
      expect(outcomeFacts(got)).toEqual(outcomeFacts(want))
      // In sidecar mode nothing may open the direct path's broker connections for a refused call.
      s.onPath(client)
    })

    it('a record larger than message.max.bytes fails with the error KafkaJS gives', async () => {
      const s = await setup({ maxMessageBytes: 4_096 })
      const [ours, theirs] = [await s.topic(1), await s.topic(1)]
      const client = await s.producer()
      const plain = await connectedPlainProducer(s.cluster)
      const messages = [{ key: 'big', value: Buffer.alloc(16_384, 7) }]
      const want = await outcome(() => plain.send({ topic: theirs, messages }))
      const got = await outcome(() => client.send({ topic: ours, messages }))
      expect(outcomeFacts(want)).toMatchObject({
        ok: false,
        error: { className: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE', retriable: false },
      })
      expect(outcomeFacts(got)).toEqual(outcomeFacts(want))
      expect(await s.cluster.records(ours)).toEqual([])
      s.onPath(client)
    })

    it('allowAutoTopicCreation: false is honoured as in KafkaJS (no topic created, same error)', async () => {
      const s = await setup()
      const config = { allowAutoTopicCreation: false, retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 100 } }
      const kafkaRetry = { retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 100 } }
      const plain = plainProducer(s.cluster, config, kafkaRetry)
      const client = s.watch(s.kafka(kafkaRetry).producer(config))
      onTestFinished(() => client.disconnect().catch(() => {}))
      await Promise.all([plain.connect(), client.connect()])
      const [ours, theirs] = [randomTopic('absent'), randomTopic('absent')]
      const want = await outcome(() => plain.send({ topic: theirs, messages: [{ value: 'x' }] }))
      const got = await outcome(() => client.send({ topic: ours, messages: [{ value: 'x' }] }))
      expect(s.cluster.topics()).not.toContain(theirs)
      expect(outcomeFacts(got)).toEqual(outcomeFacts(want))
      expect(s.cluster.topics()).not.toContain(ours)
    })
  })

  describe('what reaches Kafka', () => {
    it('headers, tombstones, empty vs null keys and values read back byte for byte as KafkaJS writes them', async () => {
      const s = await setup()
      const [ours, theirs] = [await s.topic(1), await s.topic(1)]
      const client = await s.producer()
      const plain = await connectedPlainProducer(s.cluster)
      const messages: Message[] = [
        {
          key: 'k1',
          value: 'v1',
          headers: {
            text: 'string value',
            binary: Buffer.from([0, 1, 2, 0xfe, 0xff]),
            repeated: ['one', Buffer.from('two'), 'three'],
          },
        },
        { key: 'tombstone', value: null },
        { key: '', value: 'empty key' },
        { key: null, value: 'null key' },
        { value: 'undefined key' },
        { key: 'empty value', value: '' },
        { key: Buffer.alloc(0), value: Buffer.alloc(0) },
        { key: Buffer.from([0xff, 0x00, 0x80]), value: Buffer.from([0x00]) },
        { key: 'ключ 🔑', value: 'значение 🚀', headers: { 'ü-header': 'é', empty: '' } },
        { key: 'timestamped', value: 'at a fixed time', timestamp: '1700000000123' },
        { key: null, value: null, headers: { only: 'headers' } },
      ]
      await client.send({ topic: ours, messages })
      await plain.send({ topic: theirs, messages })
      const got = await s.cluster.records(ours)
      const want = await s.cluster.records(theirs)
      expect(got.map((r) => recordBytes(r))).toEqual(want.map((r) => recordBytes(r)))
      // What KafkaJS writes, spelled out.
      expect(got[0]!.headers.map((h) => [h.key, h.value?.toString('hex') ?? null])).toEqual([
        ['text', Buffer.from('string value').toString('hex')],
        ['binary', '000102feff'],
        ['repeated', Buffer.from('one').toString('hex')],
        ['repeated', Buffer.from('two').toString('hex')],
        ['repeated', Buffer.from('three').toString('hex')],
      ])
      expect(got[1]!.value).toBeNull()
      expect(got[2]!.key).toEqual(Buffer.alloc(0))
      expect(got[3]!.key).toBeNull()
      expect(got[4]!.key).toBeNull()
      expect(got[5]!.value).toEqual(Buffer.alloc(0))
      expect(got[8]!.headers.find((h) => h.key === 'empty')?.value).toEqual(Buffer.alloc(0))
      expect(got[9]!.timestamp).toBe(1700000000123)
      expect(want[9]!.timestamp).toBe(1700000000123)
      s.onPath(client)
    })

    it('GZIP compression writes records that read back intact', async () => {
      const s = await setup()
      const [ours, theirs] = [await s.topic(3), await s.topic(3)]
      const client = await s.producer()
      const plain = await connectedPlainProducer(s.cluster)
      const messages = Array.from({ length: 40 }, (_, i) => ({
        key: `gz-${i}`,
        value: `compressible ${'x'.repeat(200)} ${i}`,
        headers: { i: String(i) },
      }))
      const got = await client.send({ topic: ours, messages, compression: CompressionTypes.GZIP })
      const want = await plain.send({ topic: theirs, messages, compression: CompressionTypes.GZIP })
      expect(normalizeMetadata(got, { [ours]: 'T' })).toEqual(normalizeMetadata(want, { [theirs]: 'T' }))
      expect((await s.cluster.records(ours)).map((r) => recordBytes(r))).toEqual(
        (await s.cluster.records(theirs)).map((r) => recordBytes(r)),
      )
      s.onPath(client)
    })

    it('a codec with no implementation registered (Snappy) fails as in KafkaJS and writes nothing', async () => {
      const s = await setup()
      const [ours, theirs] = [await s.topic(1), await s.topic(1)]
      const client = await s.producer()
      const plain = await connectedPlainProducer(s.cluster)
      const messages = [{ key: 'k', value: 'v' }]
      const want = await outcome(() => plain.send({ topic: theirs, messages, compression: CompressionTypes.Snappy }))
      const got = await outcome(() => client.send({ topic: ours, messages, compression: CompressionTypes.Snappy }))
      expect(outcomeFacts(want)).toMatchObject({
        ok: false,
        error: { className: 'KafkaJSNotImplemented', message: 'Snappy compression not implemented', retriable: false },
      })
      expect(outcomeFacts(got)).toEqual(outcomeFacts(want))
      expect(await s.cluster.records(ours)).toEqual([])
      s.onPath(client)
    })

    it('sendBatch with several topics and a repeated topic: same metadata and records as KafkaJS', async () => {
      const s = await setup()
      const [a, b, a2, b2] = [await s.topic(3), await s.topic(2), await s.topic(3), await s.topic(2)]
      const client = await s.producer()
      const plain = await connectedPlainProducer(s.cluster)
      const batch = (ta: string, tb: string) => ({
        topicMessages: [
          {
            topic: ta,
            messages: [
              { key: 'k1', value: 'a-1' },
              { key: 'k2', value: 'a-2' },
            ],
          },
          { topic: tb, messages: [{ key: 'k1', value: 'b-1' }] },
          {
            topic: ta,
            messages: [
              { key: 'k1', value: 'a-3' },
              { partition: 0, value: 'a-4' },
            ],
          },
          { topic: tb, messages: [{ partition: 1, value: 'b-2' }] },
        ],
      })
      const got = await client.sendBatch(batch(a, b))
      const want = await plain.sendBatch(batch(a2, b2))
      expect(normalizeMetadata(got, { [a]: 'A', [b]: 'B' })).toEqual(normalizeMetadata(want, { [a2]: 'A', [b2]: 'B' }))
      expect((await s.cluster.records(a)).map((r) => recordBytes(r))).toEqual(
        (await s.cluster.records(a2)).map((r) => recordBytes(r)),
      )
      expect((await s.cluster.records(b)).map((r) => recordBytes(r))).toEqual(
        (await s.cluster.records(b2)).map((r) => recordBytes(r)),
      )
      // The repeated topic's messages keep their order (KafkaJS concatenates them).
      const k1 = (await s.cluster.records(a)).filter((r) => r.key?.toString() === 'k1').map((r) => r.value!.toString())
      expect(k1).toEqual(['a-1', 'a-3'])
      s.onPath(client)
    })

    it('sendBatch lists RecordMetadata in the order KafkaJS does', async () => {
      const s = await setup()
      const topics = [await s.topic(3), await s.topic(3), await s.topic(3), await s.topic(3)]
      const client = await s.producer()
      const plain = await connectedPlainProducer(s.cluster)
      const messages = Array.from({ length: 9 }, (_, i) => ({ key: `order-${i}`, value: String(i) }))
      const got = await client.sendBatch({
        topicMessages: [
          { topic: topics[0]!, messages },
          { topic: topics[1]!, messages },
        ],
      })
      const want = await plain.sendBatch({
        topicMessages: [
          { topic: topics[2]!, messages },
          { topic: topics[3]!, messages },
        ],
      })
      expect(renameTopics(got, { [topics[0]!]: 'A', [topics[1]!]: 'B' })).toEqual(
        renameTopics(want, { [topics[2]!]: 'A', [topics[3]!]: 'B' }),
      )
      s.onPath(client)
    })

    it('sendBatch with no topics resolves as in KafkaJS (an empty array)', async () => {
      const s = await setup()
      const client = await s.producer()
      const plain = await connectedPlainProducer(s.cluster)
      const want = await outcome(() => plain.sendBatch({ topicMessages: [] }))
      expect(outcomeFacts(want)).toEqual({ sync: false, ok: true, value: [] })
      expect(outcomeFacts(await outcome(() => client.sendBatch({ topicMessages: [] })))).toEqual(outcomeFacts(want))
      s.onPath(client)
    })

    it('send with an empty messages array resolves as in KafkaJS (an empty array)', async () => {
      const s = await setup()
      const [ours, theirs] = [await s.topic(3), await s.topic(3)]
      const client = await s.producer()
      const plain = await connectedPlainProducer(s.cluster)
      const want = await outcome(() => plain.send({ topic: theirs, messages: [] }))
      expect(outcomeFacts(want)).toEqual({ sync: false, ok: true, value: [] })
      expect(outcomeFacts(await outcome(() => client.send({ topic: ours, messages: [] })))).toEqual(outcomeFacts(want))
      s.onPath(client)
    })

    it("a record KafkaJS cannot encode (undefined header value) fails its own send only, never another producer's", async () => {
      const s = await setup()
      const topic = await s.topic(1)
      const bad = await s.producer()
      const good = await s.producer()
      const results = await Promise.allSettled([
        ...Array.from({ length: 10 }, (_, i) => good.send({ topic, messages: [{ value: `good-${i}` }] })),
        bad.send({ topic, messages: [{ value: 'bad', headers: { missing: undefined } }] }),
        ...Array.from({ length: 10 }, (_, i) => good.send({ topic, messages: [{ value: `good-${10 + i}` }] })),
      ])
      expect(results[10]!.status).toBe('rejected')
      const goodFailures = results
        .filter((r, i) => i !== 10 && r.status === 'rejected')
        .map((r) => String((r as PromiseRejectedResult).reason))
      expect(goodFailures).toEqual([])
      expect((await s.cluster.records(topic)).map((r) => r.value!.toString()).sort()).toEqual(
        Array.from({ length: 20 }, (_, i) => `good-${i}`).sort(),
      )
    })

    it('concurrent sends of one key land in call order (DESIGN §4; plain KafkaJS 2.2.4 does not promise it)', async () => {
      const s = await setup()
      const topic = await s.topic(3)
      const client = await s.producer()
      for (const n of [2, 3, 50]) {
        const values = Array.from({ length: n }, (_, i) => `${n}:${i}`)
        await Promise.all(values.map((value) => client.send({ topic, messages: [{ key: `burst-${n}`, value }] })))
        const got = (await s.cluster.records(topic))
          .filter((r) => r.key!.toString() === `burst-${n}`)
          .map((r) => r.value!.toString())
        expect(got, `a burst of ${n} concurrent sends`).toEqual(values)
      }
      s.onPath(client)
    })

    it('an idempotent producer connects and sends as in KafkaJS', async () => {
      const s = await setup()
      const [ours, theirs] = [await s.topic(3), await s.topic(3)]
      const client = await s.producer({ idempotent: true })
      const plain = await connectedPlainProducer(s.cluster, { idempotent: true })
      expect(client.isIdempotent()).toBe(true)
      const messages = Array.from({ length: 6 }, (_, i) => ({ key: `i${i}`, value: String(i) }))
      const got = await client.send({ topic: ours, messages })
      const want = await plain.send({ topic: theirs, messages })
      expect(normalizeMetadata(got, { [ours]: 'T' })).toEqual(normalizeMetadata(want, { [theirs]: 'T' }))
      s.onPath(client)
    })

    it('connect, disconnect, connect again: sending works as in KafkaJS', async () => {
      const s = await setup()
      const [ours, theirs] = [await s.topic(1), await s.topic(1)]
      const client = await s.producer()
      const plain = await connectedPlainProducer(s.cluster)
      for (const p of [client, plain] as const) {
        await p.send({ topic: p === client ? ours : theirs, messages: [{ value: 'first' }] })
        await p.disconnect()
        await p.connect()
      }
      const want = await outcome(() => plain.send({ topic: theirs, messages: [{ value: 'second' }] }))
      const got = await outcome(() => client.send({ topic: ours, messages: [{ value: 'second' }] }))
      expect(outcomeFacts(want)).toMatchObject({ ok: true })
      expect(outcomeFacts(got)).toEqual(
        outcomeFacts({
          ...want,
          ...(want.sync === false && want.ok
            ? { value: normalizeMetadata(want.value as RecordMetadata[], { [theirs]: ours }) }
            : {}),
        }),
      )
      expect((await s.cluster.records(ours)).map((r) => r.value!.toString())).toEqual(['first', 'second'])
      s.onPath(client)
    })
  })

  describe('events, flags and logger', () => {
    it("on() with an unknown event name throws KafkaJS's error", async () => {
      const s = await setup()
      const client = s.unconnected()
      const plain = plainProducer(s.cluster)
      const want = await outcome(() => plain.on('producer.nope' as never, () => {}))
      const got = await outcome(() => client.on('producer.nope' as never, () => {}))
      expect(outcomeFacts(want)).toMatchObject({
        sync: true,
        error: { className: 'KafkaJSNonRetriableError', retriable: false },
      })
      expect(outcomeFacts(got)).toEqual(outcomeFacts(want))
    })

    it("producer.events contains KafkaJS's event names", async () => {
      const s = await setup()
      const client = s.unconnected()
      const plain = plainProducer(s.cluster)
      expect(Object.keys(plain.events).sort()).toEqual([
        'CONNECT',
        'DISCONNECT',
        'REQUEST',
        'REQUEST_QUEUE_SIZE',
        'REQUEST_TIMEOUT',
      ])
      for (const [key, name] of Object.entries(plain.events))
        expect(client.events[key as keyof typeof plain.events]).toBe(name)
      // Every KafkaJS event name can be listened to.
      for (const name of Object.values(plain.events)) expect(typeof client.on(name, () => {})).toBe('function')
    })

    it("CONNECT and DISCONNECT fire with KafkaJS's event shape, and on() returns a working remover", async () => {
      const s = await setup()
      const client = s.unconnected()
      const plain = plainProducer(s.cluster)
      type Seen = { id: unknown; type: unknown; timestamp: unknown; payload: unknown }
      const shape = (e: Seen) => ({
        keys: Object.keys(e).sort(),
        type: e.type,
        id: typeof e.id,
        timestamp: typeof e.timestamp,
        payload: e.payload === undefined ? 'undefined' : JSON.stringify(e.payload),
      })
      const events = { client: [] as Seen[], plain: [] as Seen[] }
      const removers = [
        client.on(client.events.CONNECT, (e) => void events.client.push(e as Seen)),
        client.on(client.events.DISCONNECT, (e) => void events.client.push(e as Seen)),
        plain.on(plain.events.CONNECT, (e) => void events.plain.push(e as Seen)),
        plain.on(plain.events.DISCONNECT, (e) => void events.plain.push(e as Seen)),
      ]
      const before = Date.now()
      await client.connect()
      await plain.connect()
      await client.disconnect()
      await plain.disconnect()
      expect(events.plain.map(shape)).toEqual([
        {
          keys: ['id', 'payload', 'timestamp', 'type'],
          type: 'producer.connect',
          id: 'number',
          timestamp: 'number',
          payload: 'undefined',
        },
        {
          keys: ['id', 'payload', 'timestamp', 'type'],
          type: 'producer.disconnect',
          id: 'number',
          timestamp: 'number',
          payload: 'undefined',
        },
      ])
      expect(events.client.map(shape)).toEqual(events.plain.map(shape))
      for (const e of events.client) expect(e.timestamp as number).toBeGreaterThanOrEqual(before)
      for (const remove of removers) remove()
      await client.connect()
      await plain.connect()
      expect(events.client).toHaveLength(2)
      expect(events.plain).toHaveLength(2)
    })

    it('a listener that throws synchronously affects connect() as in KafkaJS', async () => {
      const s = await setup()
      const client = s.unconnected()
      const plain = plainProducer(s.cluster)
      const boom = () => {
        throw new Error('listener failed')
      }
      client.on(client.events.CONNECT, boom)
      plain.on(plain.events.CONNECT, boom)
      const want = await outcome(() => plain.connect())
      const got = await outcome(() => client.connect())
      expect(outcomeFacts(got)).toEqual(outcomeFacts(want))
    })

    // Documented difference (docs/client.md, Events): in sidecar mode this process sends no
    // Kafka requests, so REQUEST events come only from the direct path (direct mode, fallback).
    it('REQUEST events report produce requests as in KafkaJS in direct mode, and none from the sidecar path', async () => {
      const s = await setup()
      const [ours, theirs] = [await s.topic(1), await s.topic(1)]
      const client = s.unconnected()
      const plain = plainProducer(s.cluster)
      const apis = { client: [] as string[], plain: [] as string[] }
      client.on(client.events.REQUEST, (e) => void apis.client.push((e.payload as { apiName: string }).apiName))
      plain.on(plain.events.REQUEST, (e) => void apis.plain.push(e.payload.apiName))
      await Promise.all([client.connect(), plain.connect()])
      await client.send({ topic: ours, messages: [{ value: 'x' }] })
      await plain.send({ topic: theirs, messages: [{ value: 'x' }] })
      expect(apis.plain).toContain('Produce')
      if (mode === 'direct') expect(apis.client).toContain('Produce')
      else expect(apis.client).toEqual([])
    })

    it("the producer's own enumerable properties are KafkaJS's (a plain object of its methods), and its methods work detached", async () => {
      const s = await setup()
      const client = s.unconnected()
      const plain = plainProducer(s.cluster)
      expect(Object.keys(client).sort()).toEqual(Object.keys(plain).sort())
      expect(
        Object.keys(client).every(
          (key) =>
            typeof (client as unknown as Record<string, unknown>)[key] ===
            typeof (plain as unknown as Record<string, unknown>)[key],
        ),
      ).toBe(true)
      const { connect, send, isIdempotent, disconnect } = client
      await connect()
      expect(isIdempotent()).toBe(false)
      const topic = await s.topic(1)
      expect(await send({ topic, messages: [{ value: 'detached' }] })).toMatchObject([
        { topicName: topic, baseOffset: '0' },
      ])
      await disconnect()
      s.onPath(client)
    })

    it('isIdempotent() and logger() behave as KafkaJS', async () => {
      const s = await setup()
      const ours = captureLogs()
      const theirs = captureLogs()
      const kafka = s.kafka({ logLevel: logLevel.INFO, logCreator: ours.logCreator })
      const client = kafka.producer()
      const idempotent = kafka.producer({ idempotent: true })
      const plainKafkaClient = plainKafka(s.cluster, { logLevel: kafkajs.logLevel.INFO, logCreator: theirs.logCreator })
      const plain = plainKafkaClient.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner })
      expect(client.isIdempotent()).toBe(plain.isIdempotent())
      expect(idempotent.isIdempotent()).toBe(plainKafkaClient.producer({ idempotent: true }).isIdempotent())
      expect(Object.keys(client.logger()).sort()).toEqual(Object.keys(plain.logger()).sort())
      client.logger().info('from the producer logger', { marker: 1 })
      plain.logger().info('from the producer logger', { marker: 1 })
      client.logger().debug('below the level', { marker: 2 })
      const pick = (entries: typeof ours.entries) =>
        entries
          .filter((e) => e.log.marker !== undefined)
          .map((e) => ({
            namespace: e.namespace,
            level: e.level,
            label: e.label,
            message: e.log.message,
            marker: e.log.marker,
          }))
      expect(pick(theirs.entries)).toEqual([
        {
          namespace: 'Producer',
          level: kafkajs.logLevel.INFO,
          label: 'INFO',
          message: 'from the producer logger',
          marker: 1,
        },
      ])
      expect(pick(ours.entries)).toEqual(pick(theirs.entries))
      expect(kafka.logger().namespace).toBeTypeOf('function')
    })
  })

  describe("KafkaJS's own consumer, admin and transactions", () => {
    it('kafka.consumer() and kafka.admin() read what the client produced', async () => {
      const s = await setup()
      const topic = await s.topic(3)
      const kafka = s.kafka()
      const producer = s.watch(kafka.producer())
      onTestFinished(() => producer.disconnect().catch(() => {}))
      await producer.connect()
      const messages = Array.from({ length: 12 }, (_, i) => ({
        key: `c${i}`,
        value: `consumed-${i}`,
        headers: { n: String(i) },
      }))
      await producer.send({ topic, messages })

      const admin = kafka.admin()
      await admin.connect()
      try {
        const offsets = await admin.fetchTopicOffsets(topic)
        expect(
          offsets.map(({ partition, high }) => ({ partition, high })).sort((x, y) => x.partition - y.partition),
        ).toEqual(
          s.cluster.offsets(topic).map(({ partition, highWatermark }) => ({ partition, high: String(highWatermark) })),
        )
        expect(await admin.listTopics()).toContain(topic)
      } finally {
        await admin.disconnect()
      }

      const consumer = kafka.consumer({ groupId: randomTopic('group'), maxWaitTimeInMs: 100 })
      const seen: Array<{ key: string; value: string; n: string }> = []
      await consumer.connect()
      try {
        await consumer.subscribe({ topics: [topic], fromBeginning: true })
        await consumer.run({
          eachMessage: async ({ message }) => {
            seen.push({
              key: message.key!.toString(),
              value: message.value!.toString(),
              n: message.headers!.n!.toString(),
            })
          },
        })
        await waitFor('12 consumed messages', () => seen.length >= 12, 20_000)
      } finally {
        await consumer.disconnect()
      }
      expect(seen.sort((x, y) => Number(x.n) - Number(y.n))).toEqual(
        messages.map((m) => ({ key: m.key, value: m.value, n: m.headers.n })),
      )
      s.onPath(producer)
    })

    it('transaction() commits and aborts', async () => {
      const s = await setup()
      const topic = await s.topic(3)
      const producer = await s.producer({
        transactionalId: randomTopic('tx'),
        idempotent: true,
        maxInFlightRequests: 1,
      })
      const committed = await producer.transaction()
      await committed.send({
        topic,
        messages: [
          { key: 'a', value: 'committed-1' },
          { key: 'b', value: 'committed-2' },
        ],
      })
      await committed.sendBatch({ topicMessages: [{ topic, messages: [{ key: 'c', value: 'committed-3' }] }] })
      expect(committed.isActive()).toBe(true)
      await committed.commit()
      expect(committed.isActive()).toBe(false)
      const aborted = await producer.transaction()
      await aborted.send({ topic, messages: [{ key: 'a', value: 'aborted-1' }] })
      await aborted.abort()
      const visible = (await s.cluster.records(topic, { isolation: 'read_committed' }))
        .map((r) => r.value!.toString())
        .sort()
      expect(visible).toEqual(['committed-1', 'committed-2', 'committed-3'])
      const all = await s.cluster.records(topic)
      expect(all.map((r) => [r.value!.toString(), r.transaction]).sort()).toEqual([
        ['aborted-1', 'aborted'],
        ['committed-1', 'committed'],
        ['committed-2', 'committed'],
        ['committed-3', 'committed'],
      ])
      // The producer still sends outside a transaction afterwards.
      await producer.send({ topic, messages: [{ key: 'd', value: 'plain' }] })
      expect(
        (await s.cluster.records(topic, { isolation: 'read_committed' })).map((r) => r.value!.toString()),
      ).toContain('plain')
      expect(errorFacts(await committed.commit().catch((e: unknown) => e))).toMatchObject({
        className: 'KafkaJSNonRetriableError',
        message: 'Cannot continue to use transaction once ended',
      })
    })
  })
})
