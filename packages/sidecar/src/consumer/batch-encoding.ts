/**
 * The wire bytes of a ConsumeEvent holding a Batch, written in one pass into one buffer. The
 * generated encoder (ts-proto over @bufbuild/protobuf's BinaryWriter) forks and joins a writer per
 * record, copying every key and value twice, and goes through its int64 conversions: with the
 * records' conversion it was the larger share of the sidecar's CPU in a backlog, larger than
 * KafkaJS's own decoding. Here the sizes are summed first, then every field is written once. The
 * bytes are the generated encoder's, field by field (consumer-batch-encoding.test.ts checks it), so
 * any protobuf decoder reads them.
 */
import {
  ConsumeEvent,
  intSize,
  ProtobufWriter,
  uintSize,
  type Batch,
  type ConsumedRecord,
  type Header,
} from '@kafka-sidecar/proto'

/** ConsumeEvent.batch is field 4, length-delimited. */
const EVENT_BATCH_TAG = (4 << 3) | 2

/** The Consume stream's serializer: batches written here, the other events by the generated encoder. */
export function serializeConsumeEvent(event: ConsumeEvent): Buffer {
  return event.event?.$case === 'batch'
    ? encodeBatchEvent(event.event.value)
    : Buffer.from(ConsumeEvent.encode(event).finish())
}

/** A batch event's bytes, as ConsumeEvent.encode({ event: { $case: 'batch', value } }).finish() writes them. */
export function encodeBatchEvent(batch: Batch): Buffer {
  const topicBytes = Buffer.byteLength(batch.topic)
  const recordSizes = batch.records.map(recordSize)
  let size = 0
  if (batch.batchId !== 0) size += 1 + uintSize(batch.batchId)
  if (topicBytes !== 0) size += 1 + uintSize(topicBytes) + topicBytes
  if (batch.partition !== 0) size += 1 + intSize(batch.partition)
  if (batch.assignmentId !== 0) size += 1 + uintSize(batch.assignmentId)
  if (batch.highWatermark !== 0) size += 1 + intSize(batch.highWatermark)
  for (const s of recordSizes) size += 1 + uintSize(s) + s
  if (batch.lastOffset !== 0) size += 1 + intSize(batch.lastOffset)
  if (batch.redelivered !== 0) size += 1 + uintSize(batch.redelivered)
  if (batch.rewinds !== 0) size += 1 + uintSize(batch.rewinds)

  const out = new ProtobufWriter(Buffer.allocUnsafe(1 + uintSize(size) + size))
  out.byte(EVENT_BATCH_TAG)
  out.uint(size)
  if (batch.batchId !== 0) out.tagged(1, batch.batchId)
  if (topicBytes !== 0) out.string(2, batch.topic, topicBytes)
  if (batch.partition !== 0) out.taggedInt(3, batch.partition)
  if (batch.assignmentId !== 0) out.tagged(4, batch.assignmentId)
  if (batch.highWatermark !== 0) out.taggedInt(5, batch.highWatermark)
  batch.records.forEach((record, i) => {
    out.byte((6 << 3) | 2)
    out.uint(recordSizes[i]!)
    writeRecord(out, record)
  })
  if (batch.lastOffset !== 0) out.taggedInt(7, batch.lastOffset)
  if (batch.redelivered !== 0) out.tagged(8, batch.redelivered)
  if (batch.rewinds !== 0) out.tagged(9, batch.rewinds)
  return out.finish('ConsumeEvent batch')
}

function recordSize(r: ConsumedRecord): number {
  let size = 0
  if (r.offset !== 0) size += 1 + intSize(r.offset)
  if (r.key !== undefined) size += 1 + uintSize(r.key.length) + r.key.length
  if (r.value !== undefined) size += 1 + uintSize(r.value.length) + r.value.length
  for (const h of r.headers) {
    const s = headerSize(h)
    size += 1 + uintSize(s) + s
  }
  if (r.timestampMs !== 0) size += 1 + intSize(r.timestampMs)
  if (r.attributes !== 0) size += 1 + intSize(r.attributes)
  if (r.sizeBytes !== 0) size += 1 + intSize(r.sizeBytes)
  if (r.magicByte !== 0) size += 1 + intSize(r.magicByte)
  return size
}

function writeRecord(out: ProtobufWriter, r: ConsumedRecord): void {
  if (r.offset !== 0) out.taggedInt(1, r.offset)
  if (r.key !== undefined) out.bytes(2, r.key)
  if (r.value !== undefined) out.bytes(3, r.value)
  for (const h of r.headers) {
    out.byte((4 << 3) | 2)
    out.uint(headerSize(h))
    const keyBytes = Buffer.byteLength(h.key)
    if (keyBytes !== 0) out.string(1, h.key, keyBytes)
    if (h.value !== undefined) out.bytes(2, h.value)
  }
  if (r.timestampMs !== 0) out.taggedInt(5, r.timestampMs)
  if (r.attributes !== 0) out.taggedInt(6, r.attributes)
  if (r.sizeBytes !== 0) out.taggedInt(7, r.sizeBytes)
  if (r.magicByte !== 0) out.taggedInt(8, r.magicByte)
}

function headerSize(h: Header): number {
  const keyBytes = Buffer.byteLength(h.key)
  let size = keyBytes !== 0 ? 1 + uintSize(keyBytes) + keyBytes : 0
  if (h.value !== undefined) size += 1 + uintSize(h.value.length) + h.value.length
  return size
}
