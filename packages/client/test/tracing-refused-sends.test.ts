/**
 * Direct mode, traced: sends the client refuses itself (bad arguments, a message without value,
 * acks 1 on an idempotent producer, after disconnect) end as KafkaJS's do under OpenTelemetry's
 * kafkajs instrumentation: the same synchronous TypeErrors, the same rejections (the message
 * quoting the record shows the traceparent the instrumentation injected), and a span per record
 * with status ERROR. They used to be refused before reaching the instrumented KafkaJS producer
 * (issue 12: OPEN-SYNC-TYPEERRORS, OPEN-NO-SPAN-FOR-REFUSED-SENDS).
 */
import { describe, expect, it } from 'vitest'
import { randomTopic, startCluster } from '@kafka-sidecar/test-support'
import { expectFreshBuild } from './built-package.js'
import { runTracedApp, type System } from './tracing/run-app.js'

/** The application's last line, with what differs per run (the topic, trace ids) replaced. */
async function runApp(system: System, env: Record<string, string>): Promise<unknown> {
  const output = (await runTracedApp(system, env))
    .replaceAll(env.TOPIC!, '<topic>')
    .replace(/00-[0-9a-f]{32}-[0-9a-f]{16}-0\d/g, '<traceparent>')
  return JSON.parse(output) as unknown
}

describe.each<System>(['cjs', 'esm'])('refused sends, traced (%s application)', (system) => {
  it('end in direct mode as in KafkaJS: synchronous TypeErrors, rejections, and one ERROR span per record', async () => {
    expectFreshBuild()
    const cluster = await startCluster()
    const base = {
      BROKERS: cluster.bootstrapServers.join(','),
      KAFKAJS_NO_PARTITIONER_WARNING: '1',
      PROGRAM: 'refused-program.cjs',
    }
    const kafkajs = await runApp(system, { ...base, MODULE: 'kafkajs', TOPIC: randomTopic('refused-kafkajs') })
    const direct = await runApp(system, {
      ...base,
      MODULE: '@kafka-sidecar/client',
      KAFKA_SIDECAR_MODE: 'direct',
      TOPIC: randomTopic('refused-direct'),
    })
    expect(kafkajs).toMatchObject({
      outcomes: { 'send()': { sync: true }, 'messages not an array': { sync: true }, 'sendBatch()': { sync: true } },
      headersOfTheMessageWithoutValue: ['traceparent'],
    })
    expect(direct).toEqual(kafkajs)
  }, 60_000)
})
