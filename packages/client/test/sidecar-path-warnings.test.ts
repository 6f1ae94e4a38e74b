/**
 * KafkaJS options a producer's sidecar path cannot honour are named at connect, each with why,
 * through the application's own logCreator: never ignored without a word. Issue 12, finding 6e.
 */
import { describe, expect, it, onTestFinished } from 'vitest'
import { randomTopic, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import {
  Kafka,
  logLevel,
  type ProducerMode,
  type SidecarKafkaConfig,
  type SidecarProducerConfig,
} from '../src/index.js'
import { captureLogs } from './kafkajs-reference.js'

async function connectWith(
  mode: ProducerMode,
  kafkaConfig: Partial<SidecarKafkaConfig>,
  producerConfig: SidecarProducerConfig,
) {
  const cluster = await startCluster({ brokers: 1 })
  const sidecar = await startTestSidecar(cluster)
  const logs = captureLogs()
  const kafka = new Kafka({
    clientId: 'warnings-test',
    brokers: cluster.bootstrapServers,
    logLevel: logLevel.WARN,
    logCreator: logs.logCreator,
    ...kafkaConfig,
    sidecar: { mode, address: sidecar.address, connectTimeoutMs: 3_000 },
  })
  const producer = kafka.producer(producerConfig)
  onTestFinished(() => producer.disconnect().catch(() => {}))
  await producer.connect()
  const topic = randomTopic()
  await producer.send({ topic, messages: [{ value: 'v' }] })
  const warned = logs.entries.filter((e) => e.label === 'WARN' && typeof e.log.option === 'string')
  return { producer, warned: warned.map((e) => ({ option: e.log.option, message: e.log.message })) }
}

describe('options the sidecar path ignores', () => {
  it('retry, requestTimeout, maxInFlightRequests and metadataMaxAge are each named at connect, with why', async () => {
    const { warned } = await connectWith(
      'sidecar',
      { retry: { retries: 2 }, requestTimeout: 10_000 },
      { maxInFlightRequests: 1, metadataMaxAge: 60_000 },
    )
    expect(warned.map((w) => w.option).sort()).toEqual([
      'maxInFlightRequests',
      'metadataMaxAge',
      'requestTimeout',
      'retry (Kafka)',
    ])
    expect(warned.find((w) => w.option === 'retry (Kafka)')!.message).toMatch(
      /^Option retry \(Kafka\) does not apply to sends through the sidecar \(it does to the direct fallback\): the sidecar's own producer retries broker errors/,
    )
    expect(warned.find((w) => w.option === 'maxInFlightRequests')!.message).toMatch(
      /KAFKA_SIDECAR_MAX_IN_FLIGHT_PER_PARTITION/,
    )
    expect(warned.find((w) => w.option === 'metadataMaxAge')!.message).toMatch(/KAFKA_SIDECAR_METADATA_MAX_AGE_MS/)
    expect(warned.find((w) => w.option === 'requestTimeout')!.message).toMatch(
      /waits for the sidecar max\(timeout, 30000\) ms/,
    )
  })

  it("the producer's own retry is named as such", async () => {
    const { warned } = await connectWith('sidecar', {}, { retry: { retries: 3 } })
    expect(warned.map((w) => w.option)).toEqual(['retry (producer)'])
  })

  it('nothing is said when none of them is set, nor in direct mode where they all apply', async () => {
    expect((await connectWith('sidecar', {}, {})).warned).toEqual([])
    expect(
      (
        await connectWith(
          'direct',
          { retry: { retries: 2 }, requestTimeout: 10_000 },
          { maxInFlightRequests: 1, metadataMaxAge: 60_000 },
        )
      ).warned,
    ).toEqual([])
  })
})
