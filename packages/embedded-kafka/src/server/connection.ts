/**
 * One client connection: splits the byte stream into size-prefixed frames, decodes request
 * headers, dispatches to handlers, and writes responses strictly in request order (the protocol
 * promises this, and clients such as librdkafka rely on it) even when a handler answers later,
 * as a long-polling Fetch does. Anything malformed closes this connection only, as Kafka does.
 */
import type { Socket } from 'node:net'
import { ApiVersions } from '../apis/18-api-versions.js'
import { isFlexible, type AnyApi } from '../protocol/api.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { ProtocolDecodeError, Reader } from '../protocol/reader.js'
import { Writer } from '../protocol/writer.js'
import type { SaslMechanism } from '../sasl/mechanism.js'
import type { Logger } from './logger.js'
import {
  CLOSE_CONNECTION,
  closingResponse,
  isClosingAnswer,
  NO_RESPONSE,
  type ConnectionFacts,
  type RequestContext,
  type Route,
} from './route.js'
import { SASL_MAX_RECEIVE_BYTES, SaslSession } from './sasl-session.js'

const API_VERSIONS_KEY = 18
const REQUEST_HEADER_MIN = 8

export interface ConnectionEnvironment {
  readonly routes: ReadonlyMap<number, Route>
  readonly maxRequestBytes: number
  /** The SASL mechanisms the listener enables, by name; undefined: no SASL. */
  readonly sasl: ReadonlyMap<string, SaslMechanism> | undefined
  readonly log: Logger
  /** Builds the per-request context (cluster, broker, groups) around what the connection knows. */
  context(facts: ConnectionFacts): RequestContext
  onClientId(clientId: string): void
}

interface DecodedRequest {
  readonly clientId: string | null
  readonly request: unknown
}

interface PendingResponse {
  /** undefined: not answered yet; null: answered with silence; CLOSE_CONNECTION: answer lost. */
  bytes: Buffer | null | undefined | typeof CLOSE_CONNECTION
  readonly apiName: string
  /** Why the connection closes once this answer is written (a SASL refusal). */
  closeReason?: string
}

export class Connection {
  private chunks: Buffer[] = []
  private buffered = 0
  private readonly pending: PendingResponse[] = []
  private readonly closed = new AbortController()
  private readonly sasl: SaslSession

  constructor(
    private readonly socket: Socket,
    private readonly env: ConnectionEnvironment,
  ) {
    this.sasl = new SaslSession(env.sasl, env.log)
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (error) => env.log('debug', 'connection error', { error: error.message }))
    socket.on('close', () => this.closed.abort())
  }

  get isClosed(): boolean {
    return this.closed.signal.aborted
  }

  /** Closes at once, or (`afterWrites`, a SASL refusal) once what was written has been sent. */
  close(reason: string, afterWrites = false): void {
    if (this.isClosed) return
    this.env.log('warn', `closing connection: ${reason}`, {
      remote: `${this.socket.remoteAddress}:${this.socket.remotePort}`,
    })
    this.closed.abort()
    if (afterWrites) this.socket.destroySoon()
    else this.socket.destroy()
  }

  /** socket.request.max.bytes, or before SASL authentication Kafka's smaller sasl.server.max.receive.size. */
  private frameLimit(): { bytes: number; setting: string } {
    return this.sasl.authenticated || this.env.maxRequestBytes < SASL_MAX_RECEIVE_BYTES
      ? { bytes: this.env.maxRequestBytes, setting: 'socket.request.max.bytes' }
      : { bytes: SASL_MAX_RECEIVE_BYTES, setting: 'sasl.server.max.receive.size, before SASL authentication' }
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.buffered += chunk.length
    while (this.buffered >= 4 && !this.isClosed) {
      const head = this.chunks[0]!.length >= 4 ? this.chunks[0]! : this.coalesce()
      const size = head.readInt32BE(0)
      const limit = this.frameLimit()
      if (size < REQUEST_HEADER_MIN || size > limit.bytes) {
        this.close(`request size ${size} is outside [${REQUEST_HEADER_MIN}, ${limit.bytes}] (${limit.setting})`)
        return
      }
      if (this.buffered < 4 + size) return
      const all = this.coalesce()
      const frame = all.subarray(4, 4 + size)
      const rest = all.subarray(4 + size)
      this.chunks = rest.length > 0 ? [rest] : []
      this.buffered = rest.length
      this.onFrame(frame)
    }
  }

  private coalesce(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)]
    return this.chunks[0]!
  }

  private onFrame(frame: Buffer): void {
    if (this.sasl.expectsRawToken) {
      this.onRawSaslToken(frame)
      return
    }
    const reader = new Reader(frame)
    const apiKey = reader.int16()
    const apiVersion = reader.int16()
    const correlationId = reader.int32()
    const route = this.admit(apiKey, apiVersion, correlationId)
    if (!route) return
    const decoded = this.decode(reader, route.api, apiVersion)
    if (!decoded) return
    if (decoded.clientId) this.env.onClientId(decoded.clientId)
    this.dispatch(route, apiVersion, correlationId, decoded)
  }

  /** The route that answers this request now, or null when the connection was closed (or answered) instead. */
  private admit(apiKey: number, apiVersion: number, correlationId: number): Route | null {
    const route = this.env.routes.get(apiKey)
    if (!route) {
      this.close(`unknown api key ${apiKey}`)
      return null
    }
    const refusal = this.sasl.refusal(apiKey, route.api.name)
    if (refusal !== null) {
      this.close(refusal)
      return null
    }
    const { api } = route
    if (apiVersion >= api.minVersion && apiVersion <= api.maxVersion) return route
    if (apiKey === API_VERSIONS_KEY) {
      // KIP-511: answer in v0 with UNSUPPORTED_VERSION and our ranges so the client downgrades.
      this.enqueue(correlationId, api, 0, {
        errorCode: ErrorCode.UNSUPPORTED_VERSION,
        apiKeys: this.supportedVersions(),
      })
    } else {
      this.close(`${api.name} v${apiVersion} is not supported (supported: v${api.minVersion}-v${api.maxVersion})`)
    }
    return null
  }

  /** The rest of the header and the body, or null when malformed (the connection is then closed). */
  private decode(reader: Reader, api: AnyApi, apiVersion: number): DecodedRequest | null {
    const flexible = isFlexible(api, apiVersion)
    try {
      // The client id is always a classic int16 string, even in flexible header v2.
      const length = reader.int16()
      const clientId = length < 0 ? null : reader.utf8(length)
      if (flexible) skipHeaderTags(reader)
      return { clientId, request: api.request.read(reader, { version: apiVersion, flexible }) }
    } catch (error) {
      if (error instanceof ProtocolDecodeError) {
        this.close(`malformed ${api.name} v${apiVersion} request: ${error.message}`)
        return null
      }
      throw error
    }
  }

  /** Runs the handler; its answer takes this request's place in the response order. */
  private dispatch(route: Route, apiVersion: number, correlationId: number, { clientId, request }: DecodedRequest) {
    const { api } = route
    const slot: PendingResponse = { bytes: undefined, apiName: api.name }
    this.pending.push(slot)
    const ctx = this.env.context({
      apiVersion,
      clientId,
      clientHost: `/${this.socket.remoteAddress ?? 'unknown'}`,
      connectionClosed: this.closed.signal,
      sasl: this.sasl,
    })
    const settle = (response: unknown): void => {
      if (isClosingAnswer(response)) {
        slot.closeReason = response.reason
        response = closingResponse(response)
      }
      slot.bytes =
        response === NO_RESPONSE
          ? null
          : response === CLOSE_CONNECTION
            ? CLOSE_CONNECTION
            : encodeResponse(api, apiVersion, correlationId, response)
      this.flush()
    }
    const fail = (error: unknown): void => {
      this.env.log('error', `${api.name} handler failed`, {
        error: error instanceof Error ? error.stack : String(error),
      })
      this.close(`internal error answering ${api.name}`)
    }
    try {
      const result = route.handle(ctx, request)
      if (result instanceof Promise) result.then(settle, fail)
      else settle(result)
    } catch (error) {
      fail(error)
    }
  }

  /**
   * A SASL message after SaslHandshake v0: the answer is the mechanism's challenge as a bare
   * size-prefixed frame; a refusal has no way to be told, so the connection just closes (KIP-152).
   */
  private onRawSaslToken(token: Buffer): void {
    const slot: PendingResponse = { bytes: undefined, apiName: 'SASL token' }
    this.pending.push(slot)
    void this.sasl.authenticate(token).then(({ authBytes, closeReason }) => {
      if (closeReason !== undefined) slot.closeReason = closeReason
      slot.bytes = closeReason === undefined ? sizePrefixed(authBytes) : null
      this.flush()
    })
  }

  private enqueue(correlationId: number, api: AnyApi, version: number, response: unknown): void {
    this.pending.push({ bytes: encodeResponse(api, version, correlationId, response), apiName: api.name })
    this.flush()
  }

  private supportedVersions() {
    return [...this.env.routes.values()].map(({ api }) => ({
      apiKey: api.key,
      minVersion: api.minVersion,
      maxVersion: api.maxVersion,
    }))
  }

  private flush(): void {
    while (this.pending.length > 0 && this.pending[0]!.bytes !== undefined) {
      const { bytes, apiName, closeReason } = this.pending.shift()!
      if (bytes === CLOSE_CONNECTION) {
        // The answers before this one went out; this one and everything after it are lost.
        this.close(`injected fault: the ${apiName} answer is lost`)
        return
      }
      if (bytes && !this.isClosed) this.socket.write(bytes)
      if (closeReason !== undefined) {
        this.close(closeReason, true)
        return
      }
    }
  }
}

function sizePrefixed(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + payload.length)
  out.writeInt32BE(payload.length, 0)
  payload.copy(out, 4)
  return out
}

function skipHeaderTags(reader: Reader): void {
  const count = reader.uvarint()
  for (let i = 0; i < count; i++) {
    reader.uvarint()
    reader.bytesOf(reader.uvarint())
  }
}

function encodeResponse(api: AnyApi, version: number, correlationId: number, response: unknown): Buffer {
  const flexible = isFlexible(api, version)
  const writer = new Writer(1024)
  const sizeAt = writer.reserveInt32()
  writer.int32(correlationId)
  // Response header v1 (tagged fields) for flexible versions, except ApiVersions, which always
  // uses header v0 so that a client can read it before knowing what the broker speaks.
  if (flexible && api.key !== ApiVersions.key) writer.uvarint(0)
  api.response.write(writer, response, { version, flexible })
  writer.patchInt32(sizeAt, writer.offset - 4)
  return writer.view() // the writer is discarded, so its buffer can go to the socket as is
}
