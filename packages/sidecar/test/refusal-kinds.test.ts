/**
 * The sidecar's refusals, read the way the client reads them. A client decides from the gRPC code
 * alone whether the path failed (the records go another way, directly to Kafka) or the records
 * were judged (the caller gets the error a broker would have given): the contract's
 * PATH_FAILURE_CODES. A sidecar that answered a verdict with a path-failure code would have its
 * verdict bypassed (an allow-list refusal written directly anyway); a path failure answered as a
 * verdict would fail sends that direct Kafka would have taken. Each refusal here is provoked on a
 * real sidecar and its code checked against the contract's classification.
 */
import { Metadata, status } from '@grpc/grpc-js'
import { isPathFailureCode, KafkaErrors } from '@kafka-sidecar/proto'
import { randomTopic, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import { describe, expect, it } from 'vitest'
import { bearer, bytes, emit, emitError, emitRequest, sidecarClient } from './helpers.js'
import { TestStream } from './stream-helpers.js'

type Kind = 'verdict on the records' | 'path failure'

function kindOf(grpcCode: number): Kind {
  return isPathFailureCode(grpcCode) ? 'path failure' : 'verdict on the records'
}

describe('refusal kinds: every refusal the sidecar makes, classified by the contract as the client reads it', () => {
  it('answers what it judges of the records with verdict codes, and the Kafka error a broker would give', async () => {
    const cluster = await startCluster({ autoCreateTopics: false })
    const allowed = randomTopic('allowed')
    await cluster.createTopic({ topic: allowed, partitions: 1 })
    const sidecar = await startTestSidecar(cluster, {
      allowedTopics: [`${allowed}*`, 'absent-*'],
      token: 'secret-of-the-pod-1234',
    })
    const client = sidecarClient(sidecar)
    const auth = bearer('secret-of-the-pod-1234')
    const cases: Array<[string, Promise<{ code: number; kafka?: string }>, number, string | undefined]> = [
      [
        'invalid topic name',
        refusalOf(client, emitRequest('bad topic!', [{ value: bytes('x') }]), auth),
        status.INVALID_ARGUMENT,
        KafkaErrors.INVALID_TOPIC_EXCEPTION.name,
      ],
      [
        'topic outside the allow-list',
        refusalOf(client, emitRequest('elsewhere', [{ value: bytes('x') }]), auth),
        status.PERMISSION_DENIED,
        KafkaErrors.TOPIC_AUTHORIZATION_FAILED.name,
      ],
      [
        'topic the brokers do not have',
        refusalOf(client, emitRequest(`absent-${randomTopic()}`, [{ value: bytes('x') }]), auth),
        status.NOT_FOUND,
        KafkaErrors.UNKNOWN_TOPIC_OR_PARTITION.name,
      ],
      ['no records', refusalOf(client, emitRequest(allowed, []), auth), status.INVALID_ARGUMENT, undefined],
      [
        'wrong token',
        refusalOf(client, emitRequest(allowed, [{ value: bytes('x') }]), bearer('wrong')),
        status.UNAUTHENTICATED,
        undefined,
      ],
    ]
    for (const [what, answer, code, kafka] of cases) {
      const refusal = await answer
      expect({ what, code: refusal.code, kafka: refusal.kafka }).toEqual({ what, code, kafka })
      expect({ what, kind: kindOf(refusal.code) }).toEqual({ what, kind: 'verdict on the records' })
    }
  })

  it('answers a full sidecar with a verdict to wait (RESOURCE_EXHAUSTED), not a path failure', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster, { maxQueuedRecords: 2, requestTimeoutMs: 5_000 })
    const client = sidecarClient(sidecar)
    await emit(client, emitRequest(topic, [{ value: bytes('warm') }]))
    await cluster.stopBrokers() // nothing drains: what is accepted stays held
    const stream = new TestStream(client)
    const held = stream.send(emitRequest(topic, [{ value: bytes('held-1') }, { value: bytes('held-2') }]))
    const full = (await stream.send(emitRequest(topic, [{ value: bytes('one too many') }]))).error!
    expect(full.grpcCode).toBe(status.RESOURCE_EXHAUSTED)
    expect(kindOf(full.grpcCode)).toBe('verdict on the records')
    await cluster.startBrokers()
    expect((await held).results.every((r) => r.error === undefined)).toBe(true)
  })

  it('answers what it did not look at (written behind a refusal, shutting down) with path-failure codes', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)
    const client = sidecarClient(sidecar)
    const stream = new TestStream(client)
    const refused = stream.send(emitRequest('', [{ value: bytes('no topic') }], { orderEpoch: 1 }))
    const behind = stream.send(emitRequest(topic, [{ value: bytes('behind') }], { orderEpoch: 1 }))
    expect(kindOf((await refused).error!.grpcCode)).toBe('verdict on the records')
    const aborted = (await behind).error!
    expect(aborted.grpcCode).toBe(status.ABORTED)
    expect(kindOf(aborted.grpcCode)).toBe('path failure')

    const stopping = sidecar.stop()
    const late = await refusalOf(client, emitRequest(topic, [{ value: bytes('late') }]))
    await stopping
    expect(kindOf(late.code)).toBe('path failure')
    expect(await cluster.records(topic)).toEqual([])
  })
})

/** The unary Emit's refusal: its gRPC code, and the Kafka error name the trailers carry. */
async function refusalOf(
  client: ReturnType<typeof sidecarClient>,
  request: ReturnType<typeof emitRequest>,
  metadata = new Metadata(),
): Promise<{ code: number; kafka?: string }> {
  const error = await emitError(client, request, metadata)
  const kafka = error.metadata?.get('kafka-error-name')[0]
  return { code: error.code, kafka: kafka === undefined ? undefined : String(kafka) }
}
