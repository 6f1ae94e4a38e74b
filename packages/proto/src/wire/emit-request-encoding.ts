/**
 * The bytes of an EmitRequest, written in one pass into one buffer (protobuf-writer.ts). The
 * client writes one per send; the generated encoder forks and joins a writer per topic, record
 * and header, copies every key and value twice and converts the 64-bit fields through BigInt: 10%
 * of a client's CPU on serial sends. The bytes are the generated encoder's
 * (test/wire-encoding.test.ts), so any sidecar reads them.
 */
import { EmitRequest, type Header, type Record, type TopicRecords } from '../generated/kafka_sidecar/v1/sidecar.js'
import {
  delimitedSize,
  intSize,
  isInt32,
  isInt64,
  isUint32,
  isUint64,
  ProtobufWriter,
  uintSize,
} from './protobuf-writer.js'

/** The EmitStream and Emit request serializer (the client's). */
export function encodeEmitRequest(request: EmitRequest): Buffer {
  if (!fits(request)) return Buffer.from(EmitRequest.encode(request).finish())
  const sizes = new Sizes()
  const topicSizes = request.topics.map((t) => topicSize(t, sizes))
  const stringBytes = (s: string) => (s === '' ? 0 : Buffer.byteLength(s))
  const clientId = stringBytes(request.clientId)
  const appName = stringBytes(request.appName)
  const instanceId = stringBytes(request.instanceId)
  let size = 0
  if (request.requestId !== 0) size += 1 + uintSize(request.requestId)
  if (clientId !== 0) size += delimitedSize(clientId)
  if (appName !== 0) size += delimitedSize(appName)
  if (instanceId !== 0) size += delimitedSize(instanceId)
  if (request.acks !== 0) size += 1 + intSize(request.acks)
  if (request.timeoutMs !== undefined) size += 1 + uintSize(request.timeoutMs)
  if (request.compression !== 0) size += 1 + intSize(request.compression)
  if (request.awaitDelivery) size += 2
  for (const s of topicSizes) size += delimitedSize(s)
  if (request.allowAutoTopicCreation !== undefined) size += 2
  if (request.orderEpoch !== undefined) size += 1 + uintSize(request.orderEpoch)
  if (request.idempotent !== undefined) size += 2
  if (request.reportsFromAck !== undefined) size += 2

  const out = new ProtobufWriter(Buffer.allocUnsafe(size))
  if (request.requestId !== 0) out.tagged(1, request.requestId)
  if (clientId !== 0) out.string(2, request.clientId, clientId)
  if (appName !== 0) out.string(3, request.appName, appName)
  if (instanceId !== 0) out.string(4, request.instanceId, instanceId)
  if (request.acks !== 0) out.taggedInt(5, request.acks)
  if (request.timeoutMs !== undefined) out.tagged(6, request.timeoutMs)
  if (request.compression !== 0) out.taggedInt(7, request.compression)
  if (request.awaitDelivery) out.taggedTrue(8)
  request.topics.forEach((topic, i) => {
    out.delimited(9, topicSizes[i]!)
    writeTopic(out, topic, sizes)
  })
  if (request.allowAutoTopicCreation !== undefined) out.taggedBool(10, request.allowAutoTopicCreation)
  if (request.orderEpoch !== undefined) out.tagged(11, request.orderEpoch)
  if (request.idempotent !== undefined) out.taggedBool(12, request.idempotent)
  if (request.reportsFromAck !== undefined) out.taggedBool(13, request.reportsFromAck)
  return out.finish('EmitRequest')
}

/** Whether every number is one this encoder writes, every string a string and every byte field bytes. */
function fits(r: EmitRequest): boolean {
  return (
    isUint64(r.requestId) &&
    isInt32(r.acks) &&
    isInt32(r.compression) &&
    (r.timeoutMs === undefined || isUint32(r.timeoutMs)) &&
    (r.orderEpoch === undefined || isUint64(r.orderEpoch)) &&
    typeof r.clientId === 'string' &&
    typeof r.appName === 'string' &&
    typeof r.instanceId === 'string' &&
    r.topics.every((t) => typeof t.topic === 'string' && t.records.every(recordFits))
  )
}

function recordFits(r: Record): boolean {
  return (
    (r.key === undefined || r.key instanceof Uint8Array) &&
    (r.value === undefined || r.value instanceof Uint8Array) &&
    (r.partition === undefined || isInt32(r.partition)) &&
    (r.timestampMs === undefined || isInt64(r.timestampMs)) &&
    r.headers.every((h) => typeof h.key === 'string' && (h.value === undefined || h.value instanceof Uint8Array))
  )
}

/**
 * Topic name lengths and record sizes in the order they are written: summed once while the
 * request's size is summed, taken back in the same order while writing. (A header is small: its
 * size is summed again where it is written.)
 */
class Sizes {
  private readonly list: number[] = []
  private next = 0

  add(size: number): number {
    this.list.push(size)
    return size
  }

  take(): number {
    return this.list[this.next++]!
  }
}

function topicSize(topic: TopicRecords, sizes: Sizes): number {
  let size = topic.topic === '' ? 0 : delimitedSize(sizes.add(Buffer.byteLength(topic.topic)))
  for (const record of topic.records) size += delimitedSize(sizes.add(recordSize(record)))
  return size
}

function writeTopic(out: ProtobufWriter, topic: TopicRecords, sizes: Sizes): void {
  if (topic.topic !== '') out.string(1, topic.topic, sizes.take())
  for (const record of topic.records) {
    out.delimited(2, sizes.take())
    writeRecord(out, record)
  }
}

function recordSize(r: Record): number {
  let size = 0
  if (r.key !== undefined) size += delimitedSize(r.key.length)
  if (r.value !== undefined) size += delimitedSize(r.value.length)
  for (const h of r.headers) size += delimitedSize(headerSize(h))
  if (r.partition !== undefined) size += 1 + intSize(r.partition)
  if (r.timestampMs !== undefined) size += 1 + intSize(r.timestampMs)
  return size
}

function writeRecord(out: ProtobufWriter, r: Record): void {
  if (r.key !== undefined) out.bytes(1, r.key)
  if (r.value !== undefined) out.bytes(2, r.value)
  for (const h of r.headers) {
    out.delimited(3, headerSize(h))
    if (h.key !== '') out.string(1, h.key, Buffer.byteLength(h.key))
    if (h.value !== undefined) out.bytes(2, h.value)
  }
  if (r.partition !== undefined) out.taggedInt(4, r.partition)
  if (r.timestampMs !== undefined) out.taggedInt(5, r.timestampMs)
}

function headerSize(h: Header): number {
  let size = h.key === '' ? 0 : delimitedSize(Buffer.byteLength(h.key))
  if (h.value !== undefined) size += delimitedSize(h.value.length)
  return size
}
