/**
 * The sidecar's security promises, against a real sidecar, real grpc-js and a real embedded
 * cluster: the socket is 0660, non-loopback listening is opt-in, the shared token guards every
 * ProducerSidecar method (health stays open), the topic allow-list refuses like a broker's ACLs
 * would, and secrets never reach logs, metrics or error messages.
 */
import { randomBytes } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { createConnection } from 'node:net'
import { join } from 'node:path'
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js'
import {
  HealthCheckResponse_ServingStatus,
  HealthClient,
  type DeliveryReportEvent,
  type EmitAck,
  type ProducerSidecarClient,
  type TopicMetadataResponse,
} from '@kafka-sidecar/proto'
import type { logCreator as LogCreator, LogEntry } from 'kafkajs'
import { describe, expect, it, onTestFinished } from 'vitest'
import { asText, grpcTarget, randomTopic, startCluster, startTestSidecar, tempDir } from '@kafka-sidecar/test-support'
import { SidecarConfigError, startSidecar, type RunningSidecar } from '../src/index.js'
import { bearer, bytes, emit, emitError, emitRequest, sidecarClient } from './helpers.js'

const TOKEN = 'a'.repeat(32)

function statusOf(error: ServiceError | null | undefined): { code: string; details: string } | null {
  return error ? { code: status[error.code] ?? String(error.code), details: error.details } : null
}

function topicMetadata(
  client: ProducerSidecarClient,
  topic: string,
  metadata = new Metadata(),
): Promise<{ error: ServiceError | null; response?: TopicMetadataResponse }> {
  return new Promise((resolve) =>
    client.topicMetadata({ topic }, metadata, { deadline: Date.now() + 10_000 }, (error, response) =>
      resolve({ error, response }),
    ),
  )
}

/** Opens EmitStream, writes one request, and resolves with the first ack or the stream's error. */
function streamOnce(
  client: ProducerSidecarClient,
  topic: string,
  metadata?: Metadata,
): Promise<{ ack?: EmitAck; error?: ServiceError }> {
  const call = metadata
    ? client.emitStream(metadata, { deadline: Date.now() + 10_000 })
    : client.emitStream({ deadline: Date.now() + 10_000 })
  onTestFinished(() => call.cancel())
  return new Promise((resolve) => {
    call.on('data', (ack: EmitAck) => {
      resolve({ ack })
      call.end()
    })
    call.on('error', (error: ServiceError) => resolve({ error }))
    call.write(emitRequest(topic, [{ value: bytes('via stream') }]))
  })
}

/** Opens DeliveryReports and resolves with the first event or the stream's error. */
function firstReport(
  client: ProducerSidecarClient,
  instanceId: string,
  metadata?: Metadata,
): Promise<{ event?: DeliveryReportEvent; error?: ServiceError }> {
  const call = client.deliveryReports({ instanceId, afterSequence: 0 }, metadata ?? new Metadata(), {
    deadline: Date.now() + 10_000,
  })
  onTestFinished(() => call.cancel())
  return new Promise((resolve) => {
    call.on('data', (event: DeliveryReportEvent) => {
      resolve({ event })
      call.cancel()
    })
    call.on('error', (error: ServiceError) => resolve({ error }))
  })
}

describe('the gRPC socket', () => {
  it('is created with mode 0660', async () => {
    const cluster = await startCluster()
    const sidecar = await startTestSidecar(cluster)
    const path = sidecar.address.slice('unix://'.length)
    const info = await stat(path)
    expect(info.isSocket()).toBe(true)
    expect((info.mode & 0o777).toString(8)).toBe('660')
  })

  it('refuses a non-loopback listen address unless allowNonLoopback is set', async () => {
    const cluster = await startCluster()
    const refused = await startSidecar({
      brokers: cluster.bootstrapServers,
      listen: '0.0.0.0:0',
      http: null,
      logLevel: 'nothing',
    }).then(
      async (sidecar) => {
        await sidecar.stop()
        return null
      },
      (error: unknown) => error,
    )
    expect(refused).toBeInstanceOf(SidecarConfigError)
    expect((refused as SidecarConfigError).option).toBe('listen')
    expect((refused as SidecarConfigError).message).toMatch(/0\.0\.0\.0 is not a loopback address/)

    const sidecar = await startTestSidecar(cluster, { listen: '0.0.0.0:0', allowNonLoopback: true })
    const match = /^0\.0\.0\.0:(\d+)$/.exec(sidecar.address)
    expect(match, `address ${sidecar.address}`).not.toBeNull()
    const port = Number(match![1])
    expect(port).toBeGreaterThan(0)
    // It really listens on every interface: reachable through loopback, and it serves.
    const topic = randomTopic('wide')
    await cluster.createTopic({ topic, partitions: 1 })
    const client = sidecarClient(`127.0.0.1:${port}`)
    expect((await emit(client, emitRequest(topic, [{ value: bytes('x') }]))).received).toBe(true)
    expect((await cluster.records(topic)).map((r) => r.value?.toString())).toEqual(['x'])
    client.close()

    await sidecar.stop()
    const socket = createConnection(port, '127.0.0.1')
    const outcome = await new Promise<string | undefined>((resolve) => {
      socket.once('connect', () => resolve('connected'))
      socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code))
    })
    socket.destroy()
    expect(outcome, 'nothing listens after stop').toBe('ECONNREFUSED')
  })
})

describe('token authentication', () => {
  async function tokenSidecar() {
    const cluster = await startCluster()
    const topic = randomTopic('auth')
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster, { token: TOKEN })
    return { cluster, topic, sidecar, client: sidecarClient(sidecar) }
  }

  it('refuses Emit without a token or with a wrong one, accepts the right one', async () => {
    const { cluster, topic, client } = await tokenSidecar()
    // An unknown topic: with auto-creation on, a request that got past auth would create it.
    const unknown = randomTopic('never-created')

    const missing = await emitError(client, emitRequest(unknown, [{ value: bytes('no token') }]))
    expect(statusOf(missing)).toEqual({
      code: 'UNAUTHENTICATED',
      details: 'missing "authorization: Bearer <token>" metadata',
    })

    const wrong = await emitError(
      client,
      emitRequest(unknown, [{ value: bytes('wrong token') }]),
      bearer('b'.repeat(32)),
    )
    expect(statusOf(wrong)).toEqual({ code: 'UNAUTHENTICATED', details: 'invalid token' })

    // A prefix of the right token, the token without "Bearer ", and another scheme are refused too.
    const prefix = await emitError(
      client,
      emitRequest(unknown, [{ value: bytes('prefix') }]),
      bearer(TOKEN.slice(0, 31)),
    )
    expect(statusOf(prefix)?.code).toBe('UNAUTHENTICATED')
    for (const header of [TOKEN, `Basic ${TOKEN}`, `Bearer  ${TOKEN}`, `Bearer ${TOKEN} `]) {
      const metadata = new Metadata()
      metadata.set('authorization', header)
      const error = await emitError(client, emitRequest(unknown, [{ value: bytes('odd header') }]), metadata)
      expect(statusOf(error)?.code, `authorization: ${JSON.stringify(header)}`).toBe('UNAUTHENTICATED')
    }
    expect(cluster.topics()).not.toContain(unknown)

    const ack = await emit(client, emitRequest(topic, [{ value: bytes('with token') }]), bearer(TOKEN))
    expect(ack.received).toBe(true)
    expect(ack.results).toEqual([expect.objectContaining({ topic, error: undefined })])
    expect((await cluster.records(topic)).map((r) => r.value?.toString())).toEqual(['with token'])
  })

  it('refuses EmitStream, DeliveryReports and TopicMetadata without a token, and serves them with it', async () => {
    const { cluster, topic, client } = await tokenSidecar()

    const stream = await streamOnce(client, topic)
    expect(stream.ack).toBeUndefined()
    expect(statusOf(stream.error)).toEqual({
      code: 'UNAUTHENTICATED',
      details: 'missing "authorization: Bearer <token>" metadata',
    })
    const wrongStream = await streamOnce(client, topic, bearer('wrong-token-wrong-token'))
    expect(statusOf(wrongStream.error)).toEqual({ code: 'UNAUTHENTICATED', details: 'invalid token' })

    const reports = await firstReport(client, 'some-instance')
    expect(reports.event).toBeUndefined()
    expect(statusOf(reports.error)).toEqual({
      code: 'UNAUTHENTICATED',
      details: 'missing "authorization: Bearer <token>" metadata',
    })

    const meta = await topicMetadata(client, topic)
    expect(statusOf(meta.error)).toEqual({
      code: 'UNAUTHENTICATED',
      details: 'missing "authorization: Bearer <token>" metadata',
    })
    expect(await cluster.records(topic)).toEqual([])

    // With the token, each of them works.
    const okStream = await streamOnce(client, topic, bearer(TOKEN))
    expect(okStream.error).toBeUndefined()
    expect(okStream.ack).toEqual(
      expect.objectContaining({ received: true, results: [expect.objectContaining({ topic, error: undefined })] }),
    )

    const request = emitRequest(topic, [{ value: bytes('reported') }], { awaitDelivery: false })
    expect((await emit(client, request, bearer(TOKEN))).received).toBe(true)
    const okReports = await firstReport(client, request.instanceId, bearer(TOKEN))
    expect(okReports.error).toBeUndefined()
    expect(okReports.event?.event).toEqual({
      $case: 'report',
      value: expect.objectContaining({ sequence: 1, requestId: request.requestId }),
    })

    const okMeta = await topicMetadata(client, topic, bearer(TOKEN))
    expect(okMeta.error).toBeNull()
    expect(okMeta.response).toEqual({ topic, partitions: [expect.objectContaining({ partitionId: 0 })] })
    expect((await cluster.records(topic)).map((r) => r.value?.toString())).toEqual(['via stream', 'reported'])
  })

  it('answers health checks without a token', async () => {
    const { sidecar } = await tokenSidecar()
    const health = new HealthClient(grpcTarget(sidecar.address), credentials.createInsecure())
    onTestFinished(() => health.close())
    for (const service of ['', 'kafka_sidecar.v1.ProducerSidecar']) {
      const response = await new Promise((resolve, reject) =>
        health.check({ service }, (error, r) => (error ? reject(error) : resolve(r))),
      )
      expect(response, `service "${service}"`).toEqual({ status: HealthCheckResponse_ServingStatus.SERVING })
    }
  })
})

describe('topic allow-list', () => {
  async function allowListSidecar() {
    const cluster = await startCluster()
    for (const topic of ['orders', 'audit.login', 'payments']) await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster, { allowedTopics: ['orders', 'audit.*'] })
    return { cluster, sidecar, client: sidecarClient(sidecar) }
  }

  it('accepts listed topics and prefix matches, refuses others with PERMISSION_DENIED / TOPIC_AUTHORIZATION_FAILED', async () => {
    const { cluster, client } = await allowListSidecar()
    for (const topic of ['orders', 'audit.login']) {
      const ack = await emit(client, emitRequest(topic, [{ value: bytes(`to ${topic}`) }]))
      expect(ack.results, topic).toEqual([expect.objectContaining({ topic, error: undefined })])
      expect((await cluster.records(topic)).map((r) => r.value?.toString())).toEqual([`to ${topic}`])
    }

    for (const topic of ['payments', 'orders2', 'audit', 'auditlogin', 'xorders']) {
      const error = await emitError(client, emitRequest(topic, [{ value: bytes('denied') }]))
      expect(statusOf(error), topic).toEqual({
        code: 'PERMISSION_DENIED',
        details: `topic "${topic}" is not in this sidecar's allow-list`,
      })
      expect(error.metadata.get('kafka-error-name')).toEqual(['TOPIC_AUTHORIZATION_FAILED'])
      expect(error.metadata.get('kafka-error-code')).toEqual(['29'])
    }
    // Refused before any broker work: an unknown topic was not auto-created, 'payments' got nothing.
    expect(cluster.topics()).not.toContain('orders2')
    expect(await cluster.records('payments')).toEqual([])

    // One denied topic refuses the whole request: nothing of 'orders' in it is written either.
    const mixed = emitRequest('orders', [{ value: bytes('mixed') }])
    mixed.topics.push({ topic: 'payments', records: [{ value: bytes('mixed'), headers: [] }] })
    expect(statusOf(await emitError(client, mixed))?.code).toBe('PERMISSION_DENIED')
    expect((await cluster.records('orders')).map((r) => r.value?.toString())).toEqual(['to orders'])

    // EmitStream refuses in the ack, with the same error.
    const stream = await streamOnce(client, 'payments')
    expect(stream.ack).toEqual(
      expect.objectContaining({
        received: false,
        error: expect.objectContaining({
          grpcCode: status.PERMISSION_DENIED,
          kafkaErrorCode: 29,
          kafkaErrorName: 'TOPIC_AUTHORIZATION_FAILED',
        }),
      }),
    )
    expect(await cluster.records('payments')).toEqual([])
  })

  it('refuses TopicMetadata for a topic outside the allow-list', async () => {
    const { client } = await allowListSidecar()
    const denied = await topicMetadata(client, 'payments')
    expect(statusOf(denied.error)).toEqual({
      code: 'PERMISSION_DENIED',
      details: 'topic "payments" is not in this sidecar\'s allow-list',
    })
    expect(denied.error!.metadata.get('kafka-error-name')).toEqual(['TOPIC_AUTHORIZATION_FAILED'])
    const allowed = await topicMetadata(client, 'audit.login')
    expect(allowed.error).toBeNull()
    expect(allowed.response).toEqual({
      topic: 'audit.login',
      partitions: [expect.objectContaining({ partitionId: 0 })],
    })
  })
})

describe('secrets', () => {
  function collectingLogCreator(entries: LogEntry[]): LogCreator {
    return () => (entry) => void entries.push(entry)
  }

  async function fetchMetrics(sidecar: RunningSidecar): Promise<string> {
    const response = await fetch(`http://${sidecar.httpAddress}/metrics`)
    expect(response.status).toBe(200)
    return response.text()
  }

  it('never logs or exports the token or the SASL password (a cluster without SASL refuses it)', async () => {
    const cluster = await startCluster()
    const token = `tok-${randomBytes(16).toString('hex')}`
    const password = 'supersecretpassword123'
    const entries: LogEntry[] = []
    const sidecar = await startSidecar({
      brokers: cluster.bootstrapServers,
      listen: `unix://${join(await tempDir(), 'sidecar.sock')}`,
      http: '127.0.0.1:0',
      token,
      saslMechanism: 'plain',
      saslUsername: 'u',
      saslPassword: password,
      logLevel: 'debug',
      logCreator: collectingLogCreator(entries),
      shutdownTimeoutMs: 1_000,
    })
    onTestFinished(async () => {
      await sidecar.stop()
    })
    // Wait until the SASL connection attempt has failed at least once (and been logged).
    const until = Date.now() + 15_000
    while (!entries.some((e) => /cannot connect to Kafka yet/.test(String(e.log.message))) && Date.now() < until)
      await new Promise((r) => setTimeout(r, 50))
    expect(entries.map((e) => e.log.message)).toContain('cannot connect to Kafka yet, retrying')

    // Some traffic, failing and otherwise, so that request metrics and their logs exist.
    const client = sidecarClient(sidecar)
    await emitError(client, emitRequest('t', [{ value: bytes('x') }]), bearer('not-the-token-not-the-token'))
    await emitError(client, emitRequest('t', [{ value: bytes('x') }]), bearer(token))

    const metrics = await fetchMetrics(sidecar)
    expect(metrics).toMatch(/^kafka_sidecar_requests_total\{/m)
    await sidecar.stop()
    expect(entries.map((e) => e.log.message)).toContain('stopped')

    const logged = asText(entries)
    for (const secret of [token, password]) {
      expect(metrics.includes(secret), 'a secret in /metrics').toBe(false)
      expect(logged.includes(secret), 'a secret in the logs').toBe(false)
    }
  })

  it('keeps the token out of error replies, logs and metrics of a token-protected sidecar', async () => {
    const cluster = await startCluster()
    const token = `tok-${randomBytes(16).toString('hex')}`
    const entries: LogEntry[] = []
    const sidecar = await startTestSidecar(cluster, {
      token,
      logLevel: 'debug',
      logCreator: collectingLogCreator(entries),
    })
    const client = sidecarClient(sidecar)
    const topic = randomTopic('secret')
    await cluster.createTopic({ topic, partitions: 1 })

    const wrongToken = `${token.slice(0, -1)}x`
    const replies: ServiceError[] = [
      await emitError(client, emitRequest(topic, [{ value: bytes('x') }]), bearer(wrongToken)),
      await emitError(client, emitRequest(topic, [{ value: bytes('x') }])),
      await emitError(client, emitRequest('bad topic!', [{ value: bytes('x') }]), bearer(token)),
      (await topicMetadata(client, topic, bearer(wrongToken))).error!,
      (await streamOnce(client, topic, bearer(wrongToken))).error!,
    ]
    expect(replies.map((e) => status[e.code])).toEqual([
      'UNAUTHENTICATED',
      'UNAUTHENTICATED',
      'INVALID_ARGUMENT',
      'UNAUTHENTICATED',
      'UNAUTHENTICATED',
    ])
    expect((await emit(client, emitRequest(topic, [{ value: bytes('ok') }]), bearer(token))).received).toBe(true)

    for (const reply of replies) {
      const text = asText({ message: reply.message, details: reply.details, metadata: reply.metadata.getMap() })
      expect(text.includes(token), `the token in a reply: ${reply.details}`).toBe(false)
      // Nor does the sidecar echo what the client presented.
      expect(text.includes(wrongToken), `the presented token in a reply: ${reply.details}`).toBe(false)
    }
    const metrics = await fetchMetrics(sidecar)
    expect(metrics).toMatch(/kafka_sidecar_requests_total\{[^}]*code="UNAUTHENTICATED"/)
    expect(metrics.includes(token)).toBe(false)
    await sidecar.stop()
    expect(entries.length).toBeGreaterThan(0)
    expect(asText(entries).includes(token)).toBe(false)
  })
})
