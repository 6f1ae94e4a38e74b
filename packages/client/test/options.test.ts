/**
 * The mode toggle and its validation: environment (passed in, or stubbed for the end-to-end
 * cases), code options over env, errors that name the offending setting, and the mode in force
 * made visible (producer.mode, the connect log line, the mode metric), plus the per-topic metrics.
 */
import { DEFAULT_SOCKET_PATH } from '@kafka-sidecar/sidecar'
import kafkajs from 'kafkajs'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest'
import { randomTopic, socketPath, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import {
  DEFAULT_SIDECAR_ADDRESS,
  Kafka,
  KafkaJSNonRetriableError,
  logLevel,
  Partitioners,
  resolveSidecarOptions,
  SIDECAR_ENV,
  type SidecarKafkaConfig,
} from '../src/index.js'
import { captureLogs, connectedPlainProducer, errorFacts, outcome } from './kafkajs-reference.js'

afterEach(() => {
  vi.unstubAllEnvs()
})

/** The error a call throws, as facts. */
function thrown(call: () => unknown): Record<string, unknown> {
  try {
    call()
  } catch (error) {
    return errorFacts(error)
  }
  return { thrown: false }
}

describe('resolveSidecarOptions: environment, code, defaults', () => {
  it('defaults to direct mode and the socket the sidecar listens on by default', () => {
    const resolved = resolveSidecarOptions([], {})
    expect(resolved.mode).toBe('direct')
    expect(resolved.address).toBe(DEFAULT_SIDECAR_ADDRESS)
    expect(DEFAULT_SIDECAR_ADDRESS).toBe(`unix://${DEFAULT_SOCKET_PATH}`)
    expect(resolved.token).toBeNull()
  })

  it('names the environment variables as documented', () => {
    expect(SIDECAR_ENV.mode).toBe('KAFKA_SIDECAR_MODE')
    expect(SIDECAR_ENV.address).toBe('KAFKA_SIDECAR_ADDRESS')
  })

  it.each([
    ['direct', 'direct'],
    ['sidecar', 'sidecar'],
    ['SIDECAR', 'sidecar'],
    [' Sidecar ', 'sidecar'],
    ['Direct\n', 'direct'],
    ['', 'direct'],
  ])('KAFKA_SIDECAR_MODE=%j selects %s', (value, mode) => {
    expect(resolveSidecarOptions([], { KAFKA_SIDECAR_MODE: value }).mode).toBe(mode)
  })

  it.each(['proxy', 'side car', 'true', '1'])(
    'KAFKA_SIDECAR_MODE=%j is refused with an error naming the variable and the value',
    (value) => {
      const facts = thrown(() => resolveSidecarOptions([], { KAFKA_SIDECAR_MODE: value }))
      expect(facts).toMatchObject({ class: KafkaJSNonRetriableError, retriable: false })
      expect(facts.message).toContain('KAFKA_SIDECAR_MODE')
      expect(facts.message).toContain(JSON.stringify(value))
    },
  )

  it.each([
    'unix:///var/run/kafka-sidecar/sidecar.sock',
    '127.0.0.1:50051',
    'localhost:50051',
    'sidecar.internal:1',
    '[::1]:50051',
  ])('KAFKA_SIDECAR_ADDRESS=%j is taken', (address) => {
    expect(resolveSidecarOptions([], { KAFKA_SIDECAR_ADDRESS: address }).address).toBe(address)
  })

  it.each(['unix://', 'localhost', '127.0.0.1:0', 'localhost:70000', 'http://localhost:50051', '/tmp/sidecar.sock'])(
    'KAFKA_SIDECAR_ADDRESS=%j is refused with an error naming the variable',
    (address) => {
      const facts = thrown(() => resolveSidecarOptions([], { KAFKA_SIDECAR_ADDRESS: address }))
      expect(facts).toMatchObject({ class: KafkaJSNonRetriableError })
      expect(facts.message).toContain('KAFKA_SIDECAR_ADDRESS')
    },
  )

  it.each([
    [{ mode: 'proxy' }, 'sidecar.mode'],
    [{ address: 'nowhere' }, 'sidecar.address'],
    [{ connectTimeoutMs: -1 }, 'sidecar.connectTimeoutMs'],
    [{ connectTimeoutMs: 1.5 }, 'sidecar.connectTimeoutMs'],
    [{ fallbackIdleMs: 0 }, 'sidecar.fallbackIdleMs'],
    [{ breaker: { errorThresholdPercentage: 0 } }, 'sidecar.breaker.errorThresholdPercentage'],
    [{ breaker: { resetTimeoutMs: 'soon' } }, 'sidecar.breaker.resetTimeoutMs'],
  ])('a bad code option %j is refused with an error naming %s', (option, name) => {
    const facts = thrown(() => resolveSidecarOptions([option as never], {}))
    expect(facts).toMatchObject({ class: KafkaJSNonRetriableError })
    expect(facts.message).toContain(name)
  })

  it('KAFKA_SIDECAR_CONNECT_TIMEOUT_MS, KAFKA_SIDECAR_TOKEN and KAFKA_SIDECAR_APP_NAME are read, and a bad timeout is named', () => {
    const resolved = resolveSidecarOptions([], {
      KAFKA_SIDECAR_CONNECT_TIMEOUT_MS: '250',
      KAFKA_SIDECAR_TOKEN: 's3cret',
      KAFKA_SIDECAR_APP_NAME: 'orders',
    })
    expect(resolved).toMatchObject({ connectTimeoutMs: 250, token: 's3cret', appName: 'orders' })
    expect(thrown(() => resolveSidecarOptions([], { KAFKA_SIDECAR_CONNECT_TIMEOUT_MS: 'soon' })).message).toContain(
      'KAFKA_SIDECAR_CONNECT_TIMEOUT_MS',
    )
  })

  it('clusterMismatch: warn by default, KAFKA_SIDECAR_CLUSTER_MISMATCH read (any case), code over env, a bad value named', () => {
    expect(resolveSidecarOptions([], {}).clusterMismatch).toBe('warn')
    expect(SIDECAR_ENV.clusterMismatch).toBe('KAFKA_SIDECAR_CLUSTER_MISMATCH')
    expect(resolveSidecarOptions([], { KAFKA_SIDECAR_CLUSTER_MISMATCH: ' Refuse ' }).clusterMismatch).toBe('refuse')
    expect(
      resolveSidecarOptions([{ clusterMismatch: 'warn' }], { KAFKA_SIDECAR_CLUSTER_MISMATCH: 'refuse' })
        .clusterMismatch,
    ).toBe('warn')
    const fromEnv = thrown(() => resolveSidecarOptions([], { KAFKA_SIDECAR_CLUSTER_MISMATCH: 'ignore' }))
    expect(fromEnv).toMatchObject({
      class: KafkaJSNonRetriableError,
      message: 'kafka-sidecar client: KAFKA_SIDECAR_CLUSTER_MISMATCH must be "warn" or "refuse", got "ignore"',
    })
    const fromCode = thrown(() => resolveSidecarOptions([{ clusterMismatch: 'fail' as never }], {}))
    expect(fromCode.message).toBe(
      'kafka-sidecar client: sidecar.clusterMismatch must be "warn" or "refuse", got "fail"',
    )
  })

  it('code options override the environment, and producer options override Kafka options', () => {
    const env = {
      KAFKA_SIDECAR_MODE: 'sidecar',
      KAFKA_SIDECAR_ADDRESS: 'unix:///env.sock',
      KAFKA_SIDECAR_CONNECT_TIMEOUT_MS: '100',
      KAFKA_SIDECAR_TOKEN: 'env-token',
    }
    expect(resolveSidecarOptions([], env)).toMatchObject({
      mode: 'sidecar',
      address: 'unix:///env.sock',
      connectTimeoutMs: 100,
      token: 'env-token',
    })
    expect(resolveSidecarOptions([{ mode: 'direct' }], env)).toMatchObject({
      mode: 'direct',
      address: 'unix:///env.sock',
    })
    expect(
      resolveSidecarOptions([{ address: '127.0.0.1:7000', connectTimeoutMs: 900, token: 'code-token' }], env),
    ).toMatchObject({
      mode: 'sidecar',
      address: '127.0.0.1:7000',
      connectTimeoutMs: 900,
      token: 'code-token',
    })
    // Kafka-level first, producer-level second: the later layer wins, untouched fields survive.
    const layered = resolveSidecarOptions(
      [
        { mode: 'sidecar', address: 'unix:///kafka.sock', breaker: { resetTimeoutMs: 1000 } },
        { mode: 'direct', breaker: { volumeThreshold: 9 } },
      ],
      env,
    )
    expect(layered).toMatchObject({
      mode: 'direct',
      address: 'unix:///kafka.sock',
      breaker: { resetTimeoutMs: 1000, volumeThreshold: 9 },
    })
    // A bad environment value is not an error when code overrides it.
    expect(resolveSidecarOptions([{ mode: 'direct' }], { KAFKA_SIDECAR_MODE: 'sidecar' }).mode).toBe('direct')
  })
})

describe('errors surface where KafkaJS reports config errors: at construction, not at the first send', () => {
  it('new Kafka() refuses bad sidecar options', () => {
    const facts = thrown(() => new Kafka({ brokers: ['127.0.0.1:9092'], sidecar: { mode: 'proxy' as never } }))
    expect(facts).toMatchObject({ class: KafkaJSNonRetriableError })
    expect(facts.message).toContain('sidecar.mode')
  })

  it('kafka.producer() refuses bad producer-level sidecar options', () => {
    const kafka = new Kafka({ brokers: ['127.0.0.1:9092'], logLevel: logLevel.NOTHING })
    const facts = thrown(() => kafka.producer({ sidecar: { address: 'nowhere' } }))
    expect(facts).toMatchObject({ class: KafkaJSNonRetriableError })
    expect(facts.message).toContain('sidecar.address')
  })

  it('new Kafka() refuses a bad KAFKA_SIDECAR_MODE from the process environment', () => {
    vi.stubEnv('KAFKA_SIDECAR_MODE', 'proxy')
    const facts = thrown(() => new Kafka({ brokers: ['127.0.0.1:9092'] }))
    expect(facts).toMatchObject({ class: KafkaJSNonRetriableError })
    expect(facts.message).toContain('KAFKA_SIDECAR_MODE')
  })
})

describe('the mode in force is visible', () => {
  async function world() {
    const cluster = await startCluster()
    const sidecar = await startTestSidecar(cluster)
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 3 })
    const logs = captureLogs()
    const registry = new Registry()
    const kafka = (config: Partial<SidecarKafkaConfig> = {}) =>
      new Kafka({
        clientId: 'options-test',
        brokers: cluster.bootstrapServers,
        logLevel: logLevel.INFO,
        logCreator: logs.logCreator,
        sidecarMetrics: { registry },
        ...config,
      })
    const connect = async (producer: ReturnType<Kafka['producer']>) => {
      onTestFinished(() => producer.disconnect().catch(() => {}))
      await producer.connect()
      return producer
    }
    const metric = async (name: string) =>
      (await registry.getSingleMetric(`kafka_sidecar_client_${name}`)?.get())?.values ?? []
    return { cluster, sidecar, topic, logs, registry, kafka, connect, metric }
  }

  it('KAFKA_SIDECAR_MODE and KAFKA_SIDECAR_ADDRESS from the process environment put a producer on the sidecar', async () => {
    const w = await world()
    vi.stubEnv('KAFKA_SIDECAR_MODE', 'sidecar')
    vi.stubEnv('KAFKA_SIDECAR_ADDRESS', w.sidecar.address)
    const producer = await w.connect(w.kafka().producer())
    expect(producer.mode).toBe('sidecar')
    expect(producer.sidecarAddress).toBe(w.sidecar.address)
    await producer.send({ topic: w.topic, messages: [{ value: 'via env' }] })
    expect(producer.directConnected).toBe(false)
    expect(await w.cluster.records(w.topic)).toHaveLength(1)
  })

  it('without KAFKA_SIDECAR_MODE a producer is direct', async () => {
    const w = await world()
    vi.stubEnv('KAFKA_SIDECAR_MODE', '')
    vi.stubEnv('KAFKA_SIDECAR_ADDRESS', w.sidecar.address)
    const producer = await w.connect(w.kafka().producer())
    expect(producer.mode).toBe('direct')
    expect(producer.sidecarAddress).toBeNull()
    await producer.send({ topic: w.topic, messages: [{ value: 'direct' }] })
    expect(producer.directConnected).toBe(true)
  })

  it.each(['direct', 'sidecar'] as const)(
    '%s: the mode is on the producer, in the connect log line and in the mode metric',
    async (mode) => {
      const w = await world()
      const producer = await w.connect(w.kafka({ sidecar: { mode, address: w.sidecar.address } }).producer())
      expect(producer.mode).toBe(mode)
      const connectLines = w.logs.entries.filter((e) => e.log.mode !== undefined)
      expect(connectLines).toHaveLength(1)
      expect(connectLines[0]).toMatchObject({ level: kafkajs.logLevel.INFO, log: { mode } })
      if (mode === 'sidecar') expect(connectLines[0]!.log.address).toBe(w.sidecar.address)
      expect(await w.metric('mode')).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ labels: { client_id: 'options-test', mode }, value: 1 }),
          expect.objectContaining({
            labels: { client_id: 'options-test', mode: mode === 'sidecar' ? 'direct' : 'sidecar' },
            value: 0,
          }),
        ]),
      )
      const text = await w.registry.metrics()
      expect(text).toMatch(new RegExp(`^kafka_sidecar_client_mode\\{[^}]*mode="${mode}"[^}]*\\} 1$`, 'm'))
    },
  )

  it('a custom createPartitioner keeps a sidecar-mode producer direct, says why at connect, and partitions with it', async () => {
    const w = await world()
    const producer = await w.connect(
      w
        .kafka({ sidecar: { mode: 'sidecar', address: w.sidecar.address } })
        .producer({ createPartitioner: Partitioners.LegacyPartitioner }),
    )
    expect(producer.mode).toBe('direct')
    expect(producer.sidecarAddress).toBeNull()
    const connectLine = w.logs.entries.find((e) => e.log.mode !== undefined)
    expect(connectLine?.log).toMatchObject({ mode: 'direct' })
    expect(String(connectLine?.log.reason)).toMatch(/createPartitioner/)
    expect(await w.metric('mode')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ labels: { client_id: 'options-test', mode: 'direct' }, value: 1 }),
      ]),
    )

    // Its records go where KafkaJS's LegacyPartitioner puts them.
    const reference = randomTopic()
    await w.cluster.createTopic({ topic: reference, partitions: 3 })
    const plain = await connectedPlainProducer(w.cluster, { createPartitioner: kafkajs.Partitioners.LegacyPartitioner })
    const messages = Array.from({ length: 60 }, (_, i) => ({ key: `legacy-${i}`, value: String(i) }))
    await producer.send({ topic: w.topic, messages })
    await plain.send({ topic: reference, messages })
    const partitions = async (topic: string) =>
      Object.fromEntries((await w.cluster.records(topic)).map((r) => [r.value!.toString(), r.partition]))
    expect(await partitions(w.topic)).toEqual(await partitions(reference))
  })

  it.each([
    ['DefaultPartitioner', Partitioners.DefaultPartitioner],
    ['JavaCompatiblePartitioner', Partitioners.JavaCompatiblePartitioner],
  ])('an explicit %s (what the sidecar runs) keeps the producer on the sidecar', async (_name, createPartitioner) => {
    const w = await world()
    const producer = await w.connect(
      w.kafka({ sidecar: { mode: 'sidecar', address: w.sidecar.address } }).producer({ createPartitioner }),
    )
    expect(producer.mode).toBe('sidecar')
  })

  it('attempted and acked records are counted per topic and path', async () => {
    const w = await world()
    const other = randomTopic()
    await w.cluster.createTopic({ topic: other, partitions: 1 })
    const producer = await w.connect(w.kafka({ sidecar: { mode: 'sidecar', address: w.sidecar.address } }).producer())
    await producer.send({ topic: w.topic, messages: [{ value: '1' }, { value: '2' }, { value: '3' }] })
    await producer.sendBatch({
      topicMessages: [
        { topic: other, messages: [{ value: 'a' }] },
        { topic: w.topic, messages: [{ value: '4' }] },
      ],
    })
    const attempted = await w.metric('records_attempted_total')
    expect(attempted).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ labels: { client_id: 'options-test', topic: w.topic }, value: 4 }),
        expect.objectContaining({ labels: { client_id: 'options-test', topic: other }, value: 1 }),
      ]),
    )
    expect(await w.metric('records_acked_total')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ labels: { client_id: 'options-test', topic: w.topic, path: 'sidecar' }, value: 4 }),
        expect.objectContaining({ labels: { client_id: 'options-test', topic: other, path: 'sidecar' }, value: 1 }),
      ]),
    )
    expect((await w.metric('fallback_records_total')).filter((v) => v.value > 0)).toEqual([])
  })

  it('records sent directly because no sidecar answers are counted as fallback, per topic', async () => {
    const w = await world()
    const nowhere = `unix://${await socketPath()}`
    const producer = await w.connect(
      w.kafka({ sidecar: { mode: 'sidecar', address: nowhere, connectTimeoutMs: 300 } }).producer(),
    )
    expect(producer.mode).toBe('sidecar')
    expect(
      w.logs.entries.some((e) => e.label === 'WARN' && e.log.mode === 'sidecar' && e.log.address === nowhere),
    ).toBe(true)
    const result = await outcome(() => producer.send({ topic: w.topic, messages: [{ value: 'x' }, { value: 'y' }] }))
    expect(result).toMatchObject({ ok: true })
    expect(await w.metric('fallback_records_total')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ labels: { client_id: 'options-test', topic: w.topic }, value: 2 }),
      ]),
    )
    expect(await w.metric('records_acked_total')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ labels: { client_id: 'options-test', topic: w.topic, path: 'direct' }, value: 2 }),
      ]),
    )
    expect(await w.metric('records_attempted_total')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ labels: { client_id: 'options-test', topic: w.topic }, value: 2 }),
      ]),
    )
    expect(await w.cluster.records(w.topic)).toHaveLength(2)
  })
})
