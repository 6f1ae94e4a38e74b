import { describe, expect, it } from 'vitest'
import {
  connectedConsumer,
  connectedProducer,
  kafkaFor,
  randomTopic,
  startCluster,
  waitFor,
} from '@kafka-sidecar/test-support'

describe('smoke', () => {
  it('round-trips records through a 3-broker cluster with KafkaJS', async () => {
    const cluster = await startCluster({ brokers: 3 })
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 3 })
    const kafka = kafkaFor(cluster)
    const producer = await connectedProducer(kafka)
    const result = await producer.send({
      topic,
      messages: [
        { key: 'a', value: 'one' },
        { key: 'b', value: 'two' },
      ],
    })
    expect(result.length).toBeGreaterThan(0)
    const consumer = await connectedConsumer(kafka, { groupId: randomTopic('group') })
    await consumer.subscribe({ topic, fromBeginning: true })
    const seen: string[] = []
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) })
    await waitFor('two messages', () => seen.length === 2)
    expect(seen.sort()).toEqual(['one', 'two'])
  })
})
