/**
 * prom-client is the application's: an optional peer dependency, so `sidecarMetrics: true`
 * registers in the default registry of the prom-client the application exposes, not in a copy of
 * its own nobody scrapes. Checked on the built package, installed as a package manager would
 * (its dependencies nested, its peers from the application). Issue 12, finding 6f.
 * Needs a build (`pnpm test` builds first).
 */
import { execFile } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { startCluster } from '@kafka-sidecar/test-support'
import { expectFreshBuild, installedApp } from './built-package.js'

function runApp(
  cwd: string,
  file: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [file],
      { cwd, env: { ...process.env, ...env }, timeout: 20_000, killSignal: 'SIGKILL' },
      (_error, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
    )
  })
}

/** Produces one record with sidecarMetrics on, then prints what the application's default registry holds. */
const APP = (load: string) => `
  ${load}
  const run = async () => {
    const kafka = new Kafka({ clientId: 'app', brokers: process.env.TEST_BROKERS.split(','), logLevel: logLevel.NOTHING, sidecarMetrics: true, sidecar: { mode: 'direct' } })
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({ topic: process.env.TEST_TOPIC, messages: [{ value: 'v' }] })
    await producer.disconnect()
    const text = await promClient.register.metrics()
    console.log(JSON.stringify({ attempted: /kafka_sidecar_client_records_attempted_total\\{[^}]*\\} 1/.test(text), mode: text.includes('kafka_sidecar_client_mode') }))
  }
  run().catch((error) => { console.error(error); process.exitCode = 1 })
`

describe("client metrics in the application's prom-client", () => {
  it.each([
    [
      'ESM',
      { type: 'module' },
      APP("import promClient from 'prom-client'\n  import { Kafka, logLevel } from '@kafka-sidecar/client'"),
    ],
    [
      'CommonJS',
      { type: 'commonjs' },
      APP("const promClient = require('prom-client')\n  const { Kafka, logLevel } = require('@kafka-sidecar/client')"),
    ],
  ])(
    "%s: sidecarMetrics: true registers in the application's default registry",
    async (_system, packageJson, script) => {
      expectFreshBuild()
      const cluster = await startCluster({ brokers: 1 })
      const app = await installedApp({ 'index.js': script }, { packageJson })
      const result = await runApp(app, 'index.js', {
        TEST_BROKERS: cluster.bootstrapServers.join(','),
        TEST_TOPIC: 'metrics-peer',
      })
      expect(result.stderr).toBe('')
      expect(JSON.parse(result.stdout.trim().split('\n').at(-1)!)).toEqual({ attempted: true, mode: true })
    },
  )

  it('an application without prom-client loads the package and produces; asking for metrics fails at connect, naming prom-client', async () => {
    expectFreshBuild()
    const cluster = await startCluster({ brokers: 1 })
    const script = `
      import { Kafka, logLevel } from '@kafka-sidecar/client'
      const kafka = (metrics) => new Kafka({ clientId: 'app', brokers: process.env.TEST_BROKERS.split(','), logLevel: logLevel.NOTHING, sidecarMetrics: metrics, sidecar: { mode: 'direct' } })
      const plain = kafka(false).producer()
      await plain.connect()
      await plain.send({ topic: process.env.TEST_TOPIC, messages: [{ value: 'v' }] })
      await plain.disconnect()
      const error = await kafka(true).producer().connect().then(() => null, (e) => e)
      console.log(JSON.stringify({ name: error?.name, message: error?.message }))
    `
    const app = await installedApp({ 'index.js': script }, { withPromClient: false })
    const result = await runApp(app, 'index.js', {
      TEST_BROKERS: cluster.bootstrapServers.join(','),
      TEST_TOPIC: 'metrics-peer',
    })
    expect(result.stderr).toBe('')
    expect(JSON.parse(result.stdout.trim().split('\n').at(-1)!)).toMatchObject({
      name: 'KafkaJSNonRetriableError',
      message: expect.stringMatching(
        /^kafka-sidecar client: sidecarMetrics needs the prom-client package in the application \(npm install prom-client\)/,
      ),
    })
  })
})
