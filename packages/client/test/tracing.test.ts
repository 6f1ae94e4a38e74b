/**
 * Tracing parity: with OpenTelemetry's kafkajs instrumentation registered the way services do it
 * (`--require` in CommonJS, `--import` with the import hook in ESM), the same traced program gives
 * the same producer spans and the same `traceparent` on every record on plain KafkaJS, in direct
 * mode and in sidecar mode (and when sidecar mode falls back to Kafka directly), the cluster id
 * included: `messaging.kafka.cluster.id` on the same spans (from a producer's second send on) with
 * the same value. Real child processes with the built package, real instrumentation, a real
 * sidecar and embedded-kafka.
 */
import { join } from 'node:path'
import kafkajs from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { randomTopic, socketPath, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import { expectFreshBuild } from './built-package.js'
import { runTracedApp, type System } from './tracing/run-app.js'

type Mode = 'kafkajs' | 'direct' | 'sidecar' | 'fallback'

interface SpanView {
  readonly name: string
  readonly kind: number
  readonly attributes: Record<string, unknown>
  readonly status: { code: number; message?: string }
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
}

interface TracedRun {
  readonly app: { traceId: string; spanId: string }
  readonly spans: SpanView[]
  readonly headers: Array<Record<string, unknown> | undefined>
}

const CLUSTER_ID = 'messaging.kafka.cluster.id'
const runApp = async (system: System, env: Record<string, string>): Promise<TracedRun> =>
  JSON.parse(await runTracedApp(system, env)) as TracedRun

/** What must be equal across modes: everything but ids, which differ per run. */
function shape(run: TracedRun, topic: string) {
  return run.spans.map((s) => ({
    name: s.name.replace(topic, '<topic>'),
    kind: s.kind,
    attributes: {
      ...s.attributes,
      'messaging.destination.name': String(s.attributes['messaging.destination.name']).replace(topic, '<topic>'),
      [CLUSTER_ID]: CLUSTER_ID in s.attributes,
    },
    status: s.status.code,
    childOfTheAppSpan: s.traceId === run.app.traceId && s.parentSpanId === run.app.spanId,
  }))
}

async function clusterIdOf(brokers: string[]): Promise<string> {
  const admin = new kafkajs.Kafka({ clientId: 'tracing-test', brokers, logLevel: kafkajs.logLevel.NOTHING }).admin()
  await admin.connect()
  try {
    return (await admin.describeCluster()).clusterId
  } finally {
    await admin.disconnect()
  }
}

/** Every record carries the traceparent of its own producer span. */
function expectHeadersNameTheirSpans(run: TracedRun): void {
  const fromSpans = run.spans.map((s) => `00-${s.traceId}-${s.spanId}-01`).sort()
  const fromHeaders = run.headers.map((h) => String(h?.traceparent)).sort()
  expect(fromHeaders).toEqual(fromSpans)
}

describe.each<System>(['cjs', 'esm'])('tracing parity (%s application)', (system) => {
  it('gives the same producer spans and trace headers on KafkaJS, direct, sidecar and fallback', async () => {
    expectFreshBuild()
    const cluster = await startCluster()
    const sidecar = await startTestSidecar(cluster)
    const deadSocket = join(await socketPath(), '..', 'nobody-listens.sock')
    const base = { BROKERS: cluster.bootstrapServers.join(','), KAFKAJS_NO_PARTITIONER_WARNING: '1' }
    const env: Record<Mode, Record<string, string>> = {
      kafkajs: { MODULE: 'kafkajs' },
      direct: { MODULE: '@kafka-sidecar/client', KAFKA_SIDECAR_MODE: 'direct' },
      sidecar: {
        MODULE: '@kafka-sidecar/client',
        KAFKA_SIDECAR_MODE: 'sidecar',
        KAFKA_SIDECAR_ADDRESS: sidecar.address,
      },
      fallback: {
        MODULE: '@kafka-sidecar/client',
        KAFKA_SIDECAR_MODE: 'sidecar',
        KAFKA_SIDECAR_ADDRESS: `unix://${deadSocket}`,
        KAFKA_SIDECAR_CONNECT_TIMEOUT_MS: '200',
      },
    }
    const shapes = {} as Record<Mode, ReturnType<typeof shape>>
    const clusterIds = {} as Record<Mode, unknown[]>
    for (const mode of Object.keys(env) as Mode[]) {
      const topic = randomTopic(`traced-${mode}`)
      const run = await runApp(system, { ...base, ...env[mode], TOPIC: topic })
      expect(run.spans, mode).toHaveLength(5)
      expectHeadersNameTheirSpans(run)
      const written = await cluster.records(topic)
      expect(
        written.map((r) => r.headers.find((h) => h.key === 'traceparent')?.value?.toString()).sort(),
        mode,
      ).toEqual(run.headers.map((h) => h?.traceparent).sort())
      shapes[mode] = shape(run, topic)
      clusterIds[mode] = run.spans.filter((s) => CLUSTER_ID in s.attributes).map((s) => s.attributes[CLUSTER_ID])
    }
    expect(shapes.kafkajs.every((s) => s.childOfTheAppSpan)).toBe(true)
    // KafkaJS learns the cluster id with its first send: the spans of the second (sendBatch, 2 records) carry it.
    expect(shapes.kafkajs.map((s) => s.attributes[CLUSTER_ID])).toEqual([false, false, false, true, true])
    for (const mode of ['direct', 'sidecar', 'fallback'] as const) expect(shapes[mode], mode).toEqual(shapes.kafkajs)
    // The same value: the cluster's id, through the sidecar (ClusterInfo) or from the fallback's own KafkaJS.
    const id = await clusterIdOf(cluster.bootstrapServers)
    for (const mode of Object.keys(env) as Mode[]) expect(clusterIds[mode], mode).toEqual([id, id])
  }, 120_000)
})
