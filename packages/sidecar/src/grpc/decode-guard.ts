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
}

export function decodeProblem(message: unknown): string | null {
  return typeof message === 'object' && message !== null && DECODE_ERROR in message ? (message as UndecodableRequest)[DECODE_ERROR] : null
}

function explain(typeName: string, error: unknown): string {
  const reason = error instanceof Error ? error.message : String(error)
  // ts-proto decodes 64-bit fields to numbers (forceLong=number) and refuses what does not fit.
  const hint = /MAX_SAFE_INTEGER/.test(reason) ? ' (64-bit fields such as request_id, after_sequence and timestamp_ms must be below 2^53)' : ''
  return `malformed ${typeName}${hint}: ${reason}`
}

export function guardDeserializers<S extends ServiceDefinition>(service: S, typeNames: Record<string, string>): S {
  const guarded: Record<string, unknown> = {}
  for (const [name, method] of Object.entries(service)) {
    const decode = method.requestDeserialize
    guarded[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
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
