/**
 * Which consumer kafka.consumer() returns: KAFKA_SIDECAR_CONSUMER_MODE, then the Kafka-level
 * `consumerMode`, then the consumer's own `sidecar.mode`; separate from the producer's mode; custom
 * partition assigners stay direct with a warning; wrong values fail naming the option.
 */
import kafkajs from 'kafkajs'
import type { LogEntry } from 'kafkajs'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  Kafka,
  KafkaJSNonRetriableError,
  SidecarConsumer,
  SIDECAR_ENV,
  type SidecarKafkaConfig,
} from '../../src/index.js'
import { resolveConsumerOptions } from '../../src/consumer/consumer-mode.js'
import { resolveSidecarOptions } from '../../src/options.js'

afterEach(() => vi.unstubAllEnvs())

function kafka(config: Partial<SidecarKafkaConfig> = {}, logs: LogEntry[] = []) {
  return new Kafka({
    clientId: 'mode-test',
    brokers: ['127.0.0.1:9'],
    logCreator: () => (entry) => void logs.push(entry),
    ...config,
  })
}

describe('kafka.consumer() in direct and sidecar mode', () => {
  it("is KafkaJS's own consumer by default, and when only the producers' mode is sidecar", () => {
    expect(kafka().consumer({ groupId: 'g' })).not.toBeInstanceOf(SidecarConsumer)
    vi.stubEnv('KAFKA_SIDECAR_MODE', 'sidecar')
    expect(kafka().consumer({ groupId: 'g' })).not.toBeInstanceOf(SidecarConsumer)
  })

  it('KAFKA_SIDECAR_CONSUMER_MODE=sidecar selects the sidecar consumer; code overrides env, the consumer overrides Kafka', () => {
    expect(SIDECAR_ENV.consumerMode).toBe('KAFKA_SIDECAR_CONSUMER_MODE')
    vi.stubEnv('KAFKA_SIDECAR_CONSUMER_MODE', 'Sidecar')
    expect(kafka().consumer({ groupId: 'g' })).toBeInstanceOf(SidecarConsumer)
    expect(kafka({ sidecar: { consumerMode: 'direct' } }).consumer({ groupId: 'g' })).not.toBeInstanceOf(
      SidecarConsumer,
    )
    expect(
      kafka({ sidecar: { consumerMode: 'direct' } }).consumer({ groupId: 'g', sidecar: { mode: 'sidecar' } }),
    ).toBeInstanceOf(SidecarConsumer)
    expect(kafka().consumer({ groupId: 'g', sidecar: { mode: 'direct' } })).not.toBeInstanceOf(SidecarConsumer)
  })

  it('a consumer with custom partitionAssigners stays direct, with a warning; the default assigner given explicitly does not', () => {
    const logs: LogEntry[] = []
    const custom = kafka({ sidecar: { consumerMode: 'sidecar' } }, logs).consumer({
      groupId: 'g',
      partitionAssigners: [
        () => ({
          name: 'mine',
          version: 1,
          assign: async () => [],
          protocol: () => ({ name: 'mine', metadata: Buffer.alloc(0) }),
        }),
      ],
    })
    expect(custom).not.toBeInstanceOf(SidecarConsumer)
    expect(logs.map((l) => l.log.message)).toContainEqual(
      expect.stringMatching(/custom partitionAssigners, which cannot run in the sidecar/),
    )
    const roundRobin = kafka({ sidecar: { consumerMode: 'sidecar' } }).consumer({
      groupId: 'g',
      partitionAssigners: [kafkajs.PartitionAssigners.roundRobin],
    })
    expect(roundRobin).toBeInstanceOf(SidecarConsumer)
  })

  it('wrong values fail with KafkaJSNonRetriableError naming the option', () => {
    vi.stubEnv('KAFKA_SIDECAR_CONSUMER_MODE', 'both')
    expect(() => kafka()).toThrow(/KAFKA_SIDECAR_CONSUMER_MODE must be "direct" or "sidecar", got "both"/)
    vi.unstubAllEnvs()
    expect(() => kafka().consumer({ groupId: 'g', sidecar: { mode: 'x' as never } })).toThrow(
      /consumer sidecar.mode must be "direct" or "sidecar"/,
    )
    expect(() => kafka().consumer({ groupId: 'g', sidecar: { processTimeoutMs: 10 } })).toThrow(
      KafkaJSNonRetriableError,
    )
    expect(() => kafka().consumer({ groupId: 'g', sidecar: { moed: 'sidecar' } as never })).toThrow(
      /unknown option consumer sidecar.moed/,
    )
    expect(() => kafka().producer({ sidecar: { consumerMode: 'sidecar' } as never })).toThrow(
      /sidecar.consumerMode is for consumers/,
    )
  })

  it('the direct fallback time: off by default, KAFKA_SIDECAR_CONSUMER_FALLBACK_AFTER_MS, code over env, the consumer over Kafka', () => {
    const resolved = (kafkaLevel?: SidecarKafkaConfig['sidecar'], own?: unknown) =>
      resolveConsumerOptions(resolveSidecarOptions([kafkaLevel]), own).fallbackAfterMs
    expect(SIDECAR_ENV.consumerFallbackAfterMs).toBe('KAFKA_SIDECAR_CONSUMER_FALLBACK_AFTER_MS')
    expect(resolved()).toBe(0)
    vi.stubEnv('KAFKA_SIDECAR_CONSUMER_FALLBACK_AFTER_MS', '60000')
    expect(resolved()).toBe(60_000)
    expect(resolved({ consumerFallbackAfterMs: 5_000 })).toBe(5_000)
    expect(resolved({ consumerFallbackAfterMs: 5_000 }, { fallbackAfterMs: 0 })).toBe(0)
    vi.stubEnv('KAFKA_SIDECAR_CONSUMER_FALLBACK_AFTER_MS', 'soon')
    expect(() => kafka()).toThrow(/KAFKA_SIDECAR_CONSUMER_FALLBACK_AFTER_MS must be a non-negative integer/)
    vi.unstubAllEnvs()
    expect(() => kafka().consumer({ groupId: 'g', sidecar: { fallbackAfterMs: -1 } })).toThrow(
      /consumer sidecar.fallbackAfterMs must be a non-negative integer/,
    )
    expect(() => kafka().producer({ sidecar: { consumerFallbackAfterMs: 1 } as never })).toThrow(
      /sidecar.consumerFallbackAfterMs is for consumers/,
    )
  })

  it("KafkaJS's own config checks still apply in sidecar mode", () => {
    expect(() => kafka({ sidecar: { consumerMode: 'sidecar' } }).consumer({ groupId: '' })).toThrow(
      'Consumer groupId must be a non-empty string.',
    )
  })
})
