/**
 * Record batches (magic v2), the unit Kafka stores and serves. The broker does not re-encode
 * batches: it validates the header and CRC, assigns offsets by patching `baseOffset` (outside the
 * CRC'd range), stores the bytes, and serves them to consumers as they were produced. Decoding
 * the records themselves is only needed for uncompressed validation and for test assertions.
 */
import { gunzipSync } from 'node:zlib'
import { crc32c } from './crc32c.js'
import { ErrorCode, type ErrorCodeValue } from './error-codes.js'
import { ProtocolDecodeError, Reader } from './reader.js'
import { Writer } from './writer.js'

/** Bytes before the first record: baseOffset(8) batchLength(4) ... recordCount(4). */
export const BATCH_HEADER_SIZE = 61
/** batchLength counts from partitionLeaderEpoch on, i.e. the frame minus baseOffset and itself. */
const LENGTH_PREFIX = 12
const CRC_OFFSET = 17
const CRC_COVERED_FROM = 21

export const Compression = { NONE: 0, GZIP: 1, SNAPPY: 2, LZ4: 3, ZSTD: 4 } as const
const COMPRESSION_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd']
const TIMESTAMP_TYPE_LOG_APPEND = 0x08
const TRANSACTIONAL = 0x10
const CONTROL = 0x20

export interface BatchHeader {
  readonly baseOffset: number
  readonly batchLength: number
  readonly magic: number
  readonly attributes: number
  readonly compression: number
  readonly lastOffsetDelta: number
  readonly baseTimestamp: number
  readonly maxTimestamp: number
  readonly producerId: number
  readonly producerEpoch: number
  readonly baseSequence: number
  readonly recordCount: number
  readonly isTransactional: boolean
  readonly isControl: boolean
}

export interface Header {
  readonly key: string
  readonly value: Buffer | null
}

export interface DecodedRecord {
  readonly offset: number
  readonly timestamp: number
  readonly key: Buffer | null
  readonly value: Buffer | null
  readonly headers: readonly Header[]
}

/** A batch the broker refuses, with the Kafka error code that says why. */
export class InvalidBatchError extends Error {
  override name = 'InvalidBatchError'
  constructor(
    readonly errorCode: ErrorCodeValue,
    message: string,
  ) {
    super(message)
  }
}

export function compressionName(codec: number): string {
  return COMPRESSION_NAMES[codec] ?? `unknown(${codec})`
}

export function readBatchHeader(bytes: Buffer, at = 0): BatchHeader {
  if (bytes.length - at < BATCH_HEADER_SIZE) {
    throw new InvalidBatchError(
      ErrorCode.CORRUPT_MESSAGE,
      `record batch of ${bytes.length - at} bytes is shorter than its ${BATCH_HEADER_SIZE}-byte header`,
    )
  }
  const attributes = bytes.readInt16BE(at + 21)
  return {
    baseOffset: Number(bytes.readBigInt64BE(at)),
    batchLength: bytes.readInt32BE(at + 8),
    magic: bytes.readInt8(at + 16),
    attributes,
    compression: attributes & 0x07,
    lastOffsetDelta: bytes.readInt32BE(at + 23),
    baseTimestamp: Number(bytes.readBigInt64BE(at + 27)),
    maxTimestamp: Number(bytes.readBigInt64BE(at + 35)),
    producerId: Number(bytes.readBigInt64BE(at + 43)),
    producerEpoch: bytes.readInt16BE(at + 51),
    baseSequence: bytes.readInt32BE(at + 53),
    recordCount: bytes.readInt32BE(at + 57),
    isTransactional: (attributes & TRANSACTIONAL) !== 0,
    isControl: (attributes & CONTROL) !== 0,
  }
}

/**
 * Validates the record data of one partition in a Produce request (v3+: exactly one batch of
 * magic 2), the way a broker does before appending. Throws InvalidBatchError with Kafka's code.
 */
export function validateProducedBatch(data: Buffer): BatchHeader {
  const header = readBatchHeader(data)
  if (header.magic !== 2) {
    throw new InvalidBatchError(
      ErrorCode.INVALID_RECORD,
      `record batch magic ${header.magic} is not supported; produce v3+ requires magic 2`,
    )
  }
  const frameLength = header.batchLength + LENGTH_PREFIX
  if (header.batchLength < BATCH_HEADER_SIZE - LENGTH_PREFIX || frameLength > data.length) {
    throw new InvalidBatchError(
      ErrorCode.CORRUPT_MESSAGE,
      `record batch length ${header.batchLength} does not match the ${data.length} bytes sent`,
    )
  }
  if (frameLength !== data.length) {
    throw new InvalidBatchError(
      ErrorCode.INVALID_RECORD,
      'produce requests must carry exactly one record batch per partition',
    )
  }
  const expected = data.readUInt32BE(CRC_OFFSET)
  const actual = crc32c(data, CRC_COVERED_FROM, frameLength)
  if (expected !== actual) {
    throw new InvalidBatchError(
      ErrorCode.CORRUPT_MESSAGE,
      `record batch CRC mismatch: header says ${expected}, content is ${actual}`,
    )
  }
  if (header.compression !== Compression.NONE && header.compression !== Compression.GZIP) {
    throw new InvalidBatchError(
      ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
      `compression codec ${compressionName(header.compression)} is not supported by embedded-kafka (none and gzip are)`,
    )
  }
  // Only transaction coordinators write markers; a client that could would end others' transactions.
  if (header.isControl)
    throw new InvalidBatchError(ErrorCode.INVALID_RECORD, 'clients are not allowed to write control records')
  if (header.recordCount <= 0 || header.lastOffsetDelta !== header.recordCount - 1) {
    throw new InvalidBatchError(
      ErrorCode.INVALID_RECORD,
      `record batch claims ${header.recordCount} records with lastOffsetDelta ${header.lastOffsetDelta}`,
    )
  }
  // Like Kafka, read every record before appending (decompressing if needed), so a batch whose
  // records do not parse is refused now instead of reaching consumers garbled.
  try {
    walkRecords(header, recordBody(data, header), null)
  } catch (error) {
    if (error instanceof ProtocolDecodeError)
      throw new InvalidBatchError(ErrorCode.CORRUPT_MESSAGE, `record batch records are malformed: ${error.message}`)
    throw error
  }
  return header
}

function recordBody(batch: Buffer, header: BatchHeader): Buffer {
  const body = batch.subarray(BATCH_HEADER_SIZE, header.batchLength + LENGTH_PREFIX)
  if (header.compression === Compression.NONE) return body
  if (header.compression !== Compression.GZIP) {
    throw new InvalidBatchError(
      ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
      `cannot decode ${compressionName(header.compression)} batches`,
    )
  }
  try {
    return gunzipSync(body)
  } catch (error) {
    throw new ProtocolDecodeError(`gzip payload does not decompress: ${(error as Error).message}`)
  }
}

/**
 * Reads `header.recordCount` records from `body`, checking every length and that nothing is left
 * over. With `out`, also materializes them (copies, since `body` may be a socket buffer); without,
 * it only validates, allocating nothing per record.
 */
function walkRecords(header: BatchHeader, body: Buffer, out: DecodedRecord[] | null): void {
  const logAppendTime = (header.attributes & TIMESTAMP_TYPE_LOG_APPEND) !== 0
  const reader = new Reader(body)
  const bytesOrNull = (length: number): Buffer | null => {
    if (length < -1) throw new ProtocolDecodeError(`negative length ${length}`)
    if (length === -1) return null
    const view = reader.bytesOf(length)
    return out ? Buffer.from(view) : view
  }
  for (let i = 0; i < header.recordCount; i++) {
    const length = reader.varint()
    if (length < 0 || length > reader.remaining)
      throw new ProtocolDecodeError(`record ${i} claims ${length} bytes, ${reader.remaining} left`)
    const end = reader.offset + length
    reader.int8() // record attributes: unused by the v2 format
    let timestampDelta = 0
    if (out) timestampDelta = reader.varlong()
    else reader.skipVarlong()
    const offsetDelta = reader.varint()
    if (offsetDelta !== i) throw new ProtocolDecodeError(`record ${i} has offset delta ${offsetDelta}`)
    const key = bytesOrNull(reader.varint())
    const value = bytesOrNull(reader.varint())
    const headerCount = reader.varint()
    if (headerCount < 0) throw new ProtocolDecodeError(`record ${i} has ${headerCount} headers`)
    const headers: Header[] = []
    for (let h = 0; h < headerCount; h++) {
      const nameLength = reader.varint()
      if (nameLength < 0) throw new ProtocolDecodeError(`record ${i} header ${h} has a null name`)
      const name = reader.utf8(nameLength)
      const headerValue = bytesOrNull(reader.varint())
      if (out) headers.push({ key: name, value: headerValue })
    }
    if (reader.offset !== end) throw new ProtocolDecodeError(`record ${i} length ${length} does not match its fields`)
    out?.push({
      offset: header.baseOffset + offsetDelta,
      timestamp: logAppendTime ? header.maxTimestamp : header.baseTimestamp + timestampDelta,
      key,
      value,
      headers,
    })
  }
  if (reader.remaining !== 0)
    throw new ProtocolDecodeError(`${reader.remaining} bytes follow the batch's ${header.recordCount} records`)
}

/** Stamps broker-assigned fields; both lie outside the CRC'd range, so the CRC stays valid. */
export function assignBaseOffset(batch: Buffer, baseOffset: number, leaderEpoch = 0): void {
  batch.writeBigInt64BE(BigInt(baseOffset), 0)
  batch.writeInt32BE(leaderEpoch, 12)
}

/** Decodes every record of one stored batch (decompressing gzip). For assertions and tools. */
export function decodeBatchRecords(batch: Buffer): DecodedRecord[] {
  const header = readBatchHeader(batch)
  if (header.isControl) return []
  const out: DecodedRecord[] = []
  walkRecords(header, recordBody(batch, header), out)
  return out
}

/** Control record types (ControlRecordType.json): what a transaction marker says about the transaction. */
export const ControlRecordType = { ABORT: 0, COMMIT: 1 } as const
export type ControlRecordTypeValue = (typeof ControlRecordType)[keyof typeof ControlRecordType]

export interface ControlMarker {
  readonly type: ControlRecordTypeValue
  readonly coordinatorEpoch: number
}

export interface ControlBatchSpec extends ControlMarker {
  readonly producerId: number
  readonly producerEpoch: number
  readonly timestamp: number
}

/**
 * A transaction marker as Kafka's coordinator writes it: a batch with the control and
 * transactional attribute bits and one record whose key is (version 0, type) and whose value is
 * (version 0, coordinator epoch). Consumers use it to close the producer's transaction: KafkaJS
 * recognises an abort by its 4-byte key. The base offset is 0 until the log assigns one.
 */
export function encodeControlBatch(spec: ControlBatchSpec): { bytes: Buffer; header: BatchHeader } {
  const key = new Writer(4).int16(0).int16(spec.type).view()
  const value = new Writer(6).int16(0).int32(spec.coordinatorEpoch).view()
  const record = new Writer(32)
  record.int8(0).varlong(0).varint(0) // attributes, timestamp delta, offset delta
  record.varint(key.length).raw(key).varint(value.length).raw(value).varint(0) // no headers
  const body = record.view()

  const batch = new Writer(BATCH_HEADER_SIZE + body.length + 1)
  batch.int64(0) // base offset: assigned on append
  const lengthAt = batch.offset
  batch.int32(0) // batch length, patched below
  batch.int32(0) // partition leader epoch
  batch.int8(2) // magic
  batch.int32(0) // CRC, written once the covered bytes are final
  batch.int16(CONTROL | TRANSACTIONAL)
  batch.int32(0) // last offset delta: one record
  batch.int64(spec.timestamp).int64(spec.timestamp)
  batch.int64(spec.producerId).int16(spec.producerEpoch)
  batch.int32(-1) // base sequence: markers are not sequenced
  batch.int32(1) // record count
  batch.varint(body.length).raw(body)
  batch.patchInt32(lengthAt, batch.offset - LENGTH_PREFIX)
  const bytes = Buffer.from(batch.view())
  bytes.writeUInt32BE(crc32c(bytes, CRC_COVERED_FROM, bytes.length), CRC_OFFSET)
  return { bytes, header: readBatchHeader(bytes) }
}

/** The marker carried by a stored control batch, or null for a data batch. */
export function readControlMarker(batch: Buffer): ControlMarker | null {
  const header = readBatchHeader(batch)
  if (!header.isControl) return null
  const reader = new Reader(batch.subarray(BATCH_HEADER_SIZE, header.batchLength + LENGTH_PREFIX))
  reader.varint() // record length
  reader.int8()
  reader.skipVarlong()
  reader.varint()
  const key = new Reader(reader.bytesOf(reader.varint()))
  const value = new Reader(reader.bytesOf(reader.varint()))
  key.int16() // key version
  const type = key.int16()
  if (type !== ControlRecordType.ABORT && type !== ControlRecordType.COMMIT)
    throw new ProtocolDecodeError(`unknown control record type ${type}`)
  value.int16() // value version
  return { type, coordinatorEpoch: value.int32() }
}
