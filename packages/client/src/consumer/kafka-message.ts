/**
 * A record from the sidecar as the message KafkaJS 2.2.4 hands to eachMessage / eachBatch: offset
 * and timestamp as strings, key and value Buffers or null, headers by name with Buffer values (a
 * repeated name becomes an array, in order), the same keys in the same order. KafkaJS's decoder
 * makes two shapes: record batches (magic byte 2, with headers) and the legacy message sets (0 and
 * 1, with `size` and no headers); so does this.
 */
import type { ConsumedRecord, Header } from '@kafka-sidecar/proto'
import type { IHeaders, KafkaMessage } from 'kafkajs'

/** A view over the received bytes, not a copy (KafkaJS's decoder slices its buffer too). */
function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

function optionalBuffer(bytes: Uint8Array | undefined): Buffer | null {
  return bytes === undefined ? null : toBuffer(bytes)
}

/** KafkaJS's reduction of a record's header list: the first value alone, the second makes an array. */
export function toKafkaJSHeaders(headers: readonly Header[]): IHeaders {
  const result: Record<string, Buffer | null | Array<Buffer | null>> = {}
  for (const { key, value } of headers) {
    const buffer = optionalBuffer(value)
    const seen = result[key]
    if (seen === undefined) result[key] = buffer
    else result[key] = Array.isArray(seen) ? [...seen, buffer] : [seen, buffer]
  }
  // KafkaJS's IHeaders omits null, which its decoder nevertheless gives for a null header value.
  return result as IHeaders
}

export function toKafkaMessage(record: ConsumedRecord): KafkaMessage {
  const timestamp = String(record.timestampMs)
  const offset = String(record.offset)
  const key = optionalBuffer(record.key)
  const value = optionalBuffer(record.value)
  if (record.magicByte < 2) {
    return {
      offset,
      size: record.sizeBytes,
      magicByte: record.magicByte,
      attributes: record.attributes,
      timestamp,
      key,
      value,
    } as KafkaMessage
  }
  // Messages a handler sees are never control records: KafkaJS and the sidecar filter them out.
  return {
    magicByte: record.magicByte,
    attributes: record.attributes,
    timestamp,
    offset,
    key,
    value,
    headers: toKafkaJSHeaders(record.headers),
    isControlRecord: false,
  } as KafkaMessage
}
