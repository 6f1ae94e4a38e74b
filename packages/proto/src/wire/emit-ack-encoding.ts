/**
 * The bytes of an EmitAck, written in one pass into one buffer (protobuf-writer.ts). Every
 * send is answered with an ack, and on serial sends the generated encoder (a writer forked and
 * joined per result, BigInt for each 64-bit field, a copy into a Buffer) was 9% of the sidecar's
 * CPU. The bytes are the generated encoder's (test/wire-encoding.test.ts), so any client reads them.
 */
import { EmitAck, type Error as ErrorDetail, type PartitionResult } from '../generated/kafka_sidecar/v1/sidecar.js'
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

/** The EmitStream and Emit response serializer (the sidecar's). */
export function encodeEmitAck(ack: EmitAck): Buffer {
  if (!fits(ack)) return Buffer.from(EmitAck.encode(ack).finish())
  const errorBytes = ack.error ? errorSize(ack.error) : 0
  const resultSizes = ack.results.map(resultSize)
  let size = 0
  if (ack.requestId !== 0) size += 1 + uintSize(ack.requestId)
  if (ack.received) size += 2
  if (ack.error) size += delimitedSize(errorBytes)
  for (const s of resultSizes) size += delimitedSize(s)

  const out = new ProtobufWriter(Buffer.allocUnsafe(size))
  if (ack.requestId !== 0) out.tagged(1, ack.requestId)
  if (ack.received) out.taggedTrue(2)
  if (ack.error) {
    out.delimited(3, errorBytes)
    writeError(out, ack.error)
  }
  ack.results.forEach((result, i) => {
    out.delimited(4, resultSizes[i]!)
    writeResult(out, result)
  })
  return out.finish('EmitAck')
}

/** Whether every number is one this encoder writes and every string a string. */
function fits(ack: EmitAck): boolean {
  return isUint64(ack.requestId) && (ack.error === undefined || errorFits(ack.error)) && ack.results.every(resultFits)
}

function resultFits(r: PartitionResult): boolean {
  return (
    typeof r.topic === 'string' &&
    isInt32(r.partition) &&
    isInt64(r.baseOffset) &&
    isInt64(r.logAppendTimeMs) &&
    isInt64(r.logStartOffset) &&
    r.recordIndexes.every(isUint32) &&
    (r.error === undefined || errorFits(r.error)) &&
    isInt32(r.leaderId)
  )
}

function errorFits(e: ErrorDetail): boolean {
  return (
    isInt32(e.grpcCode) &&
    typeof e.message === 'string' &&
    isInt32(e.kafkaErrorCode) &&
    typeof e.kafkaErrorName === 'string' &&
    isUint32(e.retryAfterMs)
  )
}

function resultSize(r: PartitionResult): number {
  let size = 0
  if (r.topic !== '') size += delimitedSize(Buffer.byteLength(r.topic))
  if (r.partition !== 0) size += 1 + intSize(r.partition)
  if (r.baseOffset !== 0) size += 1 + intSize(r.baseOffset)
  if (r.logAppendTimeMs !== 0) size += 1 + intSize(r.logAppendTimeMs)
  if (r.logStartOffset !== 0) size += 1 + intSize(r.logStartOffset)
  if (r.recordIndexes.length !== 0) size += delimitedSize(packedSize(r.recordIndexes))
  if (r.error) size += delimitedSize(errorSize(r.error))
  if (r.leaderId !== 0) size += 1 + intSize(r.leaderId)
  return size
}

function writeResult(out: ProtobufWriter, r: PartitionResult): void {
  if (r.topic !== '') out.string(1, r.topic, Buffer.byteLength(r.topic))
  if (r.partition !== 0) out.taggedInt(2, r.partition)
  if (r.baseOffset !== 0) out.taggedInt(3, r.baseOffset)
  if (r.logAppendTimeMs !== 0) out.taggedInt(4, r.logAppendTimeMs)
  if (r.logStartOffset !== 0) out.taggedInt(5, r.logStartOffset)
  if (r.recordIndexes.length !== 0) {
    out.delimited(6, packedSize(r.recordIndexes))
    for (const index of r.recordIndexes) out.uint(index)
  }
  if (r.error) {
    out.delimited(7, errorSize(r.error))
    writeError(out, r.error)
  }
  if (r.leaderId !== 0) out.taggedInt(8, r.leaderId)
}

/** A packed repeated uint32: the varints, one after another. */
function packedSize(values: readonly number[]): number {
  let size = 0
  for (const v of values) size += uintSize(v)
  return size
}

function errorSize(e: ErrorDetail): number {
  let size = 0
  if (e.grpcCode !== 0) size += 1 + intSize(e.grpcCode)
  if (e.message !== '') size += delimitedSize(Buffer.byteLength(e.message))
  if (e.kafkaErrorCode !== 0) size += 1 + intSize(e.kafkaErrorCode)
  if (e.kafkaErrorName !== '') size += delimitedSize(Buffer.byteLength(e.kafkaErrorName))
  if (e.retriable) size += 2
  if (e.retryAfterMs !== 0) size += 1 + uintSize(e.retryAfterMs)
  return size
}

function writeError(out: ProtobufWriter, e: ErrorDetail): void {
  if (e.grpcCode !== 0) out.taggedInt(1, e.grpcCode)
  if (e.message !== '') out.string(2, e.message, Buffer.byteLength(e.message))
  if (e.kafkaErrorCode !== 0) out.taggedInt(3, e.kafkaErrorCode)
  if (e.kafkaErrorName !== '') out.string(4, e.kafkaErrorName, Buffer.byteLength(e.kafkaErrorName))
  if (e.retriable) out.taggedTrue(5)
  if (e.retryAfterMs !== 0) out.tagged(6, e.retryAfterMs)
}
