/**
 * DirectBatchSender (the sidecar's own Produce encoding on KafkaJS's connections) against the
 * producer's own sendBatch, on one shared KafkaJS cluster in front of embedded-kafka over TCP.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { randomTopic, startCluster } from '@kafka-sidecar/test-support'
import { Kafka, logLevel, Partitioners, type Message } from 'kafkajs'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { BatchSender } from '../src/pipeline/dispatcher.js'
import { producerAndAdminOnOneCluster } from '../src/kafka/shared-cluster.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** Buffer memory after a full collection. */
function arrayBuffersNow(): number {
  gc()
  gc()
  return process.memoryUsage().arrayBuffers
}

async function clients(brokers: string[]) {
  const kafka = new Kafka({ clientId: 'direct-sender-test', brokers, logLevel: logLevel.NOTHING })
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
    // A batch over message.max.bytes: refused, so the broker keeps nothing between the two sends.
    const cluster = await startCluster({ brokers: 1, maxMessageBytes: 1024 * 1024 })
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1, replicationFactor: 1 })
    const { producer, direct } = await clients(cluster.bootstrapServers)
    const messages: Message[] = Array.from({ length: 24 }, () => ({
      value: Buffer.alloc(1024 * 1024, 1),
      partition: 0,
    }))

    /** Buffer memory a sendBatch holds past the messages while its answer is delayed. */
    const heldWhileInFlight = async (sender: Pick<BatchSender, 'sendBatch'>): Promise<number> => {
      cluster.loseProduceResponses({ topic, how: 'delay', delayMs: 1_500 })
      const before = arrayBuffersNow()
      const sent = sender.sendBatch({ topicMessages: [{ topic, messages }], acks: 1, timeout: 30_000, compression: 0 })
      const settled = sent.catch(() => undefined)
      await new Promise((r) => setTimeout(r, 900))
      const during = arrayBuffersNow()
      await expect(sent).rejects.toMatchObject({ type: 'MESSAGE_TOO_LARGE' })
      await settled
      return during - before
    }

    const kafkajs = await heldWhileInFlight(producer)
    const sidecar = await heldWhileInFlight(direct)
    // KafkaJS keeps the framed request until the answer; a second copy would be `payload` more.
    expect(kafkajs).toBeGreaterThan(payload / 2)
    expect(sidecar).toBeLessThan(kafkajs + payload / 2)
  })
})
