/**
 * grpc-js answers a request its deserializer cannot decode with INTERNAL "Error deserializing
 * request": a status that says "server bug" and names nothing. The client sent bad bytes, so the
 * sidecar wraps each request deserializer: a failure becomes a marker the handler turns into
 * INVALID_ARGUMENT with the decoder's reason (and, on a stream, an error ack that keeps the
 * stream open).
 */
import type { ServiceDefinition } from '@grpc/grpc-js'
import { strictReader, type BinaryReader } from '@kafka-sidecar/proto'

const DECODE_ERROR = Symbol('decode error')

export interface UndecodableRequest {
  readonly [DECODE_ERROR]: string
  /** Set when the request was refused for its size: it is read, but not decoded. */
  readonly oversized?: boolean
  /** Field 1 (request_id) when it could be read, so a stream can answer the right request. */
  readonly requestId?: number
  /** Field 11 (EmitRequest.order_epoch) when it could be read. */
  readonly orderEpoch?: number
}

export function decodeProblem(message: unknown): string | null {
  return typeof message === 'object' && message !== null && DECODE_ERROR in message
    ? (message as UndecodableRequest)[DECODE_ERROR]
    : null
}

export function undecodable(message: unknown): UndecodableRequest | null {
  return decodeProblem(message) === null ? null : (message as UndecodableRequest)
}

/**
 * Top-level varint fields of a protobuf message, read without decoding it: length-delimited
 * fields (the records) are skipped by their length. Stops at the first thing it cannot read, so
 * garbage yields what was read before it. request_id (1) lets a stream answer the right request;
 * order_epoch (11, EmitRequest) keeps the stream's order barrier right.
 *
 * A varint may take 10 bytes (a negative int32 enum always does): one that long is read past,
 * not taken for garbage, or the fields after it (order_epoch among them) would go unread. A value
 * beyond 2^53 is skipped, as no request id or epoch can be that large.
 */
function topLevelVarints(bytes: Buffer): Map<number, number> {
  const found = new Map<number, number>()
  let at = 0
  /** The next varint: its value (NaN when beyond 2^53), or undefined when it does not end within 10 bytes. */
  const varint = (): number | undefined => {
    let value = 0
    for (let shift = 1, i = 0; i < 10 && at < bytes.length; i++, shift *= 128) {
      const byte = bytes[at++]!
      value += (byte & 0x7f) * shift
      if ((byte & 0x80) === 0) return Number.isSafeInteger(value) ? value : Number.NaN
    }
    return undefined
  }
  while (at < bytes.length) {
    const tag = varint()
    if (tag === undefined || Number.isNaN(tag)) break
    const field = Math.floor(tag / 8)
    const wireType = tag % 8
    if (wireType === 0) {
      const value = varint()
      if (value === undefined) break
      // As protobuf decoders do, the last occurrence wins.
      if (Number.isNaN(value)) found.delete(field)
      else found.set(field, value)
    } else if (wireType === 2) {
      const length = varint()
      if (length === undefined || Number.isNaN(length)) break
      at += length
    } else if (wireType === 1) {
      at += 8
    } else if (wireType === 5) {
      at += 4
    } else {
      break
    }
  }
  return found
}

function identify(bytes: Buffer): { requestId?: number; orderEpoch?: number } {
  const fields = topLevelVarints(bytes)
  return { requestId: fields.get(1), orderEpoch: fields.get(11) }
}

function explain(typeName: string, error: unknown): string {
  const reason = error instanceof Error ? error.message : String(error)
  // ts-proto decodes 64-bit fields to numbers (forceLong=number) and refuses what does not fit.
  const hint = /MAX_SAFE_INTEGER/.test(reason)
    ? ' (64-bit fields such as request_id, after_sequence and timestamp_ms must be below 2^53)'
    : ''
  return `malformed ${typeName}${hint}: ${reason}`
}

/** How one method's request is named in errors and decoded. */
export interface RequestCodec {
  readonly typeName: string
  decode(reader: BinaryReader): unknown
}

/**
 * `maxRequestBytes`: larger requests are refused one by one (INVALID_ARGUMENT, MESSAGE_TOO_LARGE)
 * instead of by grpc-js's own limit, which would fail the whole stream and every request on it.
 * grpc-js's limit is then set above it as a hard cap on what is read at all.
 *
 * Requests are decoded from a strict reader: a string that is not UTF-8 (a topic, a header name,
 * a client id) is refused by name instead of being read as a different string.
 */
export function guardDeserializers<S extends ServiceDefinition>(
  service: S,
  codecs: Record<string, RequestCodec>,
  maxRequestBytes = Infinity,
): S {
  const guarded: Record<string, unknown> = {}
  for (const [name, method] of Object.entries(service)) {
    const codec = codecs[name]
    if (!codec) throw new Error(`no request codec for method ${name}`)
    guarded[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        if (bytes.length > maxRequestBytes) {
          return {
            [DECODE_ERROR]: `${codec.typeName} of ${bytes.length} bytes is larger than max_request_bytes ${maxRequestBytes}`,
            oversized: true,
            ...identify(bytes),
          }
        }
        try {
          return codec.decode(strictReader(bytes))
        } catch (error) {
          return { [DECODE_ERROR]: explain(codec.typeName, error), ...identify(bytes) }
        }
      },
    }
  }
  return guarded as S
}
