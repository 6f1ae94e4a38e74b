/**
 * Topic creation follows the brokers, as for a direct KafkaJS producer: the sidecar asks for
 * metadata with allow_auto_topic_creation (the request's, else its default, true as KafkaJS's),
 * and the brokers' auto.create.topics.enable decides. It used to create unknown topics itself
 * with CreateTopics, so against brokers with auto-creation off a send to a missing topic
 * succeeded in sidecar mode, and the topic existed, where direct KafkaJS failed and created
 * nothing (issue 12).
 */
import { status } from '@grpc/grpc-js'
import type { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import { Kafka, logLevel, type ProducerConfig } from 'kafkajs'
import { describe, expect, it, onTestFinished } from 'vitest'
import { randomTopic, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import { bytes, emit, emitError, emitRequest, kafkajsProducer, sidecarClient } from './helpers.js'

/** Few, short retries: direct KafkaJS gives up on a missing topic in well under a second. */
const QUICK_RETRY: ProducerConfig['retry'] = { retries: 1, initialRetryTime: 50, maxRetryTime: 100 }
const DEFAULT_PARTITIONS = 2

async function listTopics(cluster: EmbeddedKafka): Promise<string[]> {
  const admin = new Kafka({ clientId: 'lister', brokers: cluster.bootstrapServers, logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  onTestFinished(() => admin.disconnect())
  return (await admin.listTopics()).sort()
}

async function directSend(cluster: EmbeddedKafka, topic: string, config: ProducerConfig = {}) {
  const producer = await kafkajsProducer(cluster, { retry: QUICK_RETRY, ...config })
  return producer.send({ topic, messages: [{ value: 'direct' }] }).then(
    (metadata) => ({ ok: true as const, partitions: metadata.length }),
    (error: Error & { cause?: { type?: string; retriable?: boolean } }) => ({
      ok: false as const,
      name: error.name,
      cause: error.cause?.type,
      retriable: error.cause?.retriable,
    }),
  )
}

async function world(autoCreateTopics: boolean) {
  const cluster = await startCluster({ autoCreateTopics, defaultPartitions: DEFAULT_PARTITIONS })
  const sidecar = await startTestSidecar(cluster)
  return { cluster, client: sidecarClient(sidecar) }
}

describe('brokers with auto.create.topics.enable=false', () => {
  it('a send to a missing topic fails as in direct KafkaJS, and neither creates it', async () => {
    const { cluster, client } = await world(false)
    const before = await listTopics(cluster)
    const [ours, theirs] = [randomTopic('sidecar'), randomTopic('direct')]

    const error = await emitError(client, emitRequest(ours, [{ value: bytes('x') }]))
    expect({
      code: status[error.code],
      kafkaError: error.metadata.get('kafka-error-name'),
      retriable: error.metadata.get('retriable'),
    }).toEqual({
      code: 'NOT_FOUND',
      kafkaError: ['UNKNOWN_TOPIC_OR_PARTITION'],
      retriable: ['true'],
    })
    expect(error.details).toBe(
      `topic "${ours}" does not exist (the brokers did not create it: their auto.create.topics.enable is off)`,
    )
    expect(await directSend(cluster, theirs)).toEqual({
      ok: false,
      name: 'KafkaJSNumberOfRetriesExceeded',
      cause: 'UNKNOWN_TOPIC_OR_PARTITION',
      retriable: true,
    })

    expect(await listTopics(cluster)).toEqual(before)
    expect(cluster.topics()).not.toContain(ours)
  })

  it('allow_auto_topic_creation true in the request does not override the brokers', async () => {
    const { cluster, client } = await world(false)
    const topic = randomTopic('wanted')
    const error = await emitError(client, emitRequest(topic, [{ value: bytes('x') }], { allowAutoTopicCreation: true }))
    expect(status[error.code]).toBe('NOT_FOUND')
    expect(cluster.topics()).not.toContain(topic)
  })

  it('a topic created afterwards is found by the next send', async () => {
    const { cluster, client } = await world(false)
    const topic = randomTopic('later')
    expect(status[(await emitError(client, emitRequest(topic, [{ value: bytes('early') }]))).code]).toBe('NOT_FOUND')
    await cluster.createTopic({ topic, partitions: 1 })
    const ack = await emit(client, emitRequest(topic, [{ value: bytes('late') }]))
    expect(ack.results).toEqual([expect.objectContaining({ topic, partition: 0, baseOffset: 0, error: undefined })])
  })
})

describe('brokers with auto.create.topics.enable=true', () => {
  it("a send to a missing topic creates it as direct KafkaJS does: the brokers' default partitions, the same topic list", async () => {
    const { cluster, client } = await world(true)
    const before = await listTopics(cluster)
    const [ours, theirs] = [randomTopic('sidecar'), randomTopic('direct')]
    const ack = await emit(client, emitRequest(ours, [{ value: bytes('x'), partition: 0 }]))
    expect(ack.results[0]!.leaderId).toBe(cluster.offsets(ours)[0]!.leaderId)
    expect(await directSend(cluster, theirs)).toEqual({ ok: true, partitions: 1 })

    expect(await listTopics(cluster)).toEqual([...before, ours, theirs].sort())
    expect([cluster.offsets(ours).length, cluster.offsets(theirs).length]).toEqual([
      DEFAULT_PARTITIONS,
      DEFAULT_PARTITIONS,
    ])
  })

  it("allow_auto_topic_creation false (KafkaJS's producer option): refused and not created, as direct KafkaJS with the option", async () => {
    const { cluster, client } = await world(true)
    const [ours, theirs] = [randomTopic('sidecar'), randomTopic('direct')]
    const error = await emitError(client, emitRequest(ours, [{ value: bytes('x') }], { allowAutoTopicCreation: false }))
    expect({ code: status[error.code], kafkaError: error.metadata.get('kafka-error-name') }).toEqual({
      code: 'NOT_FOUND',
      kafkaError: ['UNKNOWN_TOPIC_OR_PARTITION'],
    })
    expect(error.details).toBe(`topic "${ours}" does not exist (this request does not allow auto-creation)`)
    expect(await directSend(cluster, theirs, { allowAutoTopicCreation: false })).toMatchObject({
      ok: false,
      name: 'KafkaJSNumberOfRetriesExceeded',
      cause: 'UNKNOWN_TOPIC_OR_PARTITION',
    })
    expect(cluster.topics()).not.toContain(ours)
    expect(cluster.topics()).not.toContain(theirs)
  })

  it('a request that may create a missing topic is not held to the answer of a concurrent one that may not', async () => {
    const { cluster, client } = await world(true)
    const topic = randomTopic('raced')
    // Whether the one that may not is refused depends on which Metadata request the brokers
    // answer first, as for two direct producers; the one that may always gets the topic.
    const [, allowed] = await Promise.allSettled([
      emit(client, emitRequest(topic, [{ value: bytes('may not') }], { allowAutoTopicCreation: false })),
      emit(client, emitRequest(topic, [{ value: bytes('may') }], { allowAutoTopicCreation: true })),
    ])
    expect(allowed).toMatchObject({
      status: 'fulfilled',
      value: { received: true, results: [expect.objectContaining({ topic, error: undefined })] },
    })
    expect(cluster.topics()).toContain(topic)
  })

  it('true or unset in the request: created, and results name the leader', async () => {
    const { cluster, client } = await world(true)
    for (const allowAutoTopicCreation of [true, undefined]) {
      const topic = randomTopic('wanted')
      const ack = await emit(
        client,
        emitRequest(topic, [{ value: bytes('x'), partition: 0 }], { allowAutoTopicCreation }),
      )
      expect(cluster.topics()).toContain(topic)
      expect(ack.results[0]!.leaderId).toBe(cluster.offsets(topic)[0]!.leaderId)
    }
  })
})

describe('the sidecar default (KAFKA_SIDECAR_AUTO_CREATE_TOPICS=false) for requests that do not say', () => {
  it('is sent to the brokers: nothing created; a request that says true still creates', async () => {
    const cluster = await startCluster({ autoCreateTopics: true })
    const client = sidecarClient(await startTestSidecar(cluster, { allowAutoTopicCreation: false }))
    const [unset, wanted] = [randomTopic('unset'), randomTopic('wanted')]
    expect(status[(await emitError(client, emitRequest(unset, [{ value: bytes('x') }]))).code]).toBe('NOT_FOUND')
    await emit(client, emitRequest(wanted, [{ value: bytes('x') }], { allowAutoTopicCreation: true }))
    expect(cluster.topics()).not.toContain(unset)
    expect(cluster.topics()).toContain(wanted)
  })
})
