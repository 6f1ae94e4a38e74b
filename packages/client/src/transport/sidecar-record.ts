/**
 * KafkaJS messages as the sidecar contract carries them. Conversion follows KafkaJS's own
 * encoder: null/undefined key or value is null, a Buffer is sent as is, a string as UTF-8.
 * Anything else fails the send with the TypeError KafkaJS's encoder gives (it measures the value
 * with Buffer.byteLength first), and so does a null header value, which KafkaJS cannot encode.
 * Headers keep repeated names (KafkaJS's array values).
 */
import type { Header, SidecarRecord } from '@kafka-sidecar/proto'
import type { IHeaders, Message } from 'kafkajs'

function encodable(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value
  if (typeof value !== 'string') Buffer.byteLength(value as string) // throws KafkaJS's TypeError for numbers, null, objects
  return Buffer.from(String(value), 'utf8')
}

export function toBytes(value: unknown): Buffer | undefined {
  return value === null || value === undefined ? undefined : encodable(value)
}

function toHeaders(headers: IHeaders | undefined): Header[] {
  if (!headers) return []
  const out: Header[] = []
  for (const key of Object.keys(headers)) {
    const value = headers[key]
    if (Array.isArray(value)) for (const v of value) out.push({ key, value: encodable(v) })
    else out.push({ key, value: encodable(value) })
  }
  return out
}

/**
 * `now`: the send's Date.now(), the CreateTime of a message without a timestamp of its own, as
 * KafkaJS stamps the application's clock when it builds the batch (it treats a falsy timestamp,
 * 0 included, as none), so the record's time falls within the send, whoever encodes it.
 */
export function toSidecarRecord(message: Message, now: number): SidecarRecord {
  const record: SidecarRecord = {
    key: toBytes(message.key),
    value: toBytes(message.value),
    headers: toHeaders(message.headers),
  }
  if (message.partition !== undefined && message.partition !== null) record.partition = message.partition
  record.timestampMs = message.timestamp ? Number(message.timestamp) : now
  return record
}

/** Bytes a record tag, a length and a varint field add, at most, besides the key, value and headers. */
const RECORD_FIXED_BYTES = 40
/** Bytes a header adds besides its name and value, at most. */
const HEADER_FIXED_BYTES = 18

/** Encoded bytes of a record in an EmitRequest, at most: for the coalescing and request limits. */
export function recordBytes(record: SidecarRecord): number {
  let size = RECORD_FIXED_BYTES + (record.key?.length ?? 0) + (record.value?.length ?? 0)
  for (const h of record.headers) size += HEADER_FIXED_BYTES + Buffer.byteLength(h.key) + (h.value?.length ?? 0)
  return size
}
