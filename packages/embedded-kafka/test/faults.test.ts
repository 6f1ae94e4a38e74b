/**
 * Injected faults, driven by real KafkaJS producers over TCP: a Produce answer lost after the
 * append (connection closed, or answered past the client's timeout) makes KafkaJS retry; an
 * idempotent producer's retry is answered as a duplicate with the original offset (one copy), a
 * plain producer's retry writes a second copy, as with Kafka. Refused producer ids fail an
 * idempotent producer's connect with Kafka's error. A refused partition fails alone; the request's
 * other partitions are written. A refused group crashes its KafkaJS consumer
 * with Kafka's error, and other groups go on.
 */
import { Kafka, logLevel } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { connectedProducer, kafkaFor, randomTopic, startCluster, waitFor } from '@kafka-sidecar/test-support'

const values = async (cluster: Awaited<ReturnType<typeof startCluster>>, topic: string) =>
  (await cluster.records(topic)).map((r) => `${r.partition}:${r.offset}:${r.value?.toString()}`)

describe('loseProduceResponses', () => {
  it('an idempotent retry after a lost answer is answered with the original offset, and written once', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('lost-idempotent')
    await cluster.createTopic({ topic, partitions: 2 })
    const producer = await connectedProducer(kafkaFor(cluster), { idempotent: true, maxInFlightRequests: 1 })
    await producer.send({ topic, messages: [{ partition: 0, value: 'before' }] })
    const fault = cluster.loseProduceResponses({ topic, partition: 0 })
    const [metadata] = await producer.send({
      topic,
      messages: [
        { partition: 0, value: 'a' },
        { partition: 0, value: 'b' },
      ],
    })
    expect(fault).toMatchObject({ fired: 1, remaining: 0 })
    expect(metadata).toMatchObject({ partition: 0, errorCode: 0, baseOffset: '1' })
    await producer.send({ topic, messages: [{ partition: 0, value: 'after' }] })
    expect(await values(cluster, topic)).toEqual(['0:0:before', '0:1:a', '0:2:b', '0:3:after'])
  })

  it('a plain retry after a lost answer writes the records a second time', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('lost-plain')
    await cluster.createTopic({ topic, partitions: 1 })
    const producer = await connectedProducer(kafkaFor(cluster))
    cluster.loseProduceResponses({ topic })
    const [metadata] = await producer.send({ topic, messages: [{ value: 'a' }] })
    expect(metadata).toMatchObject({ baseOffset: '1' })
    expect(await values(cluster, topic)).toEqual(['0:0:a', '0:1:a'])
  })

  it("a late answer (past KafkaJS's request timeout) makes the same retry: once when idempotent, twice when not", async () => {
    const cluster = await startCluster()
    for (const idempotent of [true, false]) {
      const topic = randomTopic('late')
      await cluster.createTopic({ topic, partitions: 1 })
      const kafka = new Kafka({
        clientId: 'late',
        brokers: cluster.bootstrapServers,
        logLevel: logLevel.NOTHING,
        requestTimeout: 300,
        retry: { retries: 3, initialRetryTime: 50 },
      })
      const producer = await connectedProducer(kafka, idempotent ? { idempotent: true, maxInFlightRequests: 1 } : {})
      cluster.loseProduceResponses({ topic, how: 'delay', delayMs: 600 })
      await producer.send({ topic, messages: [{ value: 'a' }] })
      expect(await values(cluster, topic)).toEqual(idempotent ? ['0:0:a'] : ['0:0:a', '0:1:a'])
    }
  })

  it('fires only on the chosen partition, `count` times, and not after clear()', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('select')
    await cluster.createTopic({ topic, partitions: 2 })
    const producer = await connectedProducer(kafkaFor(cluster))
    const fault = cluster.loseProduceResponses({ topic, partition: 1, count: 2 })
    await producer.send({ topic, messages: [{ partition: 0, value: 'p0' }] })
    expect(fault.fired).toBe(0)
    await producer.send({ topic, messages: [{ partition: 1, value: 'p1' }] })
    // The retry of the first loss is the second loss; the third attempt is answered.
    expect(fault).toMatchObject({ fired: 2, remaining: 0 })
    const other = cluster.loseProduceResponses({ topic, count: Infinity })
    other.clear()
    await producer.send({ topic, messages: [{ partition: 1, value: 'p1-again' }] })
    expect(other.fired).toBe(0)
    expect(await values(cluster, topic)).toEqual(['0:0:p0', '1:0:p1', '1:1:p1', '1:2:p1', '1:3:p1-again'])
  })

  it('refuses invalid arguments, naming them', async () => {
    const cluster = await startCluster({ brokers: 1 })
    expect(() => cluster.loseProduceResponses({ topic: '' })).toThrow(/topic/)
    expect(() => cluster.loseProduceResponses({ topic: 't', partition: -1 })).toThrow(/partition/)
    expect(() => cluster.loseProduceResponses({ topic: 't', count: 0 })).toThrow(/count/)
    expect(() => cluster.loseProduceResponses({ topic: 't', how: 'delay' })).toThrow(/delayMs/)
    expect(() => cluster.refuseProducerIds({ errorCode: 0 })).toThrow(/errorCode/)
  })
})

describe('refuseProducePartition', () => {
  it("refuses only its partition, `count` times, the request's other partitions written", async () => {
    const cluster = await startCluster()
    const topic = randomTopic('refused-partition')
    await cluster.createTopic({ topic, partitions: 2 })
    const producer = await connectedProducer(
      new Kafka({
        clientId: 'refused',
        brokers: cluster.bootstrapServers,
        logLevel: logLevel.NOTHING,
        retry: { retries: 0 },
      }),
    )
    const fault = cluster.refuseProducePartition({ topic, partition: 1, errorCode: 19, count: 1 })
    const both = [
      { partition: 0, value: 'a' },
      { partition: 1, value: 'b' },
    ]
    // KafkaJS throws the refused partition's error for the whole request.
    await expect(producer.send({ topic, messages: both })).rejects.toMatchObject({
      name: 'KafkaJSNumberOfRetriesExceeded',
      cause: { type: 'NOT_ENOUGH_REPLICAS' },
    })
    expect(fault).toMatchObject({ fired: 1, remaining: 0 })
    await producer.send({ topic, messages: both })
    expect(await values(cluster, topic)).toEqual(['0:0:a', '0:1:a', '1:0:b'])
    expect(() => cluster.refuseProducePartition({ topic, partition: -1, errorCode: 6 })).toThrow(/partition/)
    expect(() => cluster.refuseProducePartition({ topic, partition: 0, errorCode: 0 })).toThrow(/errorCode/)
  })
})

describe('refuseProducerIds', () => {
  it("fails an idempotent producer's connect with Kafka's error, and leaves other producers alone", async () => {
    const cluster = await startCluster()
    const kafka = kafkaFor(cluster)
    cluster.refuseProducerIds()
    const idempotent = kafka.producer({ idempotent: true })
    await expect(idempotent.connect()).rejects.toMatchObject({ type: 'CLUSTER_AUTHORIZATION_FAILED' })
    await idempotent.disconnect()
    const plain = await connectedProducer(kafka)
    await plain.send({ topic: randomTopic(), messages: [{ value: 'x' }] })
    cluster.clearFaults()
    const later = await connectedProducer(kafka, { idempotent: true })
    expect(later.isIdempotent()).toBe(true)
  })
})

describe('refuseGroup', () => {
  it("crashes the group's KafkaJS consumer with Kafka's error at its next heartbeat; other groups go on", async () => {
    const cluster = await startCluster({ brokers: 1 })
    const topic = randomTopic('refused-group')
    await cluster.createTopic({ topic, partitions: 1 })
    const kafka = new Kafka({ clientId: 'faults', brokers: cluster.bootstrapServers, logLevel: logLevel.NOTHING })
    const start = async (groupId: string) => {
      const consumer = kafka.consumer({ groupId, heartbeatInterval: 100, maxWaitTimeInMs: 100 })
      const crashes: Array<{ error: Error; restart: boolean }> = []
      consumer.on(consumer.events.CRASH, ({ payload }) => void crashes.push(payload))
      let joined = false
      consumer.on(consumer.events.GROUP_JOIN, () => (joined = true))
      await consumer.connect()
      await consumer.subscribe({ topic })
      await consumer.run({ eachMessage: async () => {} })
      await waitFor(`${groupId} joined`, () => joined, 10_000)
      return { groupId, consumer, crashes }
    }
    const refused = await start(randomTopic('group'))
    const other = await start(randomTopic('group'))
    const fault = cluster.refuseGroup({ groupId: refused.groupId })
    await waitFor('the refused group to crash', () => refused.crashes.length > 0, 10_000)
    // KafkaJS wraps the broker's error (non-retriable) in a KafkaJSNonRetriableError.
    expect((refused.crashes[0]!.error.cause as { type?: string }).type).toBe('GROUP_AUTHORIZATION_FAILED')
    expect(refused.crashes[0]!.restart).toBe(false)
    expect(fault.fired).toBeGreaterThan(0)
    expect(other.crashes).toEqual([])
    expect((await other.consumer.describeGroup()).state).toBe('Stable')
    await Promise.all([refused.consumer.disconnect(), other.consumer.disconnect()])
  })

  it('refuses invalid arguments, naming them', async () => {
    const cluster = await startCluster({ brokers: 1 })
    expect(() => cluster.refuseGroup({ groupId: '' })).toThrow(/groupId/)
    expect(() => cluster.refuseGroup({ groupId: 'g', errorCode: 0 })).toThrow(/errorCode/)
    expect(() => cluster.refuseGroup({ groupId: 'g', count: -1 })).toThrow(/count/)
  })
})
