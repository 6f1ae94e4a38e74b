/**
 * Client configuration errors not covered by options.test.ts: each wrong value is refused where
 * KafkaJS refuses configuration (at `new Kafka()` or `kafka.producer()`, never at the first send)
 * with a KafkaJSNonRetriableError naming the option as written (code path or environment
 * variable). Afterwards the same Kafka instance still makes a producer that sends through the
 * sidecar: a refused configuration leaves nothing half-built behind.
 */
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest'
import { randomTopic, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import {
  Kafka,
  KafkaJSNonRetriableError,
  logLevel,
  resolveSidecarOptions,
  type SidecarClientOptions,
} from '../src/index.js'
import { errorFacts } from './kafkajs-reference.js'

afterEach(() => {
  vi.unstubAllEnvs()
})

function thrown(call: () => unknown): Record<string, unknown> {
  try {
    call()
  } catch (error) {
    return errorFacts(error)
  }
  return { thrown: false }
}

describe('sidecar options from code', () => {
  it.each<[string, unknown, string]>([
    [
      'breaker.volumeThreshold: -1',
      { breaker: { volumeThreshold: -1 } },
      'sidecar.breaker.volumeThreshold must be a non-negative integer, got -1',
    ],
    [
      'breaker.consecutiveFailures: 0',
      { breaker: { consecutiveFailures: 0 } },
      'sidecar.breaker.consecutiveFailures must be a positive integer, got 0',
    ],
    [
      'breaker.rollingCountTimeoutMs: 1.5',
      { breaker: { rollingCountTimeoutMs: 1.5 } },
      'sidecar.breaker.rollingCountTimeoutMs must be a positive integer, got 1.5',
    ],
    [
      'breaker.errorThresholdPercentage: 101',
      { breaker: { errorThresholdPercentage: 101 } },
      'sidecar.breaker.errorThresholdPercentage must be a number in (0, 100], got 101',
    ],
    [
      'breaker.errorThresholdPercentage: NaN',
      { breaker: { errorThresholdPercentage: NaN } },
      'sidecar.breaker.errorThresholdPercentage must be a number in (0, 100], got null',
    ],
    [
      'breaker.resetTimeoutMs: 0',
      { breaker: { resetTimeoutMs: 0 } },
      'sidecar.breaker.resetTimeoutMs must be a positive integer, got 0',
    ],
    [
      'maxCoalescedRecords: 0',
      { maxCoalescedRecords: 0 },
      'sidecar.maxCoalescedRecords must be a positive integer, got 0',
    ],
    [
      'maxCoalescedBytes: "big"',
      { maxCoalescedBytes: 'big' },
      'sidecar.maxCoalescedBytes must be a positive integer, got "big"',
    ],
    [
      'maxCoalescedRecords over what one request carries',
      { maxCoalescedRecords: 10_001 },
      'sidecar.maxCoalescedRecords must be at most 10000, got 10001',
    ],
    [
      'maxCoalescedBytes over what one request carries',
      { maxCoalescedBytes: 9 * 1024 * 1024 },
      'sidecar.maxCoalescedBytes must be at most 8388608, got 9437184',
    ],
    ['livenessTimeoutMs: 0', { livenessTimeoutMs: 0 }, 'sidecar.livenessTimeoutMs must be a positive integer, got 0'],
    [
      'backpressureRetryMs: -1',
      { backpressureRetryMs: -1 },
      'sidecar.backpressureRetryMs must be a non-negative integer, got -1',
    ],
    ['reportTimeoutMs: -5', { reportTimeoutMs: -5 }, 'sidecar.reportTimeoutMs must be a positive integer, got -5'],
    [
      'requestTimeoutMarginMs: -1',
      { requestTimeoutMarginMs: -1 },
      'sidecar.requestTimeoutMarginMs must be a non-negative integer, got -1',
    ],
    ['connectTimeoutMs: 0', { connectTimeoutMs: 0 }, 'sidecar.connectTimeoutMs must be a positive integer, got 0'],
    [
      'address with port 0',
      { address: '127.0.0.1:0' },
      'sidecar.address must be unix:///path.sock or host:port, got "127.0.0.1:0"',
    ],
    ['address "unix://" without a path', { address: 'unix://' }, 'sidecar.address "unix://" has no socket path'],
    ['sidecar: "sidecar" (a string, not options)', 'sidecar', 'sidecar options must be an object, got "sidecar"'],
    ['sidecar: null', null, 'sidecar options must be an object, got null'],
  ])('new Kafka() refuses %s, naming it', (_name, sidecar, message) => {
    expect(
      thrown(
        () =>
          new Kafka({
            brokers: ['127.0.0.1:9092'],
            logLevel: logLevel.NOTHING,
            sidecar: sidecar as SidecarClientOptions,
          }),
      ),
    ).toMatchObject({
      class: KafkaJSNonRetriableError,
      retriable: false,
      message: `kafka-sidecar client: ${message}`,
    })
  })
})

describe('sidecar settings from the environment', () => {
  it.each<[Record<string, string>, string]>([
    [{ KAFKA_SIDECAR_MODE: 'sidecars' }, 'KAFKA_SIDECAR_MODE must be "direct" or "sidecar", got "sidecars"'],
    [{ KAFKA_SIDECAR_MODE: 'on' }, 'KAFKA_SIDECAR_MODE must be "direct" or "sidecar", got "on"'],
    [
      { KAFKA_SIDECAR_ADDRESS: '127.0.0.1:65536' },
      'KAFKA_SIDECAR_ADDRESS must be unix:///path.sock or host:port, got "127.0.0.1:65536"',
    ],
    [
      { KAFKA_SIDECAR_ADDRESS: 'unix:/tmp/s.sock' },
      'KAFKA_SIDECAR_ADDRESS must be unix:///path.sock or host:port, got "unix:/tmp/s.sock"',
    ],
    [{ KAFKA_SIDECAR_CONNECT_TIMEOUT_MS: '0' }, 'KAFKA_SIDECAR_CONNECT_TIMEOUT_MS must be a positive integer, got "0"'],
    [
      { KAFKA_SIDECAR_CONNECT_TIMEOUT_MS: '-1' },
      'KAFKA_SIDECAR_CONNECT_TIMEOUT_MS must be a positive integer, got "-1"',
    ],
    [
      { KAFKA_SIDECAR_CONNECT_TIMEOUT_MS: '2.5' },
      'KAFKA_SIDECAR_CONNECT_TIMEOUT_MS must be a positive integer, got "2.5"',
    ],
  ])('%j is refused, naming the variable', (env, message) => {
    expect(thrown(() => resolveSidecarOptions([], env))).toMatchObject({
      class: KafkaJSNonRetriableError,
      message: `kafka-sidecar client: ${message}`,
    })
    // From the process environment, at construction.
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value)
    expect(thrown(() => new Kafka({ brokers: ['127.0.0.1:9092'], logLevel: logLevel.NOTHING }))).toMatchObject({
      class: KafkaJSNonRetriableError,
      message: `kafka-sidecar client: ${message}`,
    })
  })

  it.each<[string, unknown, string]>([
    ['an unknown option (a typo)', { adress: 'unix:///tmp/x.sock' }, 'unknown option sidecar.adress (known: '],
    ['an unknown breaker option', { breaker: { threshold: 5 } }, 'unknown option sidecar.breaker.threshold (known: '],
    [
      'a token with a trailing newline',
      { token: 's3cr3t-token\n' },
      'sidecar.token must be non-empty printable ASCII without spaces or line breaks (check for a trailing newline)',
    ],
    ['a token that is a number', { token: 12345 }, 'sidecar.token must be a string'],
    ['an appName that is a number', { appName: 7 }, 'sidecar.appName must be a non-empty string, got 7'],
  ])('new Kafka() refuses %s, naming it (and never echoing a token)', (_name, sidecar, message) => {
    const facts = thrown(
      () =>
        new Kafka({
          brokers: ['127.0.0.1:9092'],
          logLevel: logLevel.NOTHING,
          sidecar: sidecar as SidecarClientOptions,
        }),
    )
    expect(facts).toMatchObject({ class: KafkaJSNonRetriableError, retriable: false })
    expect(String(facts.message)).toContain(`kafka-sidecar client: ${message}`)
    expect(String(facts.message)).not.toContain('s3cr3t')
  })

  it('KAFKA_SIDECAR_TOKEN with a trailing newline (a secret file) is refused at construction, not echoed', () => {
    vi.stubEnv('KAFKA_SIDECAR_TOKEN', 's3cr3t-token\n')
    const facts = thrown(() => new Kafka({ brokers: ['127.0.0.1:9092'], logLevel: logLevel.NOTHING }))
    expect(facts).toMatchObject({
      class: KafkaJSNonRetriableError,
      message:
        'kafka-sidecar client: KAFKA_SIDECAR_TOKEN must be non-empty printable ASCII without spaces or line breaks (check for a trailing newline)',
    })
  })
})

describe('after refused configurations, the same Kafka instance still serves', () => {
  it('bad producer-level options throw at kafka.producer(); a correct producer on the same Kafka sends through the sidecar', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const sidecar = await startTestSidecar(cluster)
    const topic = randomTopic('config')
    await cluster.createTopic({ topic, partitions: 1 })
    expect(
      thrown(
        () =>
          new Kafka({
            brokers: cluster.bootstrapServers,
            sidecar: { mode: 'sidecar', address: sidecar.address, breaker: { resetTimeoutMs: -1 } },
          }),
      ),
    ).toMatchObject({
      class: KafkaJSNonRetriableError,
      message: 'kafka-sidecar client: sidecar.breaker.resetTimeoutMs must be a positive integer, got -1',
    })
    const kafka = new Kafka({
      clientId: 'config-errors',
      brokers: cluster.bootstrapServers,
      logLevel: logLevel.NOTHING,
      sidecar: { mode: 'sidecar', address: sidecar.address },
    })
    for (const [options, message] of [
      [{ mode: 'proxy' }, 'sidecar.mode must be "direct" or "sidecar", got "proxy"'],
      [
        { breaker: { volumeThreshold: 1.5 } },
        'sidecar.breaker.volumeThreshold must be a non-negative integer, got 1.5',
      ],
      [{ maxCoalescedRecords: -1 }, 'sidecar.maxCoalescedRecords must be a positive integer, got -1'],
    ] as const) {
      expect(thrown(() => kafka.producer({ sidecar: options as SidecarClientOptions }))).toMatchObject({
        class: KafkaJSNonRetriableError,
        message: `kafka-sidecar client: ${message}`,
      })
    }
    const producer = kafka.producer()
    onTestFinished(() => producer.disconnect().catch(() => {}))
    await producer.connect()
    expect(producer.mode).toBe('sidecar')
    const metadata = await producer.send({ topic, messages: [{ value: 'after refusals' }] })
    expect(metadata).toEqual([expect.objectContaining({ topicName: topic, partition: 0, errorCode: 0 })])
    expect(producer.directConnected).toBe(false)
    expect((await cluster.records(topic)).map((r) => r.value?.toString())).toEqual(['after refusals'])
  })
})
