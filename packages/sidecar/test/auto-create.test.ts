/** The client's allowAutoTopicCreation travels with each request, as KafkaJS's producer option does. */
import { status } from '@grpc/grpc-js'
import { describe, expect, it } from 'vitest'
import { bytes, emit, emitError, emitRequest, randomTopic, sidecarClient, startCluster, startTestSidecar } from './helpers.js'

describe('allow_auto_topic_creation', () => {
  it('false: an unknown topic is refused and not created', async () => {
    const cluster = await startCluster()
    const sidecar = await startTestSidecar(cluster, { allowAutoTopicCreation: true })
    const client = sidecarClient(sidecar)
    const topic = randomTopic('unwanted')
    const error = await emitError(client, emitRequest(topic, [{ value: bytes('x') }], { allowAutoTopicCreation: false }))
    expect(error.code).toBe(status.NOT_FOUND)
    expect(error.metadata.get('kafka-error-name')).toEqual(['UNKNOWN_TOPIC_OR_PARTITION'])
    expect(cluster.topics()).not.toContain(topic)
  })

  it('true or unset: the topic is created (the sidecar allows it) and results name the leader', async () => {
    const cluster = await startCluster()
    const sidecar = await startTestSidecar(cluster, { allowAutoTopicCreation: true })
    const client = sidecarClient(sidecar)
    for (const allowAutoTopicCreation of [true, undefined]) {
      const topic = randomTopic('wanted')
      const ack = await emit(client, emitRequest(topic, [{ value: bytes('x'), partition: 0 }], { allowAutoTopicCreation }))
      expect(cluster.topics()).toContain(topic)
      expect(ack.results[0]!.leaderId).toBe(cluster.offsets(topic)[0]!.leaderId)
    }
  })
})
