/**
 * A partition's records as a Kafka RecordBatch v2 (magic 2), the bytes KafkaJS 2.2.4's producer
 * would send for the same messages, written straight into the produce request's buffer.
 *
 * KafkaJS builds a batch from an Encoder per record and per header, grows buffers by doubling,
 * copies each level into the next and computes 64-bit varints with BigInt: at saturation that
 * encoding was most of the sidecar's busy time. Here a batch is measured first (varint sizes from
 * plain numbers), then written in one pass into one buffer, and its CRC taken in place.
 *
 * What KafkaJS decides is kept, byte for byte (the property test compares the two):
 * - no message timestamp anywhere: first and max timestamp are Date.now(), taken once per batch;
 * - otherwise the given timestamps sorted as Array#sort does (as strings), first and last;
 * - each record's timestamp delta is `(timestamp || now) - first`, offset deltas 0..n-1;
 * - headers in Object.keys order, an array value one header per element;
 * - producer id -1, epoch 0, sequence 0, not transactional (the plain producer's batch);
 * - compression through KafkaJS's own codec table, so gzip and whatever codec the application
 *   registered in CompressionCodecs compress exactly as they do for KafkaJS.
 */
import { createRequire } from 'node:module'
import type { IHeaders, Message } from 'kafkajs'
import { crc32c } from './crc32c.js'

const require = createRequire(import.meta.url)

interface KafkaJSCodec {
  compress(encoder: unknown): Promise<Buffer>
}
const { lookupCodec } = require('kafkajs/src/protocol/message/compression/index.js') as {
  lookupCodec(type: number): KafkaJSCodec | null
}
const Encoder = require('kafkajs/src/protocol/encoder.js') as new (initialSize?: number) => {
  buf: Buffer
  offset: number
  readonly buffer: Buffer
}

const COMPRESSION_CODEC_MASK = 0x07
/** firstOffset .. record count: the fixed part before the records. */
export const RECORD_BATCH_OVERHEAD = 61
/** The CRC covers attributes .. end. */
const CRC_START = 21
const MAGIC = 2

/** A partition's RecordBatch, measured and ready to write. */
export interface RecordBatchPlan {
  readonly size: number
  /** Writes the batch at `offset`; returns the offset after it. */
  writeTo(buffer: Buffer, offset: number): number
}

type Bytes = Buffer | string | null | undefined

function bytesLength(value: Bytes): number {
  if (value == null) return -1
  return Buffer.isBuffer(value) ? value.length : Buffer.byteLength(String(value))
}

/** Size of a zigzag varint (int32), as Kafka's record fields use. */
export function sizeOfVarInt(value: number): number {
  let v = ((value << 1) ^ (value >> 31)) >>> 0
  let bytes = 1
  while (v >= 0x80) {
    bytes++
    v >>>= 7
  }
  return bytes
}

/**
 * Below this magnitude a zigzag varlong is computed in doubles, exactly (its zigzag stays under
 * 2^53); above it (a timestamp delta near Number.MAX_SAFE_INTEGER) in BigInt, as KafkaJS does.
 */
const EXACT_IN_DOUBLES = 2 ** 52

function zigzag64(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1
}

function bigZigzag64(value: number): bigint {
  const v = BigInt(value)
  return BigInt.asUintN(64, (v << 1n) ^ (v >> 63n))
}

export function sizeOfVarLong(value: number): number {
  if (Math.abs(value) >= EXACT_IN_DOUBLES) {
    let v = bigZigzag64(value)
    let bytes = 1
    while (v >= 0x80n) {
      bytes++
      v >>= 7n
    }
    return bytes
  }
  let v = zigzag64(value)
  let bytes = 1
  while (v >= 0x80) {
    bytes++
    v = Math.floor(v / 0x80)
  }
  return bytes
}

function writeUVarInt(buffer: Buffer, offset: number, value: number): number {
  let v = value >>> 0
  while (v >= 0x80) {
    buffer[offset++] = (v & 0x7f) | 0x80
    v >>>= 7
  }
  buffer[offset++] = v
  return offset
}

function writeVarInt(buffer: Buffer, offset: number, value: number): number {
  return writeUVarInt(buffer, offset, (value << 1) ^ (value >> 31))
}

function writeVarLong(buffer: Buffer, offset: number, value: number): number {
  if (Math.abs(value) >= EXACT_IN_DOUBLES) {
    let big = bigZigzag64(value)
    while (big >= 0x80n) {
      buffer[offset++] = Number(big & 0x7fn) | 0x80
      big >>= 7n
    }
    buffer[offset++] = Number(big)
    return offset
  }
  let v = zigzag64(value)
  while (v >= 0x80) {
    buffer[offset++] = (v % 0x80) | 0x80
    v = Math.floor(v / 0x80)
  }
  buffer[offset++] = v
  return offset
}

/** A varint length, then the bytes (a string as UTF-8); null as length -1. */
function writeVarBytes(buffer: Buffer, offset: number, value: Bytes, length: number): number {
  offset = writeVarInt(buffer, offset, length)
  if (length <= 0) return offset
  if (Buffer.isBuffer(value)) return offset + value.copy(buffer, offset)
  return offset + buffer.write(String(value), offset, length, 'utf8')
}

/** A timestamp as KafkaJS writes an int64 (Long.fromValue): a number or a decimal string; NaN as 0. */
function toInt64(value: string | number): bigint {
  if (typeof value === 'number') return Number.isNaN(value) ? 0n : BigInt.asIntN(64, BigInt(Math.trunc(value)))
  if (value === 'NaN' || value === 'Infinity' || value === '+Infinity' || value === '-Infinity') return 0n
  return BigInt.asIntN(64, BigInt(value))
}

/** The header values of one name, as KafkaJS flattens them. */
function valuesOf(headers: IHeaders, name: string): Bytes[] {
  const value = headers[name] as Bytes | Bytes[]
  return Array.isArray(value) ? value : [value]
}

function headersSize(headers: IHeaders | undefined): { count: number; size: number } {
  if (!headers) return { count: 0, size: 0 }
  let count = 0
  let size = 0
  for (const name of Object.keys(headers)) {
    const nameLength = Buffer.byteLength(name)
    for (const value of valuesOf(headers, name)) {
      // KafkaJS fails on such a header (Buffer.byteLength of null); so does this encoder.
      if (value == null) throw new TypeError(`header "${name}" has no value (null or undefined)`)
      const valueLength = bytesLength(value)
      size += sizeOfVarInt(nameLength) + nameLength + sizeOfVarInt(valueLength) + valueLength
      count++
    }
  }
  return { count, size }
}

function writeHeaders(buffer: Buffer, offset: number, headers: IHeaders | undefined, count: number): number {
  offset = writeVarInt(buffer, offset, count)
  if (!headers) return offset
  for (const name of Object.keys(headers)) {
    const nameLength = Buffer.byteLength(name)
    for (const value of valuesOf(headers, name)) {
      offset = writeVarInt(buffer, offset, nameLength)
      offset += buffer.write(name, offset, nameLength, 'utf8')
      offset = writeVarBytes(buffer, offset, value, bytesLength(value))
    }
  }
  return offset
}

/** First and max timestamp as KafkaJS picks them: the given ones in Array#sort order (as strings), else now. */
function timestampRange(messages: readonly Message[], now: number): { first: string | number; max: string | number } {
  let first: string | number | undefined
  let max: string | number | undefined
  let firstText = ''
  let maxText = ''
  for (const { timestamp } of messages) {
    if (timestamp == null) continue
    const text = String(timestamp)
    // Strict comparisons: among equal strings sort keeps the first for `first` and the last for `max`.
    if (first === undefined || text < firstText) {
      first = timestamp
      firstText = text
    }
    if (max === undefined || text >= maxText) {
      max = timestamp
      maxText = text
    }
  }
  return first === undefined ? { first: now, max: now } : { first, max: max! }
}

/** Each record's measured parts, kept between the sizing pass and the writing pass. */
interface MeasuredRecords {
  readonly bodySizes: Int32Array
  readonly timestampDeltas: Float64Array
  readonly headerCounts: Int32Array
  readonly keyLengths: Int32Array
  readonly valueLengths: Int32Array
  readonly recordsSize: number
}

function measureRecords(messages: readonly Message[], now: number, first: number): MeasuredRecords {
  const n = messages.length
  const measured = {
    bodySizes: new Int32Array(n),
    timestampDeltas: new Float64Array(n),
    headerCounts: new Int32Array(n),
    keyLengths: new Int32Array(n),
    valueLengths: new Int32Array(n),
    recordsSize: 0,
  }
  for (let i = 0; i < n; i++) {
    const message = messages[i]!
    const delta = Number(message.timestamp || now) - first
    const keyLength = bytesLength(message.key)
    const valueLength = bytesLength(message.value)
    const headers = headersSize(message.headers)
    const body =
      1 +
      sizeOfVarLong(delta) +
      sizeOfVarInt(i) +
      sizeOfVarInt(keyLength) +
      Math.max(keyLength, 0) +
      sizeOfVarInt(valueLength) +
      Math.max(valueLength, 0) +
      sizeOfVarInt(headers.count) +
      headers.size
    measured.bodySizes[i] = body
    measured.timestampDeltas[i] = delta
    measured.headerCounts[i] = headers.count
    measured.keyLengths[i] = keyLength
    measured.valueLengths[i] = valueLength
    measured.recordsSize += sizeOfVarInt(body) + body
  }
  return measured
}

function writeRecords(buffer: Buffer, offset: number, messages: readonly Message[], m: MeasuredRecords): number {
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!
    offset = writeVarInt(buffer, offset, m.bodySizes[i]!)
    buffer[offset++] = 0 // record attributes: none defined
    offset = writeVarLong(buffer, offset, m.timestampDeltas[i]!)
    offset = writeVarInt(buffer, offset, i)
    offset = writeVarBytes(buffer, offset, message.key, m.keyLengths[i]!)
    offset = writeVarBytes(buffer, offset, message.value, m.valueLengths[i]!)
    offset = writeHeaders(buffer, offset, message.headers, m.headerCounts[i]!)
  }
  return offset
}

/** A buffer as the KafkaJS Encoder a codec's compress() takes (codecs read `encoder.buffer`). */
function asKafkaJSEncoder(buffer: Buffer): unknown {
  const encoder = new Encoder(0)
  encoder.buf = buffer
  encoder.offset = buffer.length
  return encoder
}

/**
 * Measures a partition's batch and, when compressed, compresses its records (the codec is
 * asynchronous); the batch is written later, by writeTo, where the request wants it.
 */
export async function planRecordBatch(
  messages: readonly Message[],
  compression: number = 0,
  now: number = Date.now(),
): Promise<RecordBatchPlan> {
  const { first, max } = timestampRange(messages, now)
  const measured = measureRecords(messages, now, Number(first))
  let compressed: Buffer | null = null
  if (compression !== 0) {
    const codec = lookupCodec(compression)
    const records = Buffer.allocUnsafe(measured.recordsSize)
    writeRecords(records, 0, messages, measured)
    compressed = await codec!.compress(asKafkaJSEncoder(records))
  }
  const size = RECORD_BATCH_OVERHEAD + (compressed ? compressed.length : measured.recordsSize)
  const writeTo = (buffer: Buffer, start: number): number => {
    buffer.writeBigInt64BE(0n, start) // first offset: the broker assigns offsets
    buffer.writeInt32BE(size - 12, start + 8)
    buffer.writeInt32BE(0, start + 12) // partition leader epoch
    buffer.writeInt8(MAGIC, start + 16)
    buffer.writeInt16BE(compression & COMPRESSION_CODEC_MASK, start + CRC_START)
    buffer.writeInt32BE(messages.length - 1, start + 23)
    buffer.writeBigInt64BE(toInt64(first), start + 27)
    buffer.writeBigInt64BE(toInt64(max), start + 35)
    buffer.writeBigInt64BE(-1n, start + 43) // producer id: none
    buffer.writeInt16BE(0, start + 51) // producer epoch
    buffer.writeInt32BE(0, start + 53) // first sequence
    buffer.writeInt32BE(messages.length, start + 57)
    const end = compressed
      ? start + RECORD_BATCH_OVERHEAD + compressed.copy(buffer, start + RECORD_BATCH_OVERHEAD)
      : writeRecords(buffer, start + RECORD_BATCH_OVERHEAD, messages, measured)
    buffer.writeUInt32BE(crc32c(buffer, start + CRC_START, end), start + 17)
    return end
  }
  return { size, writeTo }
}
