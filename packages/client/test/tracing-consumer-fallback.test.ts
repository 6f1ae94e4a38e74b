/**
 * A consumer in sidecar mode that falls back to consuming directly, traced by OpenTelemetry's
 * kafkajs instrumentation: one process span per record, with the cluster id, as KafkaJS's own
 * consumer has. The application's run config is wrapped by the instrumentation for the sidecar
 * consumer; the direct consumer gets the application's own handlers, so nothing is wrapped twice.
 */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { connectedProducer, kafkaFor, randomTopic, startCluster, tempDir } from '@kafka-sidecar/test-support'
import { expectFreshBuild } from './built-package.js'
import { runTracedApp, type System } from './tracing/run-app.js'

const RECORDS = 5

describe.each<System>(['cjs'])('a traced sidecar consumer falling back to direct (%s application)', (system) => {
  it('has one process span per record, with the cluster id', async () => {
    expectFreshBuild()
    const cluster = await startCluster()
    const topic = randomTopic('traced-fallback')
    await cluster.createTopic({ topic, partitions: 1 })
    const producer = await connectedProducer(kafkaFor(cluster, 'traced-fallback-writer'))
    await producer.send({ topic, messages: Array.from({ length: RECORDS }, (_, i) => ({ value: `v${i}` })) })
    const output = await runTracedApp(system, {
      BROKERS: cluster.bootstrapServers.join(','),
      TOPIC: topic,
      MODULE: '@kafka-sidecar/client',
      PROGRAM: 'fallback-consumer-program.cjs',
      RECORDS: String(RECORDS),
      NO_SIDECAR_ADDRESS: `unix://${join(await tempDir(), 'no-sidecar.sock')}`,
    })
    expect(JSON.parse(output)).toEqual({ records: RECORDS, processSpans: RECORDS, withClusterId: RECORDS })
  }, 60_000)
})
