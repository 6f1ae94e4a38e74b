/**
 * EmitRequest.order_epoch: once the sidecar refuses a request on a stream, it refuses (ABORTED)
 * every later request of the same or an older epoch on that stream, so a producer's retry of the
 * refused request cannot land behind something it had already pipelined. Refusals come back in
 * request order even when an earlier request waits for topic metadata.
 */
import { Client, credentials, Metadata, Server, ServerCredentials, status } from '@grpc/grpc-js'
import { EmitAck, EmitRequest, ProducerSidecarService, type Acks } from '@kafka-sidecar/proto'
import { describe, expect, it, onTestFinished } from 'vitest'
import { grpcTarget, randomTopic, startCluster, startTestSidecar, waitFor } from '@kafka-sidecar/test-support'
import { bytes, emit, emitRequest, sidecarClient } from './helpers.js'
import type { RunningSidecar } from '../src/index.js'
import { TokenAuth } from '../src/grpc/auth.js'
import { OpenStreams } from '../src/grpc/open-streams.js'
import { producerService, type ProducerServiceDeps } from '../src/grpc/producer-service.js'
import { TestStream } from './stream-helpers.js'

const instanceId = 'barrier-instance'

describe('order barrier on a stream (order_epoch)', () => {
  it('refuses what was pipelined after a refusal as ABORTED until the epoch moves on, and queues none of it', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)
    const stream = new TestStream(sidecarClient(sidecar))
    const send = (value: string, epoch: number, target = topic) =>
      stream.send(emitRequest(target, [{ value: bytes(value) }], { instanceId, orderEpoch: epoch }))

    const first = send('first', 1)
    const refused = send('bad topic', 1, 'not a valid topic!')
    const pipelined = [send('pipelined-1', 1), send('pipelined-2', 1)]
    const retried = send('retried', 2)

    expect((await first).received).toBe(true)
    expect((await refused).error).toMatchObject({ grpcCode: status.INVALID_ARGUMENT })
    for (const ack of await Promise.all(pipelined)) {
      expect(ack.received).toBe(false)
      expect(ack.error).toMatchObject({ grpcCode: status.ABORTED, retriable: true })
      expect(ack.error!.message).toMatch(
        /earlier request on this stream \(order_epoch 1\) was refused.*order_epoch > 1/,
      )
    }
    expect((await retried).received).toBe(true)
    expect((await cluster.records(topic)).map((r) => r.value!.toString())).toEqual(['first', 'retried'])
    // Refusals arrive in request order, the cause before what it aborted.
    const refusalOrder = stream.acks.filter((a) => !a.received).map((a) => a.error!.grpcCode)
    expect(refusalOrder).toEqual([status.INVALID_ARGUMENT, status.ABORTED, status.ABORTED])
  })

  it('decides in arrival order while an earlier request waits for metadata, so a later refusal never overtakes it', async () => {
    const cluster = await startCluster()
    const slowTopic = randomTopic('first-use')
    await cluster.createTopic({ topic: slowTopic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)
    const stream = new TestStream(sidecarClient(sidecar))
    // slowTopic's metadata is not cached yet: its request waits for a Metadata round trip, and the
    // invalid request behind it must still be decided (and answered) after it. (await_delivery
    // false: the first ack says "queued", so the acks' order is the decisions' order.)
    const waiting = stream.send(
      emitRequest(slowTopic, [{ value: bytes('needs metadata') }], { instanceId, orderEpoch: 1, awaitDelivery: false }),
    )
    const invalid = stream.send(emitRequest('', [{ value: bytes('no topic') }], { instanceId, orderEpoch: 1 }))
    expect((await waiting).received).toBe(true)
    expect((await invalid).error).toMatchObject({ grpcCode: status.INVALID_ARGUMENT })
    expect(stream.acks.map((a) => a.received)).toEqual([true, false])
  })

  it('queues nothing more from a stream its client cancelled while an earlier request was still being decided', async () => {
    // The service on a real grpc-js server, over a pipeline whose first admission waits until the
    // test says (as a request waiting for topic metadata does), so the cancel lands in between.
    let releaseFirst!: () => void
    const submitted: string[] = []
    const pipeline = {
      submit(request: { records: ReadonlyArray<{ value: Buffer | null }> }) {
        const value = request.records[0]!.value!.toString()
        submitted.push(value)
        const tracker = { request, settled: new Promise(() => {}) }
        return value === 'first'
          ? new Promise((resolve) => (releaseFirst = () => resolve(tracker)))
          : Promise.resolve(tracker)
      },
    }
    const codes: string[] = []
    const server = new Server()
    server.addService(
      ProducerSidecarService,
      producerService(
        {
          pipeline,
          reports: {},
          metadata: { leaderOf: () => 1 },
          auth: new TokenAuth(null),
          allowedTopics: [],
          onRequest: (_method: string, code: status) => void codes.push(status[code]),
        } as unknown as ProducerServiceDeps,
        new OpenStreams(),
      ),
    )
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, p) =>
        error ? reject(error) : resolve(p),
      ),
    )
    onTestFinished(() => void server.forceShutdown())
    const stream = new TestStream(sidecarClient(`127.0.0.1:${port}`))
    void stream.send(emitRequest('t', [{ value: bytes('first') }], { instanceId, orderEpoch: 1, awaitDelivery: false }))
    void stream.send(
      emitRequest('t', [{ value: bytes('second') }], { instanceId, orderEpoch: 1, awaitDelivery: false }),
    )
    await waitFor('the first request to reach admission', () => submitted.length === 1)
    stream.call.cancel()
    await new Promise((resolve) => setTimeout(resolve, 200)) // the cancel reaches the server
    releaseFirst()
    await waitFor('the second request to be decided', () => codes.includes('CANCELLED'))
    expect(submitted).toEqual(['first'])
  })

  it('raises the barrier for an oversized request too, reading its epoch without decoding it', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster, { maxRequestBytes: 10_000 })
    const stream = new TestStream(sidecarClient(sidecar))
    const oversized = stream.send(emitRequest(topic, [{ value: Buffer.alloc(20_000) }], { instanceId, orderEpoch: 7 }))
    const after = stream.send(emitRequest(topic, [{ value: bytes('after') }], { instanceId, orderEpoch: 7 }))
    const nextEpoch = stream.send(emitRequest(topic, [{ value: bytes('next epoch') }], { instanceId, orderEpoch: 8 }))
    expect((await oversized).error).toMatchObject({
      grpcCode: status.INVALID_ARGUMENT,
      kafkaErrorName: 'MESSAGE_TOO_LARGE',
    })
    expect((await after).error).toMatchObject({ grpcCode: status.ABORTED })
    expect((await nextEpoch).received).toBe(true)
    expect((await cluster.records(topic)).map((r) => r.value!.toString())).toEqual(['next epoch'])
  })

  it('raises the barrier for undecodable bytes at the epoch read from them', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)
    const { write, ackFor } = rawStream(sidecar)
    // A valid request (order_epoch 3, written last) followed by a truncated field: the decoder
    // refuses it, the scan still reads request_id and the epoch.
    const good = Buffer.from(
      EmitRequest.encode(
        emitRequest(topic, [{ value: bytes('x') }], { instanceId, orderEpoch: 3, requestId: 4242 }),
      ).finish(),
    )
    write(Buffer.concat([good, Buffer.from([0x92, 0x01, 0x05, 0x01])]))
    const after = emitRequest(topic, [{ value: bytes('after') }], { instanceId, orderEpoch: 3 })
    const next = emitRequest(topic, [{ value: bytes('next') }], { instanceId, orderEpoch: 4 })
    write(after)
    write(next)
    const refused = await ackFor(4242)
    expect(refused.error).toMatchObject({
      grpcCode: status.INVALID_ARGUMENT,
      message: expect.stringMatching(/^malformed EmitRequest: /),
    })
    expect((await ackFor(after.requestId)).error).toMatchObject({ grpcCode: status.ABORTED })
    expect((await ackFor(next.requestId)).received).toBe(true)
    expect((await cluster.records(topic)).map((r) => r.value!.toString())).toEqual(['next'])
  })

  it('reads the epoch of undecodable bytes past a 10-byte varint (a negative enum), so what was pipelined behind it is still ABORTED', async () => {
    // Found by the fuzzer (fuzz.test.ts): the scan gave up at the first varint longer than 8
    // bytes, assumed the epoch after the highest seen (1 on a fresh stream) and queued an
    // epoch-2 request that the producer had pipelined behind its refused epoch-2 request.
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)
    const { write, ackFor } = rawStream(sidecar)
    // acks -1 is a legal int32 on the wire, 10 bytes long, and comes before order_epoch (field 11).
    const negativeEnum = Buffer.from(
      EmitRequest.encode(
        emitRequest(topic, [{ value: bytes('x') }], { instanceId, acks: -1 as Acks, orderEpoch: 2, requestId: 4343 }),
      ).finish(),
    )
    write(Buffer.concat([negativeEnum, Buffer.from([0x0d])])) // then a fixed32 field cut short
    const pipelined = emitRequest(topic, [{ value: bytes('pipelined') }], { instanceId, orderEpoch: 2 })
    const retried = emitRequest(topic, [{ value: bytes('retried') }], { instanceId, orderEpoch: 3 })
    write(pipelined)
    write(retried)
    expect((await ackFor(4343)).error).toMatchObject({
      grpcCode: status.INVALID_ARGUMENT,
      message: expect.stringMatching(/^malformed EmitRequest: /),
    })
    expect((await ackFor(pipelined.requestId)).error).toMatchObject({
      grpcCode: status.ABORTED,
      message: expect.stringContaining('(order_epoch 2) was refused'),
    })
    expect((await ackFor(retried.requestId)).received).toBe(true)
    expect((await cluster.records(topic)).map((r) => r.value!.toString())).toEqual(['retried'])
  })

  it('never holds up requests that opt out with epoch 0, on streams or unary calls', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)
    const client = sidecarClient(sidecar)
    const stream = new TestStream(client)
    const refused = stream.send(emitRequest('not valid!', [{ value: bytes('bad') }], { instanceId }))
    const after = stream.send(emitRequest(topic, [{ value: bytes('after') }], { instanceId }))
    expect((await refused).received).toBe(false)
    expect((await after).received).toBe(true)
    // Unary calls have no stream, hence no barrier, whatever epoch they carry.
    const unary = await emit(client, emitRequest(topic, [{ value: bytes('unary') }], { instanceId, orderEpoch: 1 }))
    expect(unary.received).toBe(true)
  })
})

/** An EmitStream that writes raw bytes or encoded requests, so one stream carries both; acks by request id. */
function rawStream(sidecar: RunningSidecar): {
  write(message: Buffer | EmitRequest): void
  ackFor(requestId: number): Promise<EmitAck>
} {
  const raw = new Client(grpcTarget(sidecar.address), credentials.createInsecure())
  onTestFinished(() => raw.close())
  const call = raw.makeBidiStreamRequest(
    '/kafka_sidecar.v1.ProducerSidecar/EmitStream',
    (m: Buffer | EmitRequest) => (Buffer.isBuffer(m) ? m : Buffer.from(EmitRequest.encode(m).finish())),
    (b: Buffer) => EmitAck.decode(b),
    new Metadata(),
  )
  call.on('error', () => {})
  onTestFinished(() => call.cancel())
  const acks = new Map<number, EmitAck>()
  const arrived = new Set<() => void>()
  call.on('data', (ack: EmitAck) => {
    acks.set(ack.requestId, ack)
    for (const check of arrived) check()
  })
  const ackFor = (requestId: number) =>
    new Promise<EmitAck>((resolve) => {
      const check = () => acks.has(requestId) && (arrived.delete(check), resolve(acks.get(requestId)!))
      arrived.add(check)
      check()
    })
  return { write: (message) => void call.write(message), ackFor }
}
