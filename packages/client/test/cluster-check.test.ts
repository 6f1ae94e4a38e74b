/**
 * Cluster identity (issue 13 item 5): a sidecar on another cluster than the application's own
 * `brokers` is told at connect (error log, metric, event) and, with `clusterMismatch: 'refuse'`,
 * not used; a sidecar on the same cluster raises nothing; a sidecar older than ClusterInfo
 * (UNIMPLEMENTED) is used as before. Two real embedded clusters over TCP, the real sidecar, and
 * for the old sidecar a real grpc-js server without the method.
 */
import { join } from 'node:path'
import { Server, ServerCredentials, status, type ServerDuplexStream } from '@grpc/grpc-js'
import type { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import {
  HealthCheckResponse_ServingStatus,
  HealthService,
  ProducerSidecarService,
  type EmitAck,
  type EmitRequest,
  type HealthServer,
  type ProducerSidecarServer,
} from '@kafka-sidecar/proto'
import kafkajs from 'kafkajs'
import { Registry } from 'prom-client'
import { describe, expect, it, onTestFinished } from 'vitest'
import {
  kafkajsClusterId,
  randomTopic,
  startCluster,
  startTestSidecar,
  tempDir,
  waitFor,
} from '@kafka-sidecar/test-support'
import {
  Kafka,
  logLevel,
  type ClusterMismatchPayload,
  type SidecarClientOptions,
  type SidecarKafkaConfig,
  type SidecarProducer,
} from '../src/index.js'
import { firstShared } from '../src/path/cluster-check.js'
import { captureLogs } from './kafkajs-reference.js'

const TOKEN = 'cluster-check-token-0123456789'

/** An application producer in sidecar mode, its logs, its metrics and its mismatch events. */
function application(brokers: SidecarKafkaConfig['brokers'], sidecar: SidecarClientOptions, level = logLevel.INFO) {
  const logs = captureLogs()
  const registry = new Registry()
  const kafka = new Kafka({
    clientId: 'cluster-check-app',
    brokers,
    logLevel: level,
    logCreator: logs.logCreator,
    sidecarMetrics: { registry },
    sidecar: { mode: 'sidecar', connectTimeoutMs: 5_000, ...sidecar },
  })
  const producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner })
  onTestFinished(() => producer.disconnect().catch(() => {}))
  const mismatches: ClusterMismatchPayload[] = []
  producer.on(producer.events.CLUSTER_MISMATCH, (event) => void mismatches.push(event.payload))
  const paths: string[] = []
  producer.on(producer.events.DELIVERY, (event) => void paths.push(event.payload.path))
  const clusterCheckMetric = async () => {
    const metric = await registry.getSingleMetric('kafka_sidecar_client_cluster_check')!.get()
    return Object.fromEntries(metric.values.map((v) => [v.labels.result, v.value]))
  }
  const errors = () => logs.entries.filter((e) => e.label === 'ERROR').map((e) => e.log.message)
  return { producer, logs, mismatches, paths, clusterCheckMetric, errors }
}

async function values(cluster: EmbeddedKafka, topic: string): Promise<string[]> {
  if (!cluster.topics().includes(topic)) return []
  return (await cluster.records(topic)).map((r) => r.value!.toString())
}

async function sendOne(producer: SidecarProducer, topic: string, value: string): Promise<void> {
  await producer.send({ topic, messages: [{ key: 'k', value }] })
}

describe("the application broker lists compared with the sidecar's", () => {
  it('match on any shared host:port, without regard to case or surrounding spaces, and resolve nothing', () => {
    expect(firstShared(['Kafka-1.Example:9092', 'b:9092'], ['kafka-1.example:9092'])).toBe('Kafka-1.Example:9092')
    expect(firstShared([' b:9092 '], ['a:9092', 'B:9092'])).toBe(' b:9092 ')
    expect(firstShared(['a:9093'], ['a:9092'])).toBeNull()
    // 127.0.0.1 and localhost are one host, but telling so would need DNS.
    expect(firstShared(['localhost:9092'], ['127.0.0.1:9092'])).toBeNull()
  })
})

describe("a sidecar on another cluster than the application's brokers", () => {
  async function twoClusters() {
    const [sidecarCluster, appCluster] = await Promise.all([startCluster({ brokers: 1 }), startCluster({ brokers: 1 })])
    const topic = randomTopic('cluster-check')
    await Promise.all([
      sidecarCluster.createTopic({ topic, partitions: 1 }),
      appCluster.createTopic({ topic, partitions: 1 }),
    ])
    const sidecar = await startTestSidecar(sidecarCluster, { token: TOKEN })
    return {
      sidecarCluster,
      appCluster,
      topic,
      sidecar,
      sidecarClusterId: await kafkajsClusterId(sidecarCluster, 'cluster-check-test'),
    }
  }

  it("clusterMismatch 'warn' (the default): an error naming both lists and the cluster id, the metric, the event; sends still go through the sidecar", async () => {
    const { sidecarCluster, appCluster, topic, sidecar, sidecarClusterId } = await twoClusters()
    const app = application(appCluster.bootstrapServers, { address: sidecar.address, token: TOKEN })
    await app.producer.connect()

    expect(app.errors()).toHaveLength(1)
    const message = app.errors()[0]!
    expect(message).toContain(sidecarClusterId)
    expect(message).toContain(sidecarCluster.bootstrapServers[0])
    expect(message).toContain(appCluster.bootstrapServers[0])
    expect(message).toContain('Sending through the sidecar anyway (clusterMismatch: warn)')
    expect(await app.clusterCheckMetric()).toEqual({ match: 0, mismatch: 1, unknown: 0 })
    expect(app.mismatches).toEqual([
      {
        clusterId: sidecarClusterId,
        sidecarBootstrapServers: sidecarCluster.bootstrapServers,
        sidecarBrokers: sidecarCluster.bootstrapServers,
        applicationBrokers: appCluster.bootstrapServers,
        action: 'warn',
      },
    ])
    expect(app.producer.sidecarCluster).toMatchObject({ result: 'mismatch', clusterId: sidecarClusterId })
    expect(app.producer.breakerState).toBe('closed')

    await sendOne(app.producer, topic, 'warned')
    expect(await values(sidecarCluster, topic)).toEqual(['warned'])
    expect(await values(appCluster, topic)).toEqual([])
  })

  it("clusterMismatch 'refuse': the producer writes directly to its own cluster, also after the breaker's probes ask again", async () => {
    const { sidecarCluster, appCluster, topic, sidecar, sidecarClusterId } = await twoClusters()
    const app = application(appCluster.bootstrapServers, {
      address: sidecar.address,
      token: TOKEN,
      clusterMismatch: 'refuse',
      breaker: { resetTimeoutMs: 200 },
    })
    await app.producer.connect()

    expect(app.errors()).toEqual([
      expect.stringContaining("Producing directly to the application's brokers instead (clusterMismatch: refuse)"),
    ])
    expect(app.errors()[0]).toContain(sidecarClusterId)
    expect(app.logs.entries.some((e) => e.log.message === 'Producer connected through the sidecar')).toBe(false)
    expect(await app.clusterCheckMetric()).toEqual({ match: 0, mismatch: 1, unknown: 0 })
    expect(app.mismatches.map((m) => m.action)).toEqual(['refuse'])
    expect(app.producer.breakerState).toBe('open')

    await sendOne(app.producer, topic, 'first')
    // Past the breaker's reset timeout: the half-open probe asks the sidecar again, and refuses again.
    await new Promise((resolve) => setTimeout(resolve, 400))
    await sendOne(app.producer, topic, 'after a probe')
    await sendOne(app.producer, topic, 'third')
    await waitFor('three delivery reports', () => app.paths.length === 3)
    expect(app.paths).toEqual(['direct', 'direct', 'direct'])
    expect(await values(appCluster, topic)).toEqual(['first', 'after a probe', 'third'])
    expect(await values(sidecarCluster, topic)).toEqual([])
    // The same verdict again at the probe is not said again.
    expect(app.errors()).toHaveLength(1)
    expect(app.producer.sidecarCluster.result).toBe('mismatch')
  })

  it("a sidecar restarted against another cluster (SIGTERM-like stop: the breaker need not open) is asked again before it takes a send ('refuse': nothing reaches it)", async () => {
    const [appCluster, otherCluster] = await Promise.all([startCluster({ brokers: 1 }), startCluster({ brokers: 1 })])
    const topic = randomTopic('cluster-check-restart')
    await Promise.all([
      appCluster.createTopic({ topic, partitions: 1 }),
      otherCluster.createTopic({ topic, partitions: 1 }),
    ])
    const socket = join(await tempDir(), 'sidecar.sock')
    const first = await startTestSidecar(appCluster, { listen: `unix://${socket}` })
    const app = application(appCluster.bootstrapServers, {
      address: first.address,
      clusterMismatch: 'refuse',
      breaker: { resetTimeoutMs: 200 },
    })
    await app.producer.connect()
    expect(app.producer.sidecarCluster.result).toBe('match')
    await sendOne(app.producer, topic, 'before')

    await first.stop()
    await startTestSidecar(otherCluster, { listen: `unix://${socket}` })
    for (let i = 0; i < 10; i++) {
      await sendOne(app.producer, topic, `after ${i}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(app.producer.sidecarCluster.result).toBe('mismatch')
    expect(app.errors()).toEqual([expect.stringContaining('clusterMismatch: refuse')])
    expect(await values(otherCluster, topic)).toEqual([])
    expect(await values(appCluster, topic)).toEqual(['before', ...Array.from({ length: 10 }, (_, i) => `after ${i}`)])
  })
})

describe("a sidecar restarted against another cluster, clusterMismatch 'warn'", () => {
  it(
    'is told (error, metric, event) once its channel reconnected, without holding sends up',
    { timeout: 90_000 },
    async () => {
      const [appCluster, otherCluster] = await Promise.all([startCluster({ brokers: 1 }), startCluster({ brokers: 1 })])
      const topic = randomTopic('cluster-check-restart-warn')
      await Promise.all([
        appCluster.createTopic({ topic, partitions: 1 }),
        otherCluster.createTopic({ topic, partitions: 1 }),
      ])
      const socket = join(await tempDir(), 'sidecar.sock')
      const first = await startTestSidecar(appCluster, { listen: `unix://${socket}` })
      const app = application(appCluster.bootstrapServers, { address: first.address })
      await app.producer.connect()
      await sendOne(app.producer, topic, 'before')
      expect(await app.clusterCheckMetric()).toEqual({ match: 1, mismatch: 0, unknown: 0 })

      await first.stop()
      await startTestSidecar(otherCluster, { listen: `unix://${socket}` })
      await sendOne(app.producer, topic, 'after')
      // The check runs when the channel reconnects, which grpc-js's reconnect backoff (1 s growing
      // by 1.6x, with jitter) decides: on a loaded machine the new sidecar may be up only after
      // the backoff reached 10 s or more.
      await waitFor('the mismatch told', () => app.mismatches.length === 1, 60_000)
      expect(app.mismatches[0]).toMatchObject({
        clusterId: await kafkajsClusterId(otherCluster, 'cluster-check-test'),
        action: 'warn',
      })
      expect(app.errors()).toEqual([
        expect.stringContaining('Sending through the sidecar anyway (clusterMismatch: warn)'),
      ])
      expect(await app.clusterCheckMetric()).toEqual({ match: 0, mismatch: 1, unknown: 0 })
      expect(await values(appCluster, topic)).toEqual(['before'])
      expect(await values(otherCluster, topic)).toEqual(['after'])
    },
  )
})

describe("a sidecar on the application's cluster", () => {
  it('raises nothing: no error, the metric says match, and the cluster id is known', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('cluster-check-match')
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster, { token: TOKEN, brokers: [cluster.bootstrapServers[2]!] })
    // One of the application's brokers is only among the cluster's advertised brokers, written in capitals.
    const app = application([cluster.bootstrapServers[0]!.toUpperCase()], {
      address: sidecar.address,
      token: TOKEN,
      clusterMismatch: 'refuse',
    })
    await app.producer.connect()
    expect(app.errors()).toEqual([])
    expect(app.mismatches).toEqual([])
    expect(await app.clusterCheckMetric()).toEqual({ match: 1, mismatch: 0, unknown: 0 })
    expect(app.producer.sidecarCluster).toMatchObject({
      result: 'match',
      clusterId: await kafkajsClusterId(cluster, 'cluster-check-test'),
    })
    await sendOne(app.producer, topic, 'through the sidecar')
    await waitFor('the delivery report', () => app.paths.length === 1)
    expect(app.paths).toEqual(['sidecar'])
  })

  it('brokers given as a function are not called: the check is skipped with a debug log, the sidecar used', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const sidecar = await startTestSidecar(cluster)
    let calls = 0
    const brokers = () => {
      calls++
      return cluster.bootstrapServers
    }
    const app = application(brokers, { address: sidecar.address, clusterMismatch: 'refuse' }, logLevel.DEBUG)
    await app.producer.connect()
    expect(calls).toBe(0)
    expect(app.producer.sidecarCluster).toMatchObject({
      result: 'unknown',
      clusterId: await kafkajsClusterId(cluster, 'cluster-check-test'),
    })
    expect(app.logs.entries.filter((e) => /brokers as a function/.test(e.log.message)).map((e) => e.label)).toEqual([
      'DEBUG',
    ])
    expect(app.errors()).toEqual([])
    expect(app.producer.breakerState).toBe('closed')
  })
})

describe('a sidecar older than ClusterInfo', () => {
  /** A real grpc-js server with the contract as it was before ClusterInfo: acks every request at partition 0. */
  async function oldSidecar(): Promise<string> {
    const server = new Server()
    // The service as an older sidecar registers it: without ClusterInfo, so grpc-js answers UNIMPLEMENTED.
    const { clusterInfo: _notYet, ...olderService } = ProducerSidecarService
    let offset = 0
    const implementation: ProducerSidecarServer = {
      emit: (_call, callback) => callback({ code: status.UNIMPLEMENTED, details: 'not in this test' }),
      emitStream(call: ServerDuplexStream<EmitRequest, EmitAck>) {
        call.on('data', (request: EmitRequest) => {
          const records = request.topics.flatMap((t) => t.records.map(() => t.topic))
          const results = [...new Set(records)].map((topic) => {
            const indexes = records.flatMap((t, i) => (t === topic ? [i] : []))
            const result = {
              topic,
              partition: 0,
              baseOffset: offset,
              logAppendTimeMs: -1,
              logStartOffset: 0,
              recordIndexes: indexes,
              leaderId: 1,
            }
            offset += indexes.length
            return result
          })
          call.write({ requestId: request.requestId, received: true, results })
        })
        call.on('end', () => call.end())
      },
      deliveryReports: (call) => call.emit('error', { code: status.UNIMPLEMENTED, details: 'not in this test' }),
      topicMetadata: (_call, callback) => callback({ code: status.UNIMPLEMENTED, details: 'not in this test' }),
      clusterInfo: () => expect.unreachable('not registered'),
    }
    server.addService(olderService, implementation)
    const health: HealthServer = {
      check: (_call, callback) => callback(null, { status: HealthCheckResponse_ServingStatus.SERVING }),
      watch: (call) => call.end(),
    }
    server.addService(HealthService, health)
    const socket = join(await tempDir(), 'old-sidecar.sock')
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix:${socket}`, ServerCredentials.createInsecure(), (error) =>
        error ? reject(error) : resolve(),
      ),
    )
    onTestFinished(() => void server.forceShutdown())
    return `unix://${socket}`
  }

  it('answers UNIMPLEMENTED: the client says so at info level and uses the sidecar, also with clusterMismatch refuse', async () => {
    const address = await oldSidecar()
    const app = application(['kafka.example:9092'], { address, clusterMismatch: 'refuse' })
    await app.producer.connect()
    expect(app.producer.breakerState).toBe('closed')
    expect(app.producer.sidecarCluster).toMatchObject({ result: 'unknown', clusterId: null })
    expect(
      app.logs.entries.filter((e) => /ClusterInfo/.test(e.log.message)).map((e) => [e.label, e.log.message]),
    ).toEqual([
      [
        'INFO',
        "Cannot tell whether the sidecar writes to this application's Kafka cluster (the sidecar is older than its ClusterInfo call (UNIMPLEMENTED)); using it",
      ],
    ])
    expect(app.errors()).toEqual([])
    expect(await app.clusterCheckMetric()).toEqual({ match: 0, mismatch: 0, unknown: 1 })
    const metadata = await app.producer.send({ topic: 'orders', messages: [{ key: 'k', value: 'v' }] })
    expect(metadata).toMatchObject([{ topicName: 'orders', partition: 0, errorCode: 0 }])
  })
})
