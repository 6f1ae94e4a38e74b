/**
 * `joined` is the first event of every Consume stream, as the contract says, also when the group's
 * member is joined already and the new process is given partitions (and batches) at once: the
 * client re-sends its pauses when it hears `joined`, so nothing may come before it.
 */
import {
  connectedProducer,
  kafkaFor,
  randomTopic,
  startCluster,
  startTestSidecar,
  waitFor,
} from '@kafka-sidecar/test-support'
import { describe, expect, it } from 'vitest'
import { consumerClient, joinRequest, TestConsumer } from './consumer-helpers.js'

describe('Consume: the order of the first events', () => {
  it('joined, then assigned, then batches, for a process joining a member that is joined already', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const topic = randomTopic('order')
    await cluster.createTopic({ topic, partitions: 2 })
    const producer = await connectedProducer(kafkaFor(cluster))
    await producer.send({
      topic,
      messages: [
        { partition: 0, value: 'a' },
        { partition: 1, value: 'b' },
      ],
    })
    const sidecar = await startTestSidecar(cluster)
    const groupId = randomTopic('group')
    const client = consumerClient(sidecar)
    const first = TestConsumer.join(client, joinRequest(groupId, [topic]), { hold: true })
    await waitFor('the first process holds both batches', () => first.held.length === 2, 20_000)
    first.cancel()

    const second = TestConsumer.join(client, joinRequest(groupId, [topic]))
    await waitFor('both records at the second process', () => second.consumed.length === 2, 10_000)
    const cases = second.events.map((e) => e.event?.$case)
    expect(cases.slice(0, 4)).toEqual(['joined', 'assigned', 'batch', 'batch'])
  })
})
