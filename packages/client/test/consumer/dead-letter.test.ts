/**
 * The dead-letter topic, end to end on embedded-kafka, in both modes: kafka.consumer({ deadLetter })
 * around KafkaJS's own consumer (direct), and around SidecarConsumer with a sidecar in this
 * process, the dead-letter producer going through it too (sidecar). Records are produced and read
 * back with plain KafkaJS; the committed offsets are the broker's.
 */
import type { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import type { RunningSidecar } from '@kafka-sidecar/sidecar'
import {
  consumeWithKafkaJS,
  randomTopic,
  startCluster,
  startTestSidecar,
  waitFor,
  within,
} from '@kafka-sidecar/test-support'
import kafkajs from 'kafkajs'
import type { EachBatchPayload, InstrumentationEvent, KafkaMessage, Message } from 'kafkajs'
import { describe, expect, it, onTestFinished } from 'vitest'
import {
  DEAD_LETTER_HEADERS,
  Kafka,
  logLevel,
  type DeadLetterEventPayload,
  type DeadLetterOptions,
  type SidecarConsumerConfig,
} from '../../src/index.js'
import { connectedPlainProducer } from '../kafkajs-reference.js'

const FAST: DeadLetterOptions['backoff'] = { initialMs: 20, maxMs: 100, multiplier: 2 }

type Mode = 'direct' | 'sidecar'

interface Setup {
  readonly mode: Mode
  /** In sidecar mode, the sidecar the consumer and the dead-letter producer go through. */
  readonly sidecar?: RunningSidecar
  readonly cluster: EmbeddedKafka
  readonly topic: string
  readonly dlq: string
  readonly groupId: string
}

/** A one-broker cluster with a one-partition topic holding `count` records (key k<i>, value v<i>, headers). */
async function withRecords(
  mode: Mode,
  count: number,
  clusterOptions: { autoCreateTopics?: boolean } = {},
): Promise<Setup> {
  const cluster = await startCluster({ brokers: 1, ...clusterOptions })
  const sidecar = mode === 'sidecar' ? await startTestSidecar(cluster) : undefined
  const [topic, dlq, groupId] = [randomTopic('orders'), randomTopic('orders-dlq'), randomTopic('group')]
  await cluster.createTopic({ topic, partitions: 1 })
  const producer = await connectedPlainProducer(cluster)
  const messages: Message[] = Array.from({ length: count }, (_, i) => ({
    key: `k${i}`,
    value: `v${i}`,
    headers: { trace: `t${i}`, tag: ['a', 'b'] },
  }))
  await producer.send({ topic, messages })
  return { mode, sidecar, cluster, topic, dlq, groupId }
}

/**
 * A client consumer with a dead-letter topic, subscribed from the beginning, disconnected at the
 * end; in sidecar mode its producers (the dead-letter one) go through the sidecar too.
 */
async function dlqConsumer(
  setup: Setup,
  deadLetter: Partial<DeadLetterOptions> = {},
  config: Partial<SidecarConsumerConfig> = {},
) {
  const kafka = new Kafka({
    clientId: 'dlq-test',
    brokers: setup.cluster.bootstrapServers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 2, initialRetryTime: 50, maxRetryTime: 200 },
    ...(setup.mode === 'sidecar'
      ? { sidecar: { mode: 'sidecar' as const, consumerMode: 'sidecar' as const, address: setup.sidecar!.address } }
      : {}),
  })
  const consumer = kafka.consumer({
    groupId: setup.groupId,
    maxWaitTimeInMs: 100,
    ...config,
    deadLetter: { topic: setup.dlq, attempts: 3, backoff: FAST, ...deadLetter },
  })
  const deadLetters: Array<InstrumentationEvent<DeadLetterEventPayload>> = []
  consumer.on(consumer.events.DEAD_LETTER, (event) => void deadLetters.push(event))
  await consumer.connect()
  onTestFinished(() => consumer.disconnect())
  await consumer.subscribe({ topic: setup.topic, fromBeginning: true })
  return { consumer, deadLetters }
}

/** The sum of a sidecar metric's series that have these labels. */
async function sidecarCount(sidecar: RunningSidecar, name: string, labels: Record<string, string> = {}) {
  const { values } = await sidecar.metrics.registry.getSingleMetric(name)!.get()
  return values
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((sum, v) => sum + v.value, 0)
}

const values = (seen: KafkaMessage[]) => seen.map((m) => String(m.value))

describe.each(['direct', 'sidecar'] as const)('dead-letter topic, %s mode, eachMessage', (mode) => {
  it('a record that fails twice then works is tried again in place: order kept, nothing dead-lettered', async () => {
    const setup = await withRecords(mode, 4)
    const { consumer, deadLetters } = await dlqConsumer(setup)
    const calls: string[] = []
    let failures = 0
    await consumer.run({
      eachMessage: async ({ message }) => {
        calls.push(String(message.value))
        if (String(message.value) === 'v1' && failures < 2) {
          failures++
          throw new Error('not yet')
        }
      },
    })
    await waitFor(
      'the offset committed past every record',
      () => setup.cluster.committedOffset(setup.groupId, setup.topic, 0) === 4,
    )
    expect(calls).toEqual(['v0', 'v1', 'v1', 'v1', 'v2', 'v3'])
    expect(deadLetters).toEqual([])
    expect(setup.cluster.topics()).not.toContain(setup.dlq)
  })

  it('a record that always fails goes to the dead-letter topic after `attempts`, with every header; the partition goes on', async () => {
    const setup = await withRecords(mode, 4)
    const { consumer, deadLetters } = await dlqConsumer(setup)
    const calls: string[] = []
    const error = new TypeError('amount is not a number')
    await consumer.run({
      eachMessage: async ({ message }) => {
        calls.push(String(message.value))
        if (String(message.value) === 'v1') throw error
      },
    })
    await waitFor(
      'the offset committed past every record',
      () => setup.cluster.committedOffset(setup.groupId, setup.topic, 0) === 4,
    )
    // Three tries of v1 in place, then the records after it, once each.
    expect(calls).toEqual(['v0', 'v1', 'v1', 'v1', 'v2', 'v3'])
    const [dead] = await consumeWithKafkaJS(setup.cluster, setup.dlq, 1)
    expect(String(dead!.key)).toBe('k1')
    expect(String(dead!.value)).toBe('v1')
    const headers = Object.fromEntries(
      Object.entries(dead!.headers!).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : String(v)]),
    )
    expect(headers).toEqual({
      trace: 't1',
      tag: ['a', 'b'],
      [DEAD_LETTER_HEADERS.topic]: setup.topic,
      [DEAD_LETTER_HEADERS.partition]: '0',
      [DEAD_LETTER_HEADERS.offset]: '1',
      [DEAD_LETTER_HEADERS.timestamp]: expect.stringMatching(/^\d{13}$/),
      [DEAD_LETTER_HEADERS.groupId]: setup.groupId,
      [DEAD_LETTER_HEADERS.errorName]: 'TypeError',
      [DEAD_LETTER_HEADERS.errorMessage]: 'amount is not a number',
      [DEAD_LETTER_HEADERS.attempts]: '3',
    })
    if (setup.sidecar) {
      // In sidecar mode the records came from the sidecar's group member, and the dead letter went out through it.
      expect(
        await sidecarCount(setup.sidecar, 'kafka_sidecar_consumer_records_delivered_total'),
      ).toBeGreaterThanOrEqual(4)
      const dlq = { topic: setup.dlq, stage: 'acked' }
      expect(await sidecarCount(setup.sidecar, 'kafka_sidecar_records_total', dlq)).toBe(1)
    }
    expect(deadLetters.map((e) => e.type)).toEqual(['consumer.sidecar.dead_letter'])
    expect(deadLetters[0]!.payload).toEqual({
      groupId: setup.groupId,
      topic: setup.topic,
      partition: 0,
      offset: '1',
      deadLetterTopic: setup.dlq,
      error,
      attempts: 3,
    })
  })

  it('a dead-letter topic that cannot be written (missing, auto-creation off): the error goes to KafkaJS, nothing committed past the record', async () => {
    const setup = await withRecords(mode, 3, { autoCreateTopics: false })
    const crashes: Error[] = []
    const { consumer, deadLetters } = await dlqConsumer(
      setup,
      { attempts: 1 },
      { retry: { restartOnFailure: async () => false } },
    )
    consumer.on(consumer.events.CRASH, (event) => void crashes.push(event.payload.error))
    const calls: string[] = []
    await consumer.run({
      eachMessage: async ({ message }) => {
        calls.push(String(message.value))
        if (String(message.value) === 'v1') throw new Error('poison')
      },
    })
    await waitFor('the crash', () => crashes.length === 1, 30_000)
    // The producer's error, after its own retries, is the handler's: KafkaJS does not retry a
    // non-retriable one and crashes (a restart would try v1 again). v2 never ran; the group stands at 1.
    expect(crashes[0]).toBeInstanceOf(kafkajs.KafkaJSNonRetriableError)
    expect((crashes[0]!.cause as { type?: string }).type).toBe('UNKNOWN_TOPIC_OR_PARTITION')
    expect(calls).toEqual(['v0', 'v1'])
    expect(deadLetters).toEqual([])
    expect(setup.cluster.committedOffset(setup.groupId, setup.topic, 0)).toBe(1)
    expect(setup.cluster.topics()).not.toContain(setup.dlq)
  })

  it('stop() during the backoff ends the tries at once: the record is neither dead-lettered nor committed', async () => {
    const setup = await withRecords(mode, 2)
    const { consumer, deadLetters } = await dlqConsumer(setup, { backoff: { initialMs: 60_000 } })
    let failed = false
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (String(message.value) === 'v1') {
          failed = true
          throw new Error('slow dependency')
        }
      },
    })
    await waitFor('the first failure', () => failed)
    await within(consumer.stop(), 5_000, 'stop() while a record waits for its next try')
    expect(deadLetters).toEqual([])
    expect(setup.cluster.committedOffset(setup.groupId, setup.topic, 0)).toBe(1)
  })

  it("a handler that pauses its partition then throws (KafkaJS's way to get the record again later) is not dead-lettered", async () => {
    const setup = await withRecords(mode, 3)
    const { consumer, deadLetters } = await dlqConsumer(setup, { attempts: 1 })
    const calls: string[] = []
    await consumer.run({
      eachMessage: async ({ message, pause }) => {
        calls.push(String(message.value))
        if (String(message.value) === 'v1' && calls.filter((v) => v === 'v1').length === 1) {
          const resume = pause()
          setTimeout(resume, 200)
          throw new Error('dependency says: later')
        }
      },
    })
    await waitFor(
      'the offset committed past every record',
      () => setup.cluster.committedOffset(setup.groupId, setup.topic, 0) === 3,
    )
    expect(calls).toEqual(['v0', 'v1', 'v1', 'v2'])
    expect(deadLetters).toEqual([])
  })

  // Direct: the wrapper heartbeats between tries. Sidecar: the sidecar keeps the group session and
  // the client's alive timer its ownership. Either way one GROUP_JOIN: nothing was lost and regained.
  it('waits between tries longer than the session timeout and keeps its partition (direct: heartbeats; sidecar: alive)', async () => {
    const setup = await withRecords(mode, 2)
    const { consumer, deadLetters } = await dlqConsumer(
      setup,
      { attempts: 3, backoff: { initialMs: 3_500, multiplier: 1 } },
      { sessionTimeout: 6_000, heartbeatInterval: 500 },
    )
    const joins: unknown[] = []
    consumer.on(consumer.events.GROUP_JOIN, (event) => void joins.push(event))
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (String(message.value) === 'v1') throw new Error('poison')
      },
    })
    await waitFor('the dead letter', () => deadLetters.length === 1, 20_000)
    await waitFor('the commit past it', () => setup.cluster.committedOffset(setup.groupId, setup.topic, 0) === 2)
    expect(joins).toHaveLength(1)
  }, 30_000)
})

describe.each(['direct', 'sidecar'] as const)('dead-letter topic, %s mode, eachBatch', (mode) => {
  it('the record the handler fails on is tried alone, dead-lettered, and the rest of the batch handed over; good records are not blamed', async () => {
    const setup = await withRecords(mode, 5)
    const { consumer, deadLetters } = await dlqConsumer(setup, { attempts: 2 })
    const batches: string[][] = []
    const processed: string[] = []
    // Resolves nothing itself (eachBatchAutoResolve does it): which record failed is found by trying them alone.
    await consumer.run({
      eachBatch: async ({ batch }: EachBatchPayload) => {
        batches.push(values(batch.messages))
        for (const message of batch.messages) {
          if (String(message.value) === 'v2') throw new Error('poison')
          processed.push(String(message.value))
        }
      },
    })
    await waitFor(
      'the offset committed past every record',
      () => setup.cluster.committedOffset(setup.groupId, setup.topic, 0) === 5,
    )
    expect(batches).toEqual([
      ['v0', 'v1', 'v2', 'v3', 'v4'],
      ['v0'],
      ['v1', 'v2', 'v3', 'v4'],
      ['v1'],
      ['v2', 'v3', 'v4'],
      ['v2'],
      ['v2'],
      ['v3', 'v4'],
    ])
    expect(deadLetters.map((e) => [e.payload.offset, e.payload.attempts])).toEqual([['2', 2]])
    const [dead] = await consumeWithKafkaJS(setup.cluster, setup.dlq, 1)
    expect(String(dead!.value)).toBe('v2')
    expect(String(dead!.headers![DEAD_LETTER_HEADERS.attempts])).toBe('2')
  })

  it('a handler that resolves as it goes: the first record it did not resolve is the one tried alone; what it resolved is not handed over again', async () => {
    const setup = await withRecords(mode, 4)
    const { consumer, deadLetters } = await dlqConsumer(setup, { attempts: 2 })
    const batches: string[][] = []
    await consumer.run({
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset }: EachBatchPayload) => {
        batches.push(values(batch.messages))
        for (const message of batch.messages) {
          if (String(message.value) === 'v1') throw new Error('poison')
          resolveOffset(message.offset)
        }
      },
    })
    await waitFor(
      'the offset committed past every record',
      () => setup.cluster.committedOffset(setup.groupId, setup.topic, 0) === 4,
    )
    expect(batches).toEqual([['v0', 'v1', 'v2', 'v3'], ['v1'], ['v1'], ['v2', 'v3']])
    expect(deadLetters.map((e) => e.payload.offset)).toEqual(['1'])
  })
})

describe('without deadLetter', () => {
  it("kafka.consumer() is KafkaJS's own consumer, as before", () => {
    const kafka = new Kafka({ clientId: 'plain', brokers: ['127.0.0.1:9'], logLevel: logLevel.NOTHING })
    const ours = kafka.consumer({ groupId: 'g' })
    const theirs = new kafkajs.Kafka({ clientId: 'plain', brokers: ['127.0.0.1:9'] }).consumer({ groupId: 'g' })
    expect(Object.keys(ours)).toEqual(Object.keys(theirs))
    expect(ours.events).toBe(theirs.events)
    expect(Object.values(ours.events)).not.toContain('consumer.sidecar.dead_letter')
    const withDlq = kafka.consumer({ groupId: 'g', deadLetter: { topic: 'dlq' } })
    expect(Object.keys(withDlq).sort()).toEqual(Object.keys(theirs).sort())
    expect(withDlq.events.DEAD_LETTER).toBe('consumer.sidecar.dead_letter')
  })
})

describe('a consumer that subscribes to its own dead-letter topic', () => {
  it.each<[string, (dlq: string) => string | RegExp]>([
    ['by name', (dlq) => dlq],
    ['by a regular expression that matches it', (dlq) => new RegExp(`^${dlq.slice(0, 8)}`)],
  ])('is warned, %s: a failing record would come round again', async (_name, subscription) => {
    const cluster = await startCluster({ brokers: 1 })
    const dlq = randomTopic('loop-dlq')
    await cluster.createTopic({ topic: dlq, partitions: 1 })
    const warnings: string[] = []
    const kafka = new Kafka({
      brokers: cluster.bootstrapServers,
      logLevel: logLevel.WARN,
      logCreator: () => (entry) => {
        if (entry.level === logLevel.WARN) warnings.push(entry.log.message)
      },
    })
    const consumer = kafka.consumer({ groupId: randomTopic('group'), deadLetter: { topic: dlq } })
    await consumer.connect()
    onTestFinished(() => consumer.disconnect())
    await consumer.subscribe({ topic: subscription(dlq) })
    expect(warnings.filter((w) => w.includes('its own dead-letter topic'))).toEqual([
      `this consumer subscribes to its own dead-letter topic ${dlq} (${String(subscription(dlq))}): a record that keeps failing would be written there and read again, round and round`,
    ])
  })
})
