/**
 * Header names are whatever a client sends, Object.prototype's keys included. A send whose second
 * record had a header named `constructor` used to throw inside admission after its memory was
 * reserved and its first record queued: the client fell back and wrote that record twice, and
 * the reservation leaked until every client got RESOURCE_EXHAUSTED (issue 12).
 */
import { status } from '@grpc/grpc-js'
import type { Header, SidecarRecord } from '@kafka-sidecar/proto'
import type { EmbeddedRecord } from '@kafka-sidecar/embedded-kafka'
import type { IHeaders, Message } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { consumeWithKafkaJS, randomTopic, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import { bytes, emit, emitRequest, gauge, kafkajsProducer, sidecarClient } from './helpers.js'

/**
 * Headers as an application gets them from JSON.parse: every name an own property, `__proto__`
 * included, which is exactly what a direct KafkaJS producer then writes (it encodes Object.keys).
 */
const HEADER_CASES: readonly string[] = [
  '{"constructor":"c"}',
  '{"toString":"t"}',
  '{"hasOwnProperty":"h"}',
  '{"__proto__":"p"}',
  '{"valueOf":"v","isPrototypeOf":"i","__defineGetter__":"d"}',
  '{"constructor":["c1","c2"],"__proto__":["p1","p2","p3"]}',
  '{"trace":"1","constructor":"c","toString":["t1","t2"],"plain":["a","b"],"__proto__":"p","hasOwnProperty":"h"}',
]

/** A plain record first: the bug struck at the second record, after the first was queued. */
function messages(): Message[] {
  return [
    { key: 'plain', value: 'no headers' },
    ...HEADER_CASES.map((json, i) => ({ key: `k${i}`, value: `v${i}`, headers: JSON.parse(json) as IHeaders })),
  ]
}

/** KafkaJS's own flattening of a headers object (Object.keys; arrays are repeated names), as the contract carries it. */
function protoHeaders(headers: IHeaders | undefined): Header[] {
  if (!headers) return []
  return Object.keys(headers).flatMap((key) => {
    const value = headers[key]!
    return (Array.isArray(value) ? value : [value]).map((v) => ({ key, value: Buffer.from(v) }))
  })
}

function protoRecords(list: Message[]): SidecarRecord[] {
  return list.map((m) => ({
    key: bytes(m.key as string),
    value: bytes(m.value as string),
    headers: protoHeaders(m.headers),
    partition: 0,
  }))
}

function wire(record: EmbeddedRecord) {
  return {
    key: record.key?.toString('hex'),
    value: record.value?.toString('hex'),
    headers: record.headers.map((h) => [h.key, h.value?.toString('hex') ?? null]),
  }
}

describe('header names that are Object.prototype keys', () => {
  it('round-trip through the sidecar byte for byte as direct KafkaJS writes them, and read back alike with a KafkaJS consumer', async () => {
    const cluster = await startCluster()
    const [ours, theirs] = [randomTopic('sidecar'), randomTopic('direct')]
    await cluster.createTopic({ topic: ours, partitions: 1 })
    await cluster.createTopic({ topic: theirs, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)
    const direct = await kafkajsProducer(cluster)

    const ack = await emit(sidecarClient(sidecar), emitRequest(ours, protoRecords(messages())))
    expect(ack.results.map((r) => [r.baseOffset, r.recordIndexes, r.error])).toEqual([
      [0, messages().map((_, i) => i), undefined],
    ])
    await direct.send({ topic: theirs, messages: messages() })

    const got = (await cluster.records(ours)).map(wire)
    const want = (await cluster.records(theirs)).map(wire)
    expect(got).toEqual(want)
    // What direct KafkaJS writes, spelled out for the mixed case: every name, in Object.keys order.
    expect(want.at(-1)!.headers.map(([key]) => key)).toEqual([
      'trace',
      'constructor',
      'toString',
      'toString',
      'plain',
      'plain',
      '__proto__',
      'hasOwnProperty',
    ])
    expect(want.map((r) => r.headers.length)).toEqual([0, 1, 1, 1, 1, 3, 5, 8])

    const [read, readDirect] = await Promise.all([
      consumeWithKafkaJS(cluster, ours, messages().length),
      consumeWithKafkaJS(cluster, theirs, messages().length),
    ])
    const view = (list: typeof read) => list.map((m) => ({ key: m.key, value: m.value, headers: m.headers }))
    expect(view(read)).toEqual(view(readDirect))
    expect(await gauge(sidecar, 'kafka_sidecar_queue_bytes')).toBe(0)
    expect(await gauge(sidecar, 'kafka_sidecar_queue_records')).toBe(0)
  })

  it('1,000 such sends in a row neither fail nor leak the memory budget', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    // A leak of one record per send would exhaust this budget halfway through.
    const sidecar = await startTestSidecar(cluster, {
      maxQueuedRecords: 500,
      maxQueuedBytes: 200_000,
      maxQueuedBytesPerPartition: 200_000,
      maxRecordBytes: 10_000,
    })
    const client = sidecarClient(sidecar)
    const records = protoRecords(messages().slice(0, 2))
    for (let i = 0; i < 1_000; i++) {
      const ack = await emit(client, emitRequest(topic, records)).catch((error: { code: number; details: string }) => {
        throw new Error(`send ${i} failed: ${status[error.code]} ${error.details}`)
      })
      expect(ack.results[0]?.error).toBeUndefined()
    }
    expect(await gauge(sidecar, 'kafka_sidecar_queue_bytes')).toBe(0)
    expect((await cluster.records(topic)).length).toBe(2_000)
  }, 120_000)
})
