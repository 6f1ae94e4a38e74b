/**
 * Topic creation is the brokers' decision in both modes (issue 12): against brokers with
 * auto.create.topics.enable=false a send to a missing topic fails with the same KafkaJS error in
 * sidecar mode as in direct mode and creates nothing; with it on, both create the topic with the
 * brokers' defaults. The sidecar used to create the topic itself, so sidecar mode succeeded.
 */
import kafkajs from 'kafkajs'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import { randomTopic, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import type { SidecarProducer } from '../src/index.js'
import { errorFacts, outcome, outcomeFacts } from './kafkajs-reference.js'
import { connectedProducer } from './helpers.js'

/** Direct mode retries a missing topic; kept short here (the retry settings do not change the error). */
const retry = { retries: 1, initialRetryTime: 50, maxRetryTime: 100 }

async function listTopics(cluster: EmbeddedKafka): Promise<string[]> {
  const admin = new kafkajs.Kafka({
    clientId: 'lister',
    brokers: cluster.bootstrapServers,
    logLevel: kafkajs.logLevel.NOTHING,
  }).admin()
  await admin.connect()
  onTestFinished(() => admin.disconnect())
  return (await admin.listTopics()).sort()
}

async function bothModes(autoCreateTopics: boolean) {
  const cluster = await startCluster({ autoCreateTopics, defaultPartitions: 2 })
  const sidecar = await startTestSidecar(cluster)
  const viaSidecar = await connectedProducer({ cluster, mode: 'sidecar', address: sidecar.address, config: { retry } })
  const direct = await connectedProducer({ cluster, mode: 'direct', config: { retry } })
  return { cluster, viaSidecar, direct }
}

/** The send's outcome as a caller sees it, with the error's cause (KafkaJS's protocol error). */
async function sendFacts(producer: SidecarProducer, topic: string) {
  const result = await outcome(() => producer.send({ topic, messages: [{ value: 'x' }] }))
  const facts = outcomeFacts(result)
  if (result.sync || result.ok) return { ...facts, value: result.sync ? undefined : (result.value as unknown[]).length }
  return { ...facts, cause: errorFacts((result.error as Error).cause) }
}

describe('a send to a missing topic, sidecar mode against direct mode', () => {
  it('brokers with auto-creation off: the same KafkaJS error, nothing created in either mode', async () => {
    const { cluster, viaSidecar, direct } = await bothModes(false)
    const before = await listTopics(cluster)
    const topic = randomTopic('missing')
    const fallbacks: unknown[] = []
    viaSidecar.on(viaSidecar.events.FALLBACK, (event) => void fallbacks.push(event.payload))

    const inSidecarMode = await sendFacts(viaSidecar, topic)
    expect(await listTopics(cluster)).toEqual(before)
    const inDirectMode = await sendFacts(direct, topic)
    expect(await listTopics(cluster)).toEqual(before)

    expect(inDirectMode).toMatchObject({
      ok: false,
      error: {
        className: 'KafkaJSNumberOfRetriesExceeded',
        name: 'KafkaJSNumberOfRetriesExceeded',
        retriable: false,
        message: 'This server does not host this topic-partition',
      },
      cause: { className: 'KafkaJSProtocolError', type: 'UNKNOWN_TOPIC_OR_PARTITION', code: 3, retriable: true },
    })
    expect(inSidecarMode).toEqual(inDirectMode)
    expect(fallbacks).toEqual([])
    expect(viaSidecar.directConnected).toBe(false)
  })

  it("brokers with auto-creation on: created in both modes with the brokers' defaults, the same topic list", async () => {
    const { cluster, viaSidecar, direct } = await bothModes(true)
    const before = await listTopics(cluster)
    const [ours, theirs] = [randomTopic('sidecar'), randomTopic('direct')]
    const inSidecarMode = await sendFacts(viaSidecar, ours)
    const inDirectMode = await sendFacts(direct, theirs)
    expect(inSidecarMode).toEqual(inDirectMode)
    expect(inDirectMode).toMatchObject({ ok: true, value: 1 })
    expect(await listTopics(cluster)).toEqual([...before, ours, theirs].sort())
    expect([cluster.offsets(ours).length, cluster.offsets(theirs).length]).toEqual([2, 2])
  })
})
