/**
 * DirectBatchSender (the sidecar's own Produce encoding on KafkaJS's connections) against the
 * producer's own sendBatch, on one shared KafkaJS cluster in front of embedded-kafka over TCP:
 * the same answers and records where KafkaJS retries a whole request for a reason of its own,
 * and fewer duplicates where a broker refuses only some partitions of a request (KafkaJS resends
 * them all; the sidecar's sender only the refused ones).
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { randomTopic, startCluster } from '@kafka-sidecar/test-support'
import type { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import { Kafka, logLevel, Partitioners, type KafkaConfig, type Message } from 'kafkajs'
import fc from 'fast-check'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import type { BatchSender } from '../src/pipeline/dispatcher.js'
import { ProduceAnswers } from '../src/kafka/produce-answers.js'
import { producerAndAdminOnOneCluster } from '../src/kafka/shared-cluster.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** Buffer memory after a full collection. */
function arrayBuffersNow(): number {
  gc()
  gc()
  return process.memoryUsage().arrayBuffers
}

async function clients(brokers: string[], settings: Partial<KafkaConfig> = {}) {
  const kafka = new Kafka({ clientId: 'direct-sender-test', brokers, logLevel: logLevel.NOTHING, ...settings })
  const shared = producerAndAdminOnOneCluster(
    kafka,
    { createPartitioner: Partitioners.DefaultPartitioner, metadataMaxAge: 300_000 },
    { retries: 1 },
  )
  const direct = shared.createDirectSender()
  await shared.producer.connect()
  onTestFinished(() => shared.producer.disconnect())
  return { producer: shared.producer, direct }
}

describe('DirectBatchSender', () => {
  it('holds no more buffer memory than KafkaJS while a request awaits its answer', async () => {
    const payload = 24 * 1024 * 1024
    const cluster = await startCluster({ brokers: 1, maxMessageBytes: 2 * payload })
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1, replicationFactor: 1 })
    const { producer, direct } = await clients(cluster.bootstrapServers)
    const messages: Message[] = Array.from({ length: 24 }, () => ({
      value: Buffer.alloc(1024 * 1024, 1),
      partition: 0,
    }))
    const written = () => cluster.offsets(topic)[0]!.highWatermark

    /** Buffer memory a sendBatch holds past the messages once the broker has its records, answer withheld. */
    const heldWhileInFlight = async (sender: Pick<BatchSender, 'sendBatch'>): Promise<number> => {
      cluster.loseProduceResponses({ topic, how: 'delay', delayMs: 3_000 })
      const writtenBefore = written()
      const before = arrayBuffersNow()
      const sent = sender.sendBatch({ topicMessages: [{ topic, messages }], acks: 1, timeout: 30_000, compression: 0 })
      await vi.waitFor(() => expect(written()).toBe(writtenBefore + messages.length), { timeout: 10_000, interval: 20 })
      const during = arrayBuffersNow()
      await sent
      return during - before
    }

    const kafkajs = await heldWhileInFlight(producer)
    const sidecar = await heldWhileInFlight(direct)
    // KafkaJS keeps the framed request until the answer; a second copy would be `payload` more.
    expect(kafkajs).toBeGreaterThan(payload / 2)
    expect(sidecar).toBeLessThan(kafkajs + payload / 2)
  })
})

/** What happens before the send: faults armed, brokers stopped, earlier sends with the same sender. */
type Scenario = (cluster: EmbeddedKafka, topic: string, sender: Pick<BatchSender, 'sendBatch'>) => unknown

interface Outcome {
  readonly answer: unknown
  readonly stored: unknown[]
}

/** What a sendBatch gave (answers per partition, or the error's kind) and what the brokers hold. */
async function outcomeOf(
  sender: 'kafkajs' | 'direct',
  scenario: Scenario,
  settings: Partial<KafkaConfig> = {},
  clusterOptions: Parameters<typeof startCluster>[0] = {},
): Promise<Outcome> {
  const cluster = await startCluster({ brokers: 3, ...clusterOptions })
  const topic = randomTopic()
  await cluster.createTopic({ topic, partitions: 3, replicationFactor: 3 })
  const { producer, direct } = await clients(cluster.bootstrapServers, settings)
  const messages = [0, 1, 2, 0, 1, 2].map((partition, i) => ({ value: `v${i}`, partition }))
  const chosen: Pick<BatchSender, 'sendBatch'> = sender === 'kafkajs' ? producer : direct
  await scenario(cluster, topic, chosen)
  const send = chosen.sendBatch({
    topicMessages: [{ topic, messages }],
    acks: -1,
    timeout: 30_000,
    compression: 0,
  })
  const answer = await send.then(
    (metadata) =>
      metadata
        .map(({ partition, errorCode, baseOffset }) => ({ partition, errorCode, baseOffset }))
        .sort((a, b) => a.partition - b.partition),
    (e: { name: string; retriable: boolean; cause?: { name: string } }) => ({
      name: e.name,
      retriable: e.retriable,
      cause: e.cause?.name,
    }),
  )
  await cluster.startBrokers()
  const stored = (await cluster.records(topic)).map(({ partition, offset, value }) => [
    partition,
    offset,
    String(value),
  ])
  return { answer, stored }
}

describe('DirectBatchSender, where KafkaJS retries', () => {
  /** A scenario, the client settings it needs, and what it must have caused (so it cannot pass idle). */
  const cases: Array<
    [string, Scenario, Partial<KafkaConfig>, (o: Outcome) => void, Parameters<typeof startCluster>[0]?]
  > = [
    [
      'an answer lost with its connection (the retry writes the records again)',
      (cluster, topic) => cluster.loseProduceResponses({ topic, partition: 1 }),
      {},
      (o) => expect(o.stored).toHaveLength(8),
    ],
    [
      'an answer later than the request timeout (written again)',
      (cluster, topic) => cluster.loseProduceResponses({ topic, partition: 2, how: 'delay', delayMs: 1_000 }),
      { requestTimeout: 300 },
      (o) => expect(o.stored.length).toBeGreaterThan(6),
    ],
    [
      'every broker stopped (the cluster cannot reconnect)',
      (cluster) => cluster.stopBrokers(),
      { retry: { retries: 2, initialRetryTime: 50 }, connectionTimeout: 300 },
      (o) => expect(o.answer).toMatchObject({ name: 'KafkaJSNonRetriableError', cause: 'KafkaJSConnectionError' }),
    ],
    [
      "a request over the brokers' socket.request.max.bytes (they close the connection)",
      () => undefined,
      { retry: { retries: 2, initialRetryTime: 50 } },
      (o) => expect(o).toMatchObject({ answer: { name: 'KafkaJSNumberOfRetriesExceeded' }, stored: [] }),
      { maxRequestBytes: 120 },
    ],
  ]
  it.each(cases)('answers and writes as KafkaJS does: %s', async (_, scenario, settings, check, clusterOptions) => {
    const kafkajs = await outcomeOf('kafkajs', scenario, settings, clusterOptions)
    const direct = await outcomeOf('direct', scenario, settings, clusterOptions)
    check(kafkajs)
    expect(direct).toEqual(kafkajs)
  })
})

describe('DirectBatchSender, where a broker refuses some partitions of a request', () => {
  it('a stale leader in the metadata (NOT_LEADER for one partition): KafkaJS writes the other partition twice, the sidecar once', async () => {
    // Partition 0's leader stops and comes back: the sender still thinks partition 1's leader
    // leads 0, and that broker writes partition 1 and refuses 0 (NOT_LEADER). KafkaJS resends the
    // whole request after a metadata refresh; the sidecar's sender resends partition 0 alone.
    const staleLeader: Scenario = async (cluster, topic, sender) => {
      const leaderOf0 = cluster.offsets(topic)[0]!.leaderId
      await cluster.stopBroker(leaderOf0)
      await sender.sendBatch({
        topicMessages: [{ topic, messages: [{ value: 'moved', partition: 0 }] }],
        acks: -1,
        timeout: 30_000,
        compression: 0,
      })
      await cluster.startBroker(leaderOf0)
    }
    const kafkajs = await outcomeOf('kafkajs', staleLeader)
    const direct = await outcomeOf('direct', staleLeader)
    const partition1 = (o: Outcome) => o.stored.filter((r) => (r as unknown[])[0] === 1)
    expect(partition1(kafkajs)).toEqual([
      [1, 0, 'v1'],
      [1, 1, 'v4'],
      [1, 2, 'v1'],
      [1, 3, 'v4'],
    ])
    expect(partition1(direct)).toEqual([
      [1, 0, 'v1'],
      [1, 1, 'v4'],
    ])
    expect(direct.stored).toHaveLength(1 + 6)
    const answers = (partition1BaseOffset: string) => [
      { partition: 0, errorCode: 0, baseOffset: '1' },
      { partition: 1, errorCode: 0, baseOffset: partition1BaseOffset },
      { partition: 2, errorCode: 0, baseOffset: '0' },
    ]
    expect(kafkajs.answer).toEqual(answers('2'))
    expect(direct.answer).toEqual(answers('0'))
  })

  /** Per partition: how many retriable refusals come first, then whether it is refused for good. */
  const plan = fc.array(
    fc.record({
      retriable: fc.array(fc.constantFrom(6, 19), { maxLength: 2 }), // NOT_LEADER_FOR_PARTITION, NOT_ENOUGH_REPLICAS
      final: fc.constantFrom(null, null, 10, 29), // MESSAGE_TOO_LARGE, TOPIC_AUTHORIZATION_FAILED
    }),
    { minLength: 3, maxLength: 3 },
  )

  it('writes each partition at most once and answers each with its own result, whatever mix the broker refuses', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const { direct } = await clients(cluster.bootstrapServers, { retry: { retries: 3, initialRetryTime: 10 } })
    await fc.assert(
      fc.asyncProperty(plan, async (partitions) => {
        const topic = randomTopic()
        await cluster.createTopic({ topic, partitions: 3, replicationFactor: 1 })
        partitions.forEach(({ retriable, final }, partition) => {
          for (const errorCode of retriable) cluster.refuseProducePartition({ topic, partition, errorCode })
          if (final !== null) cluster.refuseProducePartition({ topic, partition, errorCode: final })
        })
        const messages = [0, 1, 2, 0, 1, 2].map((partition, i) => ({ value: `v${i}`, partition }))
        const answers = new ProduceAnswers()
        const sent = await direct
          .sendBatch({ topicMessages: [{ topic, messages }], acks: -1, timeout: 30_000, compression: 0 }, answers)
          .then(
            (metadata) =>
              metadata.map(({ partition, errorCode, baseOffset }) => ({ partition, errorCode, baseOffset })),
            (e: { name: string; type?: string }) => ({ name: e.name, type: e.type }),
          )
        const stored = (await cluster.records(topic)).map(({ partition, value }) => [partition, String(value)])
        const finals = partitions.flatMap(({ final }) => (final === null ? [] : [final]))
        partitions.forEach(({ final }, partition) => {
          const mine = final === null ? [`v${partition}`, `v${partition + 3}`] : []
          expect(stored.filter(([p]) => p === partition)).toEqual(mine.map((v) => [partition, v]))
          expect(answers.of(topic, partition)).toMatchObject(
            final === null ? { errorCode: 0, baseOffset: '0' } : { errorCode: final },
          )
        })
        if (finals.length === 0)
          expect(sent).toEqual(
            expect.arrayContaining([0, 1, 2].map((partition) => ({ partition, errorCode: 0, baseOffset: '0' }))),
          )
        else expect(sent).toMatchObject({ name: 'KafkaJSProtocolError' })
        cluster.clearFaults()
      }),
      { numRuns: 25 },
    )
  })
})

describe('DirectBatchSender answers', () => {
  it('forgets a refusal once its partition is sent again: a retry that ends unanswered fails with its own error', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 2, replicationFactor: 1 })
    // One retry, 1.2 to 1.8 s after the refusal: time, even on a loaded machine, to see the
    // refusal noted and to take the next answer away before the partition is sent again.
    const { direct } = await clients(cluster.bootstrapServers, { retry: { retries: 1, initialRetryTime: 1_500 } })
    const refusal = cluster.refuseProducePartition({ topic, partition: 0, errorCode: 6 }) // NOT_LEADER_OR_FOLLOWER
    const answers = new ProduceAnswers()
    const messages = [0, 1].map((partition) => ({ value: `v${partition}`, partition }))
    const sent = direct
      .sendBatch({ topicMessages: [{ topic, messages }], acks: -1, timeout: 30_000, compression: 0 }, answers)
      .then(
        () => null,
        (e: Error) => e,
      )
    await vi.waitFor(() => expect(refusal.fired).toBe(1), { timeout: 5_000, interval: 5 })
    await vi.waitFor(() => expect(answers.of(topic, 0)).toMatchObject({ errorCode: 6 }), {
      timeout: 1_000,
      interval: 5,
    })
    // Every later answer about partition 0 is lost with its connection.
    cluster.loseProduceResponses({ topic, partition: 0, how: 'close', count: 10 })
    const error = await sent
    expect(error?.name).toMatch(/KafkaJSNumberOfRetriesExceeded|KafkaJSConnection/)
    expect(answers.of(topic, 0)).toBeUndefined()
    expect(answers.of(topic, 1)).toMatchObject({ errorCode: 0 })
    cluster.clearFaults()
  })
})
