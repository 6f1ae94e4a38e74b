/**
 * The client never writes the sidecar token anywhere: not in its logs (KafkaJS's logCreator, at
 * debug level), not in its metrics, not in the errors a send rejects with, whether the token came
 * from code or from KAFKA_SIDECAR_TOKEN, accepted or refused, and not when the producer falls back
 * to direct because no sidecar answers. (The sidecar's side: packages/sidecar/test/secrets.test.ts.)
 */
import { randomBytes } from 'node:crypto'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest'
import { asText, randomTopic, socketPath, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import { Kafka, logLevel, type SidecarClientOptions, type SidecarProducer } from '../src/index.js'
import { captureLogs } from './kafkajs-reference.js'

afterEach(() => {
  vi.unstubAllEnvs()
})

const secret = () => `tok-${randomBytes(16).toString('hex')}`

function expectAbsent(where: string, text: string, secrets: readonly string[]): void {
  for (const s of secrets) {
    for (const form of [s, Buffer.from(s).toString('base64'), Buffer.from(s).toString('hex')])
      expect(text.includes(form), `a token in ${where}`).toBe(false)
  }
}

async function setup() {
  const cluster = await startCluster({ brokers: 1 })
  const token = secret()
  const sidecar = await startTestSidecar(cluster, { token })
  const topic = randomTopic('secret')
  await cluster.createTopic({ topic, partitions: 1 })
  const logs = captureLogs()
  const registry = new Registry()
  const kafka = (sidecarOptions: SidecarClientOptions) =>
    new Kafka({
      clientId: 'secrets-test',
      brokers: cluster.bootstrapServers,
      logLevel: logLevel.DEBUG,
      logCreator: logs.logCreator,
      sidecarMetrics: { registry },
      sidecar: { connectTimeoutMs: 1_000, ...sidecarOptions },
    })
  const connected = async (producer: SidecarProducer) => {
    onTestFinished(() => producer.disconnect().catch(() => {}))
    await producer.connect()
    return producer
  }
  return { cluster, sidecar, token, topic, logs, registry, kafka, connected }
}

describe('the client keeps the sidecar token out of logs, metrics and errors', () => {
  it('a token from code: connect, send, sendBatch, delivery events, disconnect at debug level', async () => {
    const w = await setup()
    const producer = await w.connected(
      w.kafka({ mode: 'sidecar', address: w.sidecar.address, token: w.token }).producer(),
    )
    const events: unknown[] = []
    producer.on(producer.events.DELIVERY, (event) => void events.push(event))
    await producer.send({ topic: w.topic, messages: [{ value: 'one' }] })
    await producer.sendBatch({ topicMessages: [{ topic: w.topic, messages: [{ value: 'two' }, { value: 'three' }] }] })
    await producer.disconnect()
    expect(producer.directConnected).toBe(false)
    expect((await w.cluster.records(w.topic)).map((r) => r.value?.toString())).toEqual(['one', 'two', 'three'])
    expect(w.logs.entries.length).toBeGreaterThan(0)
    expect(w.logs.entries.some((e) => e.log.mode === 'sidecar')).toBe(true)
    expectAbsent('the logs', asText(w.logs.entries), [w.token])
    expectAbsent('the delivery events', asText(events), [w.token])
    expectAbsent('the metrics', await w.registry.metrics(), [w.token])
  })

  it('a wrong token from KAFKA_SIDECAR_TOKEN: the refusal names the problem, not the token; nothing is written directly', async () => {
    const w = await setup()
    const wrong = secret()
    vi.stubEnv('KAFKA_SIDECAR_TOKEN', wrong)
    vi.stubEnv('KAFKA_SIDECAR_MODE', 'sidecar')
    vi.stubEnv('KAFKA_SIDECAR_ADDRESS', w.sidecar.address)
    const producer = await w.connected(w.kafka({}).producer())
    const error = await producer.send({ topic: w.topic, messages: [{ value: 'refused' }] }).then(
      () => null,
      (e: unknown) => e as Error,
    )
    expect(error?.message).toMatch(/UNAUTHENTICATED.*invalid token/)
    expect(producer.directConnected).toBe(false)
    expect(await w.cluster.records(w.topic)).toEqual([])
    await producer.disconnect()
    for (const [where, text] of [
      ['the error', asText(error)],
      ['the logs', asText(w.logs.entries)],
      ['the metrics', await w.registry.metrics()],
    ] as const) {
      expectAbsent(where, text, [wrong, w.token])
    }
  })

  it('a token while no sidecar answers: the fallback to direct logs why, never the token', async () => {
    const w = await setup()
    const producer = await w.connected(
      w.kafka({ mode: 'sidecar', address: `unix://${await socketPath()}`, token: w.token }).producer(),
    )
    await producer.send({ topic: w.topic, messages: [{ value: 'direct' }] })
    expect(producer.directConnected).toBe(true)
    expect(w.logs.entries.some((e) => e.label === 'WARN')).toBe(true)
    await producer.disconnect()
    expectAbsent('the logs', asText(w.logs.entries), [w.token])
    expectAbsent('the metrics', await w.registry.metrics(), [w.token])
  })
})
