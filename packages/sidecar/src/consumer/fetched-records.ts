/** KafkaJS's fetched batches in the contract's terms: ConsumedRecords with their sizes. */
import type { Header } from '@kafka-sidecar/proto'
import type { Batch, IHeaders, KafkaMessage } from 'kafkajs'
import type { BufferedRecord, FetchedChunk } from './partition-feed.js'

/** What the partition feed keeps of one KafkaJS batch. */
export function fetchedChunk(batch: Batch): FetchedChunk {
  // KafkaJS's Batch has fetchedOffset at run time; its type does not declare it.
  const fetchedOffset = Number((batch as Batch & { fetchedOffset: string }).fetchedOffset)
  return {
    fetchedOffset,
    lastOffset: Number(batch.lastOffset()),
    highWatermark: Number(batch.highWatermark),
    records: batch.messages.map(bufferedRecord),
  }
}

function bufferedRecord(message: KafkaMessage): BufferedRecord {
  const headers = headerList(message.headers)
  let headerBytes = 0
  for (const h of headers) headerBytes += Buffer.byteLength(h.key) + (h.value?.length ?? 0)
  return {
    offset: Number(message.offset),
    key: message.key ?? undefined,
    value: message.value ?? undefined,
    headers,
    timestampMs: Number(message.timestamp),
    attributes: message.attributes,
    sizeBytes: message.size ?? 0,
    magicByte: (message as KafkaMessage & { magicByte?: number }).magicByte ?? 2,
    bytes: (message.key?.length ?? 0) + (message.value?.length ?? 0) + headerBytes,
  }
}

/** Shared by every record without headers (most): only the batch encoder reads it. */
const NO_HEADERS: readonly Header[] = Object.freeze([])

/** KafkaJS gives a repeated header name as an array of values; the contract repeats the header. */
function headerList(headers: IHeaders | undefined): Header[] {
  let list: Header[] | null = null
  for (const key in headers) {
    // Own names only, as Object.entries gives them (for-in also walks the prototype).
    if (!Object.hasOwn(headers, key)) continue
    const value = headers[key]
    for (const one of Array.isArray(value) ? value : [value]) {
      ;(list ??= []).push({
        key,
        value: one === null || one === undefined ? undefined : Buffer.isBuffer(one) ? one : Buffer.from(one),
      })
    }
  }
  return list ?? (NO_HEADERS as Header[])
}
