/**
 * Direct mode, traced: sends the client refuses itself (bad arguments, a message without value,
 * acks 1 on an idempotent producer, after disconnect) end as KafkaJS's do under OpenTelemetry's
 * kafkajs instrumentation: the same synchronous TypeErrors, the same rejections (the message
 * quoting the record shows the traceparent the instrumentation injected), and a span per record
 * with status ERROR. They used to be refused before reaching the instrumented KafkaJS producer
 * (issue 12: OPEN-SYNC-TYPEERRORS, OPEN-NO-SPAN-FOR-REFUSED-SENDS).
 */
import { execFile } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { expectFreshBuild, packageDir } from './built-package.js'
import { randomTopic, startCluster } from './helpers.js'

type System = 'cjs' | 'esm'
const APPS: Record<System, string[]> = {
  cjs: ['--require', './test/tracing/otel-register.cjs', './test/tracing/app.cjs'],
  esm: ['--import', './test/tracing/otel-register.mjs', './test/tracing/app.mjs'],
}

function runApp(system: System, env: Record<string, string>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      APPS[system],
      { cwd: packageDir, env: { ...process.env, ...env }, timeout: 30_000, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`${system} app failed: ${error.message}\n${stderr}`))
        const output = stdout
          .trim()
          .split('\n')
          .at(-1)!
          .replaceAll(env.TOPIC!, '<topic>')
          .replace(/00-[0-9a-f]{32}-[0-9a-f]{16}-0\d/g, '<traceparent>')
        resolve(JSON.parse(output) as unknown)
      },
    )
  })
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
