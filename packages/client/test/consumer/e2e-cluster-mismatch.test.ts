/**
 * A sidecar consumer asks the sidecar which cluster it reads before it joins through it, as a
 * producer does before it sends (cluster-check.ts). Two clusters, each with a topic of the same
 * name and different records; the sidecar reads the second, the application's brokers are the
 * first. `refuse`: the consumer reads the application's cluster directly, and says why; `warn`:
 * it reads through the sidecar (the sidecar's cluster) and says so in an error log line.
 */
import { randomTopic, startCluster, startTestSidecar, waitFor } from '@kafka-sidecar/test-support'
import kafkajs, { type LogEntry } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { Kafka } from '../../src/index.js'
import { consumerOf, topicWithRecords } from './e2e-helpers.js'

const PER_PARTITION = 5

async function setUp() {
  const [application, other] = await Promise.all([startCluster({ brokers: 1 }), startCluster({ brokers: 1 })])
  const topic = randomTopic('mismatch')
  await topicWithRecords(application, topic, 1, PER_PARTITION)
  await other.createTopic({ topic, partitions: 1 })
  // The other cluster's records say where they come from.
  const producer = new kafkajs.Kafka({ brokers: other.bootstrapServers, logLevel: kafkajs.logLevel.NOTHING }).producer()
  await producer.connect()
  await producer.send({ topic, messages: [{ value: 'from the other cluster' }] })
  await producer.disconnect()
  const sidecar = await startTestSidecar(other)
  return { application, topic, sidecar }
}

async function consume(policy: 'refuse' | 'warn') {
  const { application, topic, sidecar } = await setUp()
  const errors: string[] = []
  const kafka = new Kafka({
    clientId: `mismatch-${policy}`,
    brokers: application.bootstrapServers,
    logLevel: kafkajs.logLevel.ERROR,
    logCreator: () => (entry: LogEntry) =>
      void (entry.level === kafkajs.logLevel.ERROR && errors.push(entry.log.message)),
    retry: { retries: 3, initialRetryTime: 50, maxRetryTime: 500 },
    sidecar: { consumerMode: 'sidecar', address: sidecar.address, connectTimeoutMs: 5_000, clusterMismatch: policy },
  })
  const values: string[] = []
  const consumer = consumerOf(kafka, { groupId: randomTopic('group') })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({ eachMessage: async ({ message }) => void values.push(message.value!.toString()) })
  return { values, errors, consumer }
}

describe('a sidecar reading another cluster than the consumer application', () => {
  it("refuse: the consumer reads the application's cluster directly, and the log says why", async () => {
    const { values, errors } = await consume('refuse')
    await waitFor(`${PER_PARTITION} records of the application's cluster`, () => values.length >= PER_PARTITION, 15_000)
    expect(values).toEqual(Array.from({ length: PER_PARTITION }, (_, i) => `p0-${i}`))
    expect(errors.join('\n')).toMatch(
      /The sidecar writes to another Kafka cluster .*Consuming directly from the application's brokers instead \(clusterMismatch: refuse\)/,
    )
  })

  it("warn: the consumer reads through the sidecar, from the sidecar's cluster, and the log says so", async () => {
    const { values, errors } = await consume('warn')
    await waitFor('the record of the sidecar cluster', () => values.length >= 1, 15_000)
    expect(values).toEqual(['from the other cluster'])
    expect(errors.join('\n')).toMatch(/Consuming through the sidecar anyway \(clusterMismatch: warn\)/)
  })
})
