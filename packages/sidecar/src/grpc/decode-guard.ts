/**
 * grpc-js answers a request its deserializer cannot decode with INTERNAL "Error deserializing
 * request": a status that says "server bug" and names nothing. The client sent bad bytes, so the
 * sidecar wraps each request deserializer: a failure becomes a marker the handler turns into
 * INVALID_ARGUMENT with the decoder's reason (and, on a stream, an error ack that keeps the
 * stream open).
 */
import type { ServiceDefinition } from '@grpc/grpc-js'

const DECODE_ERROR = Symbol('decode error')

export interface UndecodableRequest {
  readonly [DECODE_ERROR]: string
  /** Set when the request was refused for its size: it is read, but not decoded. */
  readonly oversized?: boolean
  /** Field 1 (request_id) when it could be read, so a stream can answer the right request. */
  readonly requestId?: number
}

export function decodeProblem(message: unknown): string | null {
  return typeof message === 'object' && message !== null && DECODE_ERROR in message ? (message as UndecodableRequest)[DECODE_ERROR] : null
}

export function undecodable(message: unknown): UndecodableRequest | null {
  return decodeProblem(message) === null ? null : (message as UndecodableRequest)
}

/** Field 1 as a varint if the message starts with it (how ts-proto writes a non-zero request_id). */
function leadingRequestId(bytes: Buffer): number | undefined {
  if (bytes[0] !== 0x08) return undefined
  let value = 0
  for (let i = 1, shift = 1; i < Math.min(bytes.length, 9); i++, shift *= 128) {
    value += (bytes[i]! & 0x7f) * shift
    if ((bytes[i]! & 0x80) === 0) return value
  }
  return undefined
}

function explain(typeName: string, error: unknown): string {
  const reason = error instanceof Error ? error.message : String(error)
  // ts-proto decodes 64-bit fields to numbers (forceLong=number) and refuses what does not fit.
  const hint = /MAX_SAFE_INTEGER/.test(reason) ? ' (64-bit fields such as request_id, after_sequence and timestamp_ms must be below 2^53)' : ''
  return `malformed ${typeName}${hint}: ${reason}`
}

/**
 * `maxRequestBytes`: larger requests are refused one by one (INVALID_ARGUMENT, MESSAGE_TOO_LARGE)
 * instead of by grpc-js's own limit, which would fail the whole stream and every request on it.
 * grpc-js's limit is then set above it as a hard cap on what is read at all.
 */
export function guardDeserializers<S extends ServiceDefinition>(service: S, typeNames: Record<string, string>, maxRequestBytes = Infinity): S {
  const guarded: Record<string, unknown> = {}
  for (const [name, method] of Object.entries(service)) {
    const decode = method.requestDeserialize
    guarded[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        if (bytes.length > maxRequestBytes) {
          return { [DECODE_ERROR]: `${typeNames[name] ?? 'request'} of ${bytes.length} bytes is larger than max_request_bytes ${maxRequestBytes}`, oversized: true, requestId: leadingRequestId(bytes) }
        }
        try {
          return decode(bytes)
        } catch (error) {
          return { [DECODE_ERROR]: explain(typeNames[name] ?? 'request', error) }
        }
      },
    }
  }
  return guarded as S
}
