/**
 * The contract is usable from any language: a client that knows only the .proto file and sends
 * a topic with key, headers and value (no instance_id, client_id or request_id) is served. With
 * no delivery-report stream to learn outcomes from, it is answered after the brokers (issue 12:
 * such a request used to be refused "instance_id is required"). The client here is built at run
 * time by @grpc/proto-loader from packages/proto/proto, not from the generated TypeScript.
 */
import { readFile } from 'node:fs/promises'
import {
  credentials,
  loadPackageDefinition,
  Metadata,
  status,
  type ClientDuplexStream,
  type ServiceError,
} from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'
import { PROTO_DIR } from '@kafka-sidecar/proto/proto-files'
import { describe, expect, it, onTestFinished } from 'vitest'
import {
  consumeWithKafkaJS,
  grpcTarget,
  randomTopic,
  startCluster,
  startTestSidecar,
} from '@kafka-sidecar/test-support'

/**
 * What a dynamic client sees with the options most proto-loader users pick: field names as in
 * the .proto, 64-bit numbers as strings (a field left at 0 on the wire comes back as the number 0).
 */
interface Ack {
  request_id: string | number
  received: boolean
  error: { grpc_code: number; message: string } | null
  results: Array<{
    topic: string
    partition: number
    base_offset: string | number
    record_indexes: number[]
    leader_id: number
    error: unknown
  }>
}

interface DynamicClient {
  emit(request: object, metadata: Metadata, callback: (error: ServiceError | null, ack: Ack) => void): void
  emitStream(): ClientDuplexStream<object, Ack>
  deliveryReports(request: object): NodeJS.EventEmitter
  close(): void
}

function dynamicClient(address: string): DynamicClient {
  const definition = loadSync('kafka_sidecar/v1/sidecar.proto', {
    includeDirs: [PROTO_DIR],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  })
  const loaded = loadPackageDefinition(definition) as unknown as {
    kafka_sidecar: {
      v1: {
        ProducerSidecar: new (target: string, creds: ReturnType<typeof credentials.createInsecure>) => DynamicClient
      }
    }
  }
  const client = new loaded.kafka_sidecar.v1.ProducerSidecar(grpcTarget(address), credentials.createInsecure())
  onTestFinished(() => client.close())
  return client
}

function emit(client: DynamicClient, request: object): Promise<Ack> {
  return new Promise((resolve, reject) =>
    client.emit(request, new Metadata(), (error, ack) => (error ? reject(error) : resolve(ack))),
  )
}

async function world(partitions = 3) {
  const cluster = await startCluster()
  const topic = randomTopic('generic')
  await cluster.createTopic({ topic, partitions })
  const sidecar = await startTestSidecar(cluster)
  return { cluster, topic, sidecar, client: dynamicClient(sidecar.address) }
}

describe('a generic gRPC client (proto-loader, the .proto file only)', () => {
  it('Emit with only topic, key, headers and value: answered after the brokers with the partition result', async () => {
    const { cluster, topic, client } = await world()
    const ack = await emit(client, {
      topics: [
        {
          topic,
          records: [
            {
              key: Buffer.from('order-42'),
              value: Buffer.from('{"total":42}'),
              headers: [{ key: 'source', value: Buffer.from('generic') }],
            },
          ],
        },
      ],
    })
    expect(ack).toMatchObject({ received: true, error: null })
    expect(String(ack.request_id)).toBe('0')
    expect(ack.results).toHaveLength(1)
    const [result] = ack.results
    expect(result).toMatchObject({ topic, record_indexes: [0], error: null })
    expect(String(result!.base_offset)).toBe('0')
    expect(result!.leader_id).toBe(cluster.offsets(topic)[result!.partition]!.leaderId)

    const [message] = await consumeWithKafkaJS(cluster, topic, 1)
    expect({
      key: message!.key!.toString(),
      value: message!.value!.toString(),
      source: message!.headers!.source!.toString(),
      offset: message!.offset,
    }).toEqual({
      key: 'order-42',
      value: '{"total":42}',
      source: 'generic',
      offset: '0',
    })
    expect(cluster.offsets(topic)[result!.partition]!.highWatermark).toBe(1)
  })

  it('EmitStream without instance_id: each request answered after the brokers, by its request_id', async () => {
    const { cluster, topic, client } = await world(1)
    const call = client.emitStream()
    onTestFinished(() => call.cancel())
    const acks: Ack[] = []
    const ended = new Promise<void>((resolve, reject) => {
      call.on('data', (ack: Ack) => acks.push(ack))
      call.on('end', resolve)
      call.on('error', reject)
    })
    for (const id of [1, 2, 3])
      call.write({ request_id: id, topics: [{ topic, records: [{ value: Buffer.from(`stream-${id}`) }] }] })
    call.end()
    await ended
    expect(
      acks
        .map((a) => [
          String(a.request_id),
          a.received,
          a.results.map((r) => [r.partition, String(r.base_offset), r.record_indexes]),
        ])
        .sort(),
    ).toEqual([
      ['1', true, [[0, '0', [0]]]],
      ['2', true, [[0, '1', [0]]]],
      ['3', true, [[0, '2', [0]]]],
    ])
    expect((await cluster.records(topic)).map((r) => r.value!.toString())).toEqual(['stream-1', 'stream-2', 'stream-3'])
  })

  it('acks NONE without instance_id: answered once queued, with no results, as KafkaJS resolves at once', async () => {
    const { cluster, topic, client } = await world(1)
    const ack = await emit(client, {
      acks: 'ACKS_NONE',
      topics: [{ topic, records: [{ value: Buffer.from('fire and forget') }] }],
    })
    expect(ack).toMatchObject({ received: true, results: [] })
    await consumeWithKafkaJS(cluster, topic, 1)
  })

  it('DeliveryReports still needs an instance_id: reports are kept per instance', async () => {
    const { client } = await world(1)
    const call = client.deliveryReports({ after_sequence: 1 })
    const error = await new Promise<ServiceError>((resolve) => call.on('error', resolve))
    expect({ code: error.code, details: error.details }).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'instance_id is required',
    })
  })

  it('the grpcurl request in docs/sidecar.md is served as documented', async () => {
    const { cluster, sidecar } = await world(1)
    const doc = await readFile(new URL('../../../docs/sidecar.md', import.meta.url), 'utf8')
    const command =
      /^grpcurl -plaintext -unix -d '(.+)' \\\n\s+\/tmp\/kafka-sidecar\.sock kafka_sidecar\.v1\.ProducerSidecar\/Emit$/m.exec(
        doc,
      )
    expect(command, 'the grpcurl command in docs/sidecar.md').not.toBeNull()
    // proto-loader reads proto3 JSON's base64 strings for bytes fields, as grpcurl does.
    const request = JSON.parse(command![1]!) as { topics: Array<{ topic: string }> }
    await cluster.createTopic({ topic: request.topics[0]!.topic, partitions: 1 })
    const ack = await emit(dynamicClient(sidecar.address), request)
    expect(ack).toMatchObject({ received: true, results: [{ topic: 'orders', partition: 0, record_indexes: [0] }] })
    const [record] = await cluster.records('orders')
    expect({
      key: record!.key!.toString(),
      value: record!.value!.toString(),
      headers: record!.headers.map((h) => [h.key, h.value!.toString()]),
    }).toEqual({
      key: 'order-42',
      value: '{"total": 42}',
      headers: [['source', 'grpcurl']],
    })
  })
})
