/**
 * The sidecar's lifecycle, driven programmatically: stop() flushes what is queued, readiness
 * follows the Kafka connection, stop() is idempotent and releases the socket file and HTTP port,
 * and start copes with what a crashed sidecar leaves at the listen path.
 */
import { existsSync } from 'node:fs'
import { readFile, rename, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js'
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthClient,
  type EmitAck,
  type HealthCheckResponse,
} from '@kafka-sidecar/proto'
import { describe, expect, it, onTestFinished } from 'vitest'
import {
  grpcTarget,
  randomTopic,
  startCluster,
  startTestSidecar,
  tempDir,
  waitFor,
  within,
} from '@kafka-sidecar/test-support'
import { startSidecar, type RunningSidecar } from '../src/index.js'
import { bytes, emit, emitRequest, sidecarClient } from './helpers.js'

const T = { timeout: 15_000 }

function healthCheck(sidecar: RunningSidecar, service = ''): Promise<HealthCheckResponse> {
  const client = new HealthClient(grpcTarget(sidecar.address), credentials.createInsecure())
  onTestFinished(() => client.close())
  return new Promise((resolve, reject) =>
    client.check({ service }, (error, response) => (error ? reject(error) : resolve(response))),
  )
}

async function httpStatus(sidecar: RunningSidecar, path: string): Promise<number> {
  const response = await fetch(`http://${sidecar.httpAddress}${path}`)
  await response.text()
  return response.status
}

/** Sends `requests` x `perRequest` records on one EmitStream without awaiting delivery; resolves with the acks. */
async function emitQueued(
  sidecar: RunningSidecar,
  topic: string,
  requests: number,
  perRequest: number,
): Promise<EmitAck[]> {
  const call = sidecarClient(sidecar).emitStream()
  onTestFinished(() => call.cancel())
  const acks: EmitAck[] = []
  call.on('data', (ack: EmitAck) => acks.push(ack))
  call.on('error', () => {})
  const instanceId = `instance-${topic}`
  for (let i = 0; i < requests; i++) {
    const records = Array.from({ length: perRequest }, (_, j) => ({ value: bytes(`${i}-${j}`) }))
    call.write(emitRequest(topic, records, { instanceId, awaitDelivery: false }))
  }
  call.end()
  await waitFor(`${requests} acks`, () => acks.length === requests, 5_000)
  return acks
}

describe('stop()', () => {
  it.each([
    { lingerMs: 0, label: 'sent at once' },
    { lingerMs: 400, label: 'still queued (linger)' },
  ])(
    'flushes records in flight: 1000 records acked as received, $label, are all in the cluster after stop()',
    T,
    async ({ lingerMs }) => {
      const cluster = await startCluster()
      const topic = randomTopic('flush')
      await cluster.createTopic({ topic, partitions: 3 })
      const sidecar = await startTestSidecar(cluster, { lingerMs, shutdownTimeoutMs: 5_000 })
      const acks = await emitQueued(sidecar, topic, 10, 100)
      for (const ack of acks) expect(ack).toMatchObject({ received: true, error: undefined, results: [] })
      if (lingerMs > 0) expect((await cluster.records(topic)).length).toBeLessThan(1000)

      const summary = await within(sidecar.stop(), 8_000, 'stop()')
      expect(summary).toEqual({ failedRecords: 0, flushedInTime: true })
      const values = (await cluster.records(topic)).map((r) => r.value!.toString())
      expect(values).toHaveLength(1000)
      expect(new Set(values).size).toBe(1000)
    },
  )

  it('is idempotent, removes the Unix socket file and frees the HTTP port', T, async () => {
    const cluster = await startCluster()
    const topic = randomTopic('stop')
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)
    const socketPath = sidecar.address.slice('unix://'.length)
    expect((await stat(socketPath)).isSocket()).toBe(true)
    const client = sidecarClient(sidecar)
    await emit(client, emitRequest(topic, [{ value: bytes('before stop') }]))

    const first = sidecar.stop()
    const second = sidecar.stop()
    const [a, b] = await within(Promise.all([first, second]), 8_000, 'stop()')
    expect(b).toEqual(a)
    expect(a).toEqual({ failedRecords: 0, flushedInTime: true })
    expect(await within(sidecar.stop(), 1_000, 'a third stop()')).toEqual(a)

    expect(existsSync(socketPath)).toBe(false)
    await expect(fetch(`http://${sidecar.httpAddress}/healthz`)).rejects.toThrow()
    const port = Number(sidecar.httpAddress!.split(':').at(-1))
    const probe = createServer()
    await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(port, '127.0.0.1', resolve))
    await new Promise<void>((resolve) => probe.close(() => resolve()))

    const after = await new Promise<ServiceError | null>((resolve) =>
      client.emit(
        emitRequest(topic, [{ value: bytes('after stop') }]),
        new Metadata(),
        { deadline: Date.now() + 3_000 },
        (error) => resolve(error),
      ),
    )
    expect(after?.code).toBe(status.UNAVAILABLE)
    expect((await cluster.records(topic)).map((r) => r.value!.toString())).toEqual(['before stop'])
  })
})

describe('readiness', () => {
  it(
    'is not ready while the brokers are down (503, NOT_SERVING, Emit refused promptly), ready once they are up',
    T,
    async () => {
      const cluster = await startCluster()
      const topic = randomTopic('ready')
      await cluster.createTopic({ topic, partitions: 1 })
      await cluster.stopBrokers()
      const dir = await tempDir()
      const sidecar = await startSidecar({
        brokers: cluster.bootstrapServers,
        listen: `unix://${join(dir, 'sidecar.sock')}`,
        http: '127.0.0.1:0',
        logLevel: 'nothing',
        shutdownTimeoutMs: 1_000,
      })
      onTestFinished(async () => {
        await sidecar.stop()
      })
      let ready = false
      void sidecar.ready.then(() => (ready = true))

      expect(await httpStatus(sidecar, '/readyz')).toBe(503)
      expect(await httpStatus(sidecar, '/healthz')).toBe(200)
      expect((await healthCheck(sidecar)).status).toBe(ServingStatus.NOT_SERVING)
      expect((await healthCheck(sidecar, 'kafka_sidecar.v1.ProducerSidecar')).status).toBe(ServingStatus.NOT_SERVING)

      // Not connected: the request is refused (clients fall back), not held until Kafka answers.
      const client = sidecarClient(sidecar)
      const started = Date.now()
      const refused = await new Promise<ServiceError | null>((resolve) =>
        client.emit(
          emitRequest(topic, [{ value: bytes('while down') }]),
          new Metadata(),
          { deadline: Date.now() + 3_000 },
          (error) => resolve(error),
        ),
      )
      const elapsed = Date.now() - started
      expect(refused).not.toBeNull()
      const kafkaError = refused!.metadata?.get('kafka-error-name') ?? []
      expect
        .soft(
          refused!.code === status.UNAVAILABLE || (refused!.code !== status.DEADLINE_EXCEEDED && kafkaError.length > 0),
          `code ${refused!.code}: ${refused!.details}`,
        )
        .toBe(true)
      expect.soft(elapsed, 'Emit refusal latency (ms) while Kafka is down').toBeLessThan(2_000)
      expect(ready).toBe(false)

      await cluster.startBrokers()
      await within(sidecar.ready, 8_000, 'readiness after the brokers came back')
      expect(await httpStatus(sidecar, '/readyz')).toBe(200)
      expect((await healthCheck(sidecar)).status).toBe(ServingStatus.SERVING)
      const ack = await within(
        emit(client, emitRequest(topic, [{ value: bytes('after up') }])),
        5_000,
        'Emit once ready',
      )
      expect(ack.results).toEqual([expect.objectContaining({ topic, partition: 0, error: undefined })])
      expect((await cluster.records(topic)).map((r) => r.value!.toString())).toEqual(['after up'])
    },
  )
})

describe('the listen path', () => {
  it('replaces a stale socket file left by a crashed sidecar (and creates the socket with mode 0660)', T, async () => {
    const cluster = await startCluster()
    const topic = randomTopic('stale')
    await cluster.createTopic({ topic, partitions: 1 })
    const dir = await tempDir()
    const path = join(dir, 'sidecar.sock')
    // A socket file nobody listens on: bind elsewhere, move the file to `path`, close the listener.
    const crashed = createServer()
    await new Promise<void>((resolve) => crashed.listen(join(dir, 'other.sock'), resolve))
    await rename(join(dir, 'other.sock'), path)
    await new Promise<void>((resolve) => crashed.close(() => resolve()))
    expect((await stat(path)).isSocket()).toBe(true)

    const sidecar = await startTestSidecar(cluster, { listen: `unix://${path}` })
    expect(sidecar.address).toBe(`unix://${path}`)
    const info = await stat(path)
    expect(info.isSocket()).toBe(true)
    expect(info.mode & 0o777).toBe(0o660)
    const ack = await emit(sidecarClient(sidecar), emitRequest(topic, [{ value: bytes('v') }]))
    expect(ack.results.map((r) => r.error)).toEqual([undefined])
  })

  it(
    'refuses to start when a regular file is at the listen path, naming the path and leaving the file alone',
    T,
    async () => {
      const cluster = await startCluster()
      const dir = await tempDir()
      const path = join(dir, 'not-a-socket.sock')
      await writeFile(path, 'precious data')
      const started = startSidecar({
        brokers: cluster.bootstrapServers,
        listen: `unix://${path}`,
        http: '127.0.0.1:0',
        logLevel: 'nothing',
      })
      // Should it start anyway, stop it so the test leaves nothing running.
      onTestFinished(async () => {
        await started.then((s) => s.stop()).catch(() => {})
      })
      await expect(started).rejects.toThrow(path)
      expect(await readFile(path, 'utf8')).toBe('precious data')
    },
  )
})
