/**
 * The sidecar's own Produce request encoder (KAFKA_SIDECAR_PRODUCE_ENCODER=sidecar) against
 * KafkaJS's (kafkajs), end to end: a real sidecar in front of embedded-kafka over TCP, each
 * scenario run once per encoder, and everything observable compared: the acks (offsets, errors),
 * the records the brokers hold (keys, values, headers, timestamps, partitions, offsets) and their
 * batches (compression, counts, producer fields). Each scenario also checks that the sidecar
 * encoder really sent (DirectBatchSender) and that the outcome is the one expected, so two equally
 * broken runs cannot pass.
 */
import { status } from '@grpc/grpc-js'
import type { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import { Compression, KafkaErrors, type EmitAck, type EmitRequest, type SidecarRecord } from '@kafka-sidecar/proto'
import { randomTopic, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import { CompressionCodecs, CompressionTypes } from 'kafkajs'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import type { ProduceEncoder } from '../src/config.js'
import { DirectBatchSender } from '../src/kafka/direct-batch-sender.js'
import { bytes, emit, emitRequest, sidecarClient } from './helpers.js'

/** What a scenario observed, with the topic name and the send time taken out. */
interface Outcome {
  readonly acks: unknown[]
  readonly records: unknown[]
  readonly batches: unknown[]
  readonly directSends: number
}

/** A record as the brokers hold it; a timestamp stamped by the producer (none given) as "now". */
function storedRecords(
  records: Awaited<ReturnType<EmbeddedKafka['records']>>,
  sentFrom: number,
  sentTo: number,
): unknown[] {
  return records.map((r) => ({
    ...r,
    topic: 'T',
    timestamp: r.timestamp >= sentFrom && r.timestamp <= sentTo ? 'now' : r.timestamp,
  }))
}

/** An ack without its request id and topic, results in a stable order. */
function ackShape(ack: EmitAck): unknown {
  return {
    ...ack,
    requestId: 0,
    results: ack.results
      .map((r) => ({ ...r, topic: 'T', logAppendTimeMs: r.logAppendTimeMs > 0 ? 'set' : r.logAppendTimeMs }))
      .sort((a, b) => a.partition - b.partition),
  }
}

/** Runs `scenario` with a fresh cluster and sidecar using `encoder`; returns what it saw. */
async function observe(
  encoder: ProduceEncoder,
  scenario: (ctx: { cluster: EmbeddedKafka; topic: string; send: (r: EmitRequest) => Promise<void> }) => Promise<void>,
  clusterOptions: Parameters<typeof startCluster>[0] = {},
  sidecarOptions: Parameters<typeof startTestSidecar>[1] = {},
): Promise<Outcome> {
  const directSends = vi.spyOn(DirectBatchSender.prototype, 'sendBatch')
  onTestFinished(() => directSends.mockRestore())
  const cluster = await startCluster({ brokers: 3, ...clusterOptions })
  const topic = randomTopic()
  await cluster.createTopic({ topic, partitions: 3, replicationFactor: 3 })
  const sidecar = await startTestSidecar(cluster, { produceEncoder: encoder, ...sidecarOptions })
  const client = sidecarClient(sidecar)
  const acks: unknown[] = []
  const sentFrom = Date.now()
  await scenario({
    cluster,
    topic,
    send: async (request) => {
      try {
        const ack = await emit(client, request)
        acks.push(ackShape(ack))
      } catch (error) {
        const { code, details } = error as { code: number; details: string }
        acks.push({ refused: code, details: details.replaceAll(request.topics[0]!.topic, 'T') })
      }
    },
  })
  const sentTo = Date.now()
  const outcome = {
    acks,
    records: storedRecords(await cluster.records(topic), sentFrom, sentTo),
    batches: cluster.batches(topic).map((b) => ({ ...b, topic: 'T' })),
    directSends: directSends.mock.calls.length,
  }
  await sidecar.stop()
  directSends.mockRestore()
  return outcome
}

/** Both encoders' outcomes; the sidecar one must have used DirectBatchSender, the other not. */
async function compare(...args: Parameters<typeof observe> extends [unknown, ...infer R] ? R : never) {
  const [kafkajs, sidecar] = [await observe('kafkajs', ...args), await observe('sidecar', ...args)]
  expect(kafkajs.directSends).toBe(0)
  expect(sidecar.directSends).toBeGreaterThan(0)
  expect({ ...sidecar, directSends: 0 }).toEqual({ ...kafkajs, directSends: 0 })
  return sidecar
}

const header = (key: string, value: string) => ({ key, value: bytes(value) })

/** Keys null and binary, empty values, repeated and unicode header names, timestamps given and not. */
function varied(partition: number): Array<Partial<SidecarRecord>> {
  return [
    { value: bytes('plain'), partition },
    { key: Buffer.from([0, 255, 7]), value: Buffer.alloc(0), partition, timestampMs: 1_700_000_000_001 },
    {
      key: bytes('k'),
      value: bytes('with headers'),
      partition,
      headers: [header('trace', 'a'), header('été-ü', 'b'), header('trace', 'c'), header('0', 'n'), header('h', '')],
    },
    { key: bytes('old'), value: bytes('x'.repeat(300)), partition, timestampMs: 1_600_000_000_000 },
  ]
}

describe('the sidecar produce encoder, against KafkaJS encoding, through a real sidecar', () => {
  it('writes the same records, offsets, headers and timestamps, uncompressed and gzip, acks -1, 1 and 0', async () => {
    const outcome = await compare(async ({ topic, send }) => {
      await send(emitRequest(topic, varied(1), { acks: 0, compression: Compression.COMPRESSION_GZIP }))
      await send(emitRequest(topic, varied(2), { acks: 0 }))
      await send(emitRequest(topic, [...varied(0), ...varied(1)]))
      await send(emitRequest(topic, varied(2), { compression: Compression.COMPRESSION_GZIP }))
      // Answered after the acks 0 batches of the same partitions, on the same connections: they are stored.
      await send(emitRequest(topic, [...varied(0), ...varied(1), ...varied(2)], { acks: 1 }))
    })
    expect(outcome.records).toHaveLength(32)
    expect(outcome.acks).toHaveLength(5)
    expect(outcome.batches.map((b) => (b as { compression: string }).compression)).toContain('gzip')
  })

  it('gives the same answers to a record over the brokers’ message.max.bytes, beside a partition that is written', async () => {
    const outcome = await compare(
      async ({ topic, send }) => {
        await send(
          emitRequest(topic, [
            { value: bytes('fits'), partition: 0 },
            { value: Buffer.alloc(3_000, 1), partition: 1 },
          ]),
        )
      },
      { maxMessageBytes: 2_000 },
    )
    const [ack] = outcome.acks as Array<{ results: Array<{ partition: number; error?: { kafkaErrorCode: number } }> }>
    expect(ack!.results.find((r) => r.partition === 0)!.error).toBeUndefined()
    expect(ack!.results.find((r) => r.partition === 1)!.error?.kafkaErrorCode).toBe(KafkaErrors.MESSAGE_TOO_LARGE.code)
  })

  it('retries the same way when the leader broker stops: the records land on the new leader', async () => {
    const outcome = await compare(async ({ cluster, topic, send }) => {
      await send(emitRequest(topic, varied(0)))
      const leader = cluster.offsets(topic).find((p) => p.partition === 0)!.leaderId
      await cluster.stopBroker(leader)
      await send(emitRequest(topic, varied(0)))
    })
    expect(outcome.records).toHaveLength(8)
  })

  it('refuses a topic the brokers do not have the same way', async () => {
    const outcome = await compare(
      async ({ topic, send }) => {
        await send(emitRequest(topic, [{ value: bytes('x'), partition: 0 }]))
        await send(emitRequest(randomTopic(), [{ value: bytes('x') }]))
      },
      {},
      { allowAutoTopicCreation: false },
    )
    expect(outcome.acks[1]).toMatchObject({ refused: status.NOT_FOUND })
  })
})

describe('an application-registered codec', () => {
  it('compresses the batches the sidecar encodes, as it does for KafkaJS, and they read back', async () => {
    // The application's codec, in the GZIP slot (embedded-kafka reads none and gzip only): gzip
    // at another level, counted, so the bytes stored are the codec's own output.
    const codecs = CompressionCodecs as unknown as Record<number, () => unknown>
    const original = codecs[CompressionTypes.GZIP]!
    const { gzipSync, gunzipSync } = await import('node:zlib')
    let compressed = 0
    codecs[CompressionTypes.GZIP] = () => ({
      compress: async (encoder: { buffer: Buffer }) => {
        compressed++
        return gzipSync(encoder.buffer, { level: 1 })
      },
      decompress: async (buffer: Buffer) => gunzipSync(buffer),
    })
    onTestFinished(() => void (codecs[CompressionTypes.GZIP] = original))
    const outcome = await compare(async ({ topic, send }) => {
      await send(emitRequest(topic, varied(1), { compression: Compression.COMPRESSION_GZIP }))
    })
    expect(compressed).toBe(2)
    expect(outcome.records).toHaveLength(4)
  })
})
