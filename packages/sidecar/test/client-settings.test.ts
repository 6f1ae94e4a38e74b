/**
 * kafkaClientSettings: the KafkaJS settings the sidecar would connect with, from the sidecar's own
 * environment variables, for programs that must reach the brokers as it does. A KafkaJS producer
 * built from them writes to a cluster that asks for TLS with a private CA and SCRAM-SHA-512; the
 * settings refuse what the sidecar refuses, naming the variable.
 */
import { fileWith, startCluster } from '@kafka-sidecar/test-support'
import { Kafka, logLevel } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { kafkaClientSettings, SidecarConfigError } from '../src/index.js'

describe('kafkaClientSettings(env)', () => {
  it(
    'gives KafkaJS what reaches a TLS + SCRAM-SHA-512 cluster, from the sidecar variables',
    { timeout: 20_000 },
    async () => {
      const cluster = await startCluster({
        brokers: 1,
        tls: true,
        sasl: [{ mechanism: 'scram-sha-512', username: 'tool', password: 'tool-pw-3f1a' }],
      })
      const settings = await kafkaClientSettings({
        KAFKA_BROKERS: cluster.bootstrapServers.join(','),
        KAFKA_SSL: 'true',
        KAFKA_SSL_CA_FILE: await fileWith(cluster.caCertificate!, 'ca.pem'),
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        KAFKA_SASL_USERNAME: 'tool',
        KAFKA_SASL_PASSWORD_FILE: await fileWith('tool-pw-3f1a\n'),
      })
      expect(settings.brokers).toEqual(cluster.bootstrapServers)
      expect(settings.ssl).toBe(true)
      expect(typeof settings.socketFactory).toBe('function')
      expect(settings.sasl?.mechanism).toBe('scram-sha-512')

      await cluster.createTopic({ topic: 'settings', partitions: 1 })
      const producer = new Kafka({ ...settings, logLevel: logLevel.NOTHING }).producer()
      await producer.connect()
      try {
        await producer.send({ topic: 'settings', messages: [{ value: 'as the sidecar connects' }] })
      } finally {
        await producer.disconnect()
      }
      expect((await cluster.records('settings')).map((r) => r.value?.toString())).toEqual(['as the sidecar connects'])
    },
  )

  it('is plaintext without TLS or SASL variables', async () => {
    expect(await kafkaClientSettings({ KAFKA_BROKERS: 'a:9092,b:9092' })).toEqual({
      brokers: ['a:9092', 'b:9092'],
      connectionTimeout: 3_000,
      ssl: false,
    })
  })

  it('refuses what the sidecar refuses at start, naming the variable', async () => {
    await expect(kafkaClientSettings({})).rejects.toThrow(SidecarConfigError)
    await expect(kafkaClientSettings({})).rejects.toThrow(/KAFKA_BROKERS/)
    await expect(
      kafkaClientSettings({ KAFKA_BROKERS: 'a:9092', KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: '/nonexistent/ca.pem' }),
    ).rejects.toThrow(/KAFKA_SSL_CA_FILE.*\/nonexistent\/ca\.pem/)
  })
})
