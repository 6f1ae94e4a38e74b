/**
 * Races and leaks around the producer's lifecycle, each a regression found in review:
 * the fallback producer's connect racing its idle disconnect, concurrent sends behind a wrong
 * token, disconnect() with a send in flight to a hung sidecar, a message object used twice in a
 * send, producers created per job. Real KafkaJS, real sidecar, embedded-kafka.
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import kafkajs from 'kafkajs'
import { describe, expect, it } from 'vitest'
import {
  randomTopic,
  spawnSidecar,
  startCluster,
  startTestSidecar,
  tempDir,
  waitFor,
} from '@kafka-sidecar/test-support'
import type { DeliveryReport } from '../src/index.js'
import { DirectPath } from '../src/transport/direct-path.js'
import { expectFreshBuild, packageDir } from './built-package.js'
import { connectedProducer, openConnections } from './helpers.js'

describe('lifecycle races and leaks', () => {
  it('a direct send that starts while the fallback producer is being disconnected connects again and is written, and so are later ones', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('race')
    await cluster.createTopic({ topic, partitions: 1 })
    const kafka = new kafkajs.Kafka({ brokers: cluster.bootstrapServers, logLevel: kafkajs.logLevel.NOTHING })
    const path = new DirectPath(kafka, { createPartitioner: kafkajs.Partitioners.DefaultPartitioner })
    await path.send({ topicMessages: [{ topic, messages: [{ value: 'before' }] }] })
    const disconnecting = path.disconnect()
    const racing = path.send({ topicMessages: [{ topic, messages: [{ value: 'racing' }] }] })
    await disconnecting
    await racing
    await path.send({ topicMessages: [{ topic, messages: [{ value: 'after' }] }] })
    expect((await cluster.records(topic)).map((r) => r.value!.toString())).toEqual(['before', 'racing', 'after'])
    await path.disconnect()
  })

  it('wrong token with sends queued behind the refused stream: each rejects with the refusal, none goes direct, the breaker stays closed', async () => {
    const cluster = await startCluster()
    const sidecar = await startTestSidecar(cluster, { token: 'the-right-token-of-32-characters' })
    const topic = randomTopic('token')
    await cluster.createTopic({ topic, partitions: 1 })
    const producer = await connectedProducer({
      cluster,
      mode: 'sidecar',
      address: sidecar.address,
      sidecar: { token: 'a-wrong-token-of-32-characters!!' },
    })
    const fallbacks: unknown[] = []
    producer.on(producer.events.FALLBACK, (e) => void fallbacks.push(e.payload))
    // One per turn of the event loop: each its own stream message, queued while the first is refused.
    const sends: Array<Promise<string>> = []
    for (let i = 0; i < 10; i++) {
      sends.push(
        producer.send({ topic, messages: [{ value: `v${i}` }] }).then(
          () => 'sent',
          (error: Error) => error.message,
        ),
      )
      await new Promise((resolve) => setImmediate(resolve))
    }
    const reasons = await Promise.all(sends)
    expect(
      reasons.every((m) => /UNAUTHENTICATED/.test(m)),
      reasons.join('\n'),
    ).toBe(true)
    expect(fallbacks).toEqual([])
    expect(producer.breakerState).toBe('closed')
    expect(await cluster.records(topic)).toEqual([])
  })

  it(
    'wrong token under load: sends waiting behind the refused stream share its refusal, so the breaker never counts a path failure',
    { timeout: 30_000 },
    async () => {
      const cluster = await startCluster()
      const sidecar = await spawnSidecar(cluster, join(await tempDir(), 'sidecar.sock'), {
        KAFKA_SIDECAR_TOKEN: 'the-right-token-of-32-characters',
      })
      const topic = randomTopic('token-load')
      await cluster.createTopic({ topic, partitions: 1 })
      const producer = await connectedProducer({
        cluster,
        mode: 'sidecar',
        address: sidecar.address,
        sidecar: {
          token: 'a-wrong-token-of-32-characters!!',
          connectTimeoutMs: 10_000,
          breaker: { consecutiveFailures: 1 },
        },
      })
      let opened = 0
      producer.on(producer.events.BREAKER_OPEN, () => void opened++)
      // 12 sends kept in flight for 2 s, as a busy application: some always wait behind a stream
      // the sidecar is refusing.
      const reasons = new Map<string, number>()
      let stop = false
      const loop = async () => {
        while (!stop) {
          const reason = await producer.send({ topic, messages: [{ value: 'v' }] }).then(
            () => 'sent',
            (error: Error) => error.message.replace(/\(.*$/, ''),
          )
          reasons.set(reason, (reasons.get(reason) ?? 0) + 1)
        }
      }
      const loops = Array.from({ length: 12 }, loop)
      await new Promise((resolve) => setTimeout(resolve, 2_000))
      stop = true
      await Promise.all(loops)
      expect([...reasons.keys()]).toEqual(['sidecar refused this producer '])
      expect(opened).toBe(0)
      expect(await cluster.records(topic)).toEqual([])
    },
  )

  it(
    "wrong token, then the sidecar dies: the refusal stands, so nothing goes around the sidecar's token check through the direct path",
    { timeout: 30_000 },
    async () => {
      const cluster = await startCluster()
      const topic = randomTopic('token-dead')
      await cluster.createTopic({ topic, partitions: 1 })
      const sidecar = await spawnSidecar(cluster, join(await tempDir(), 'sidecar.sock'), {
        KAFKA_SIDECAR_TOKEN: 'the-right-token-of-32-characters',
      })
      const producer = await connectedProducer({
        cluster,
        mode: 'sidecar',
        address: sidecar.address,
        sidecar: {
          token: 'a-wrong-token-of-32-characters!!',
          connectTimeoutMs: 10_000,
          breaker: { volumeThreshold: 1, errorThresholdPercentage: 1, resetTimeoutMs: 500 },
        },
      })
      const fallbacks: unknown[] = []
      producer.on(producer.events.FALLBACK, (e) => void fallbacks.push(e.payload))
      const attempt = (value: string) =>
        producer.send({ topic, messages: [{ value }] }).then(
          () => 'sent',
          (error: Error) => error.message,
        )
      expect(await attempt('refused')).toMatch(/UNAUTHENTICATED/)
      await sidecar.kill()
      // A dead sidecar is a transport failure: without the standing refusal these would go direct
      // (the breaker opens, and its half-open probe, a health check, needs no token).
      const reasons: string[] = []
      for (let i = 0; i < 6; i++) {
        reasons.push(await attempt(`after-${i}`))
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
      expect(
        reasons.every((m) => /UNAUTHENTICATED/.test(m)),
        reasons.join('\n'),
      ).toBe(true)
      expect(fallbacks).toEqual([])
      expect(producer.directConnected).toBe(false)
      expect(await cluster.records(topic)).toEqual([])
    },
  )

  it(
    'a topic outside the allow-list refused, then the sidecar dies: sends to allowed topics still fall back (a topic refusal stands for that topic only)',
    { timeout: 30_000 },
    async () => {
      const cluster = await startCluster()
      const allowed = randomTopic('ok')
      await cluster.createTopic({ topic: allowed, partitions: 1 })
      const sidecar = await spawnSidecar(cluster, join(await tempDir(), 'sidecar.sock'), {
        KAFKA_SIDECAR_ALLOWED_TOPICS: `${allowed}`,
      })
      const producer = await connectedProducer({
        cluster,
        mode: 'sidecar',
        address: sidecar.address,
        sidecar: { connectTimeoutMs: 10_000 },
      })
      const refused = await producer.send({ topic: 'audit', messages: [{ value: 'x' }] }).then(
        () => 'sent',
        (error: Error) => error.message,
      )
      expect(refused).toMatch(/authorized/i)
      await sidecar.kill()
      await producer.send({ topic: allowed, messages: [{ value: 'after' }] })
      expect((await cluster.records(allowed)).map((r) => r.value!.toString())).toEqual(['after'])
    },
  )

  it(
    'disconnect() with a send in flight to a hung sidecar: the send fails as outcome unknown (retriable), is not resent directly, and no broker connection stays open',
    { timeout: 30_000 },
    async () => {
      const cluster = await startCluster()
      const topic = randomTopic('disconnect')
      await cluster.createTopic({ topic, partitions: 1 })
      const sidecar = await spawnSidecar(cluster, join(await tempDir(), 'sidecar.sock'))
      const producer = await connectedProducer({
        cluster,
        mode: 'sidecar',
        address: sidecar.address,
        sidecar: { connectTimeoutMs: 10_000 },
      })
      await producer.send({ topic, messages: [{ value: 'first' }] })
      sidecar.signal('SIGSTOP')
      const inFlight = producer.send({ topic, messages: [{ value: 'in-flight' }] }).then(
        () => null,
        (error: Error) => error,
      )
      await new Promise((resolve) => setTimeout(resolve, 200))
      const before = openConnections(cluster)
      await producer.disconnect()
      const error = await inFlight
      expect(error).toBeInstanceOf(kafkajs.KafkaJSError)
      expect((error as kafkajs.KafkaJSError).retriable).toBe(true)
      expect(error!.message).toMatch(/outcome unknown/)
      expect(producer.directConnected).toBe(false)
      await new Promise((resolve) => setTimeout(resolve, 500))
      expect(openConnections(cluster)).toBeLessThanOrEqual(before)
      sidecar.signal('SIGCONT')
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      const values = (await cluster.records(topic)).map((r) => r.value!.toString())
      expect(values.filter((v) => v === 'in-flight').length).toBeLessThanOrEqual(1)
      expect(values[0]).toBe('first')
    },
  )

  it('transaction() after disconnect() fails as KafkaJS fails it, without connecting the fallback producer again', async () => {
    const cluster = await startCluster()
    const sidecar = await startTestSidecar(cluster)
    const config = { transactionalId: `tx-${randomTopic('id')}`, idempotent: true, maxInFlightRequests: 1 }
    const kafkajsProducer = new kafkajs.Kafka({
      brokers: cluster.bootstrapServers,
      logLevel: kafkajs.logLevel.NOTHING,
    }).producer(config)
    await kafkajsProducer.connect()
    await kafkajsProducer.disconnect()
    const expected = await kafkajsProducer.transaction().then(
      () => null,
      (error: Error) => error,
    )
    const producer = await connectedProducer({ cluster, mode: 'sidecar', address: sidecar.address, config })
    await producer.disconnect()
    const actual = await producer.transaction().then(
      () => null,
      (error: Error) => error,
    )
    expect(actual?.name).toBe(expected?.name)
    expect(actual?.message).toBe(expected?.message)
    expect(producer.directConnected).toBe(false)
  })

  it.each(['direct', 'sidecar'] as const)(
    '%s: one message object used three times in a send is written three times and reported with the right partitions and offsets',
    async (mode) => {
      const cluster = await startCluster()
      const sidecar = await startTestSidecar(cluster)
      const topic = randomTopic('reuse')
      await cluster.createTopic({ topic, partitions: 3 })
      const reports: DeliveryReport[] = []
      const producer = await connectedProducer({
        cluster,
        mode,
        address: sidecar.address,
        config: { onDelivery: (r) => void reports.push(r) },
      })
      const message = { value: 'same' }
      await producer.send({ topic, messages: [message, message, message] })
      await waitFor('three reports', () => reports.length === 3)
      const stored = await cluster.records(topic)
      expect(stored).toHaveLength(3)
      const where = (r: { partition: number | null; offset: string | number | null }) => `${r.partition}@${r.offset}`
      expect(reports.map(where).sort()).toEqual(stored.map(where).sort())
    },
  )

  it('producers created, connected and disconnected per job in sidecar mode leave no timer or handle behind', async () => {
    const cluster = await startCluster()
    const sidecar = await startTestSidecar(cluster)
    const topic = randomTopic('per-job-handles')
    await cluster.createTopic({ topic, partitions: 1 })
    const job = async () => {
      const producer = await connectedProducer({ cluster, mode: 'sidecar', address: sidecar.address })
      await producer.send({ topic, messages: [{ value: 'x' }] })
      await producer.disconnect()
    }
    await job()
    const count = () => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length
    await new Promise((resolve) => setTimeout(resolve, 200))
    const before = count()
    for (let i = 0; i < 20; i++) await job()
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(count() - before, process.getActiveResourcesInfo().join(',')).toBeLessThan(5)
  })

  it(
    'producers created, used and disconnected per job in sidecar mode leave nothing behind: the process exits by itself',
    { timeout: 60_000 },
    async () => {
      expectFreshBuild()
      const cluster = await startCluster()
      const sidecar = await startTestSidecar(cluster)
      const topic = randomTopic('per-job')
      await cluster.createTopic({ topic, partitions: 1 })
      const program = `
      const { Kafka, logLevel } = require('@kafka-sidecar/client')
      ;(async () => {
        const kafka = new Kafka({ brokers: process.env.BROKERS.split(','), logLevel: logLevel.NOTHING })
        for (let job = 0; job < 20; job++) {
          const producer = kafka.producer()
          await producer.connect()
          await producer.send({ topic: process.env.TOPIC, messages: [{ value: 'job-' + job }] })
          await producer.disconnect()
        }
        console.log('done at', Date.now())
      })()
    `
      const started = Date.now()
      const { exitedAt, stdout } = await new Promise<{ exitedAt: number; stdout: string }>((resolve, reject) => {
        execFile(
          process.execPath,
          ['-e', program],
          {
            cwd: packageDir,
            timeout: 30_000,
            killSignal: 'SIGKILL',
            env: {
              ...process.env,
              BROKERS: cluster.bootstrapServers.join(','),
              TOPIC: topic,
              KAFKA_SIDECAR_MODE: 'sidecar',
              KAFKA_SIDECAR_ADDRESS: sidecar.address,
              KAFKAJS_NO_PARTITIONER_WARNING: '1',
            },
          },
          (error, out, err) =>
            error ? reject(new Error(`${error.message}\n${err}`)) : resolve({ exitedAt: Date.now(), stdout: out }),
        )
      })
      const doneAt = Number(/done at (\d+)/.exec(stdout)![1])
      expect(
        exitedAt - doneAt,
        `exited ${exitedAt - doneAt} ms after its last disconnect (started ${doneAt - started} ms earlier)`,
      ).toBeLessThan(2_000)
      expect(await cluster.records(topic)).toHaveLength(20)
    },
  )
})
