/**
 * A raw Kafka client for tests that need to misbehave: it writes arbitrary bytes over node:net,
 * encodes well-formed requests with our own Writer and message schemas (so a test can send exactly
 * the frame it means, valid or not), reads size-prefixed response frames, and reports when the
 * broker closes the connection. Every wait has a timeout, so a broker that hangs fails the test
 * with a message instead of stalling it. Connections opened with openRaw close at test end.
 */
import { connect, type Socket } from 'node:net'
import { onTestFinished } from 'vitest'
import { isFlexible, type AnyApi } from '../src/protocol/api.js'
import { Reader } from '../src/protocol/reader.js'
import type { Decoded, Encodable } from '../src/protocol/schema.js'
import { Writer } from '../src/protocol/writer.js'

const API_VERSIONS_KEY = 18
export const DEFAULT_TIMEOUT_MS = 2_000

/** Prefixes `payload` with its int32 size, as every Kafka frame is. */
export function frame(payload: Buffer): Buffer {
  const size = Buffer.alloc(4)
  size.writeInt32BE(payload.length, 0)
  return Buffer.concat([size, payload])
}

export interface HeaderOptions {
  readonly clientId?: string | null
  /** Request header v2 (tagged fields after the client id), used by flexible versions. */
  readonly flexible?: boolean
}

/** Request header v1/v2: apiKey, apiVersion, correlationId, int16-length clientId [, tags]. */
export function requestHeader(
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  options: HeaderOptions = {},
): Buffer {
  const { clientId = 'raw-client', flexible = false } = options
  const writer = new Writer(64)
  writer.int16(apiKey).int16(apiVersion).int32(correlationId)
  if (clientId === null) writer.int16(-1)
  else {
    const bytes = Buffer.from(clientId, 'utf8')
    writer.int16(bytes.length).raw(bytes)
  }
  if (flexible) writer.uvarint(0)
  return Buffer.from(writer.view())
}

/** The body of `api` at `version`, encoded by our own schema. */
export function encodeBody<A extends AnyApi>(api: A, version: number, body: Encodable<A['request']>): Buffer {
  const writer = new Writer(256)
  api.request.write(writer, body, { version, flexible: isFlexible(api, version) })
  return Buffer.from(writer.view())
}

/** A complete, size-prefixed request frame. */
export function encodeRequest<A extends AnyApi>(
  api: A,
  version: number,
  correlationId: number,
  body: Encodable<A['request']>,
  clientId: string | null = 'raw-client',
): Buffer {
  const header = requestHeader(api.key, version, correlationId, { clientId, flexible: isFlexible(api, version) })
  return frame(Buffer.concat([header, encodeBody(api, version, body)]))
}

export interface DecodedResponse<T> {
  readonly correlationId: number
  readonly body: T
}

/**
 * Decodes a response frame (without its size prefix): correlation id, the response header's tag
 * section for flexible versions (ApiVersions always uses header v0), then the body, which must
 * consume the frame exactly.
 */
export function decodeResponse<A extends AnyApi>(
  api: A,
  version: number,
  responseFrame: Buffer,
): DecodedResponse<Decoded<A['response']>> {
  const reader = new Reader(responseFrame)
  const correlationId = reader.int32()
  const flexible = isFlexible(api, version)
  if (flexible && api.key !== API_VERSIONS_KEY) {
    const tags = reader.uvarint()
    for (let i = 0; i < tags; i++) {
      reader.uvarint()
      reader.bytesOf(reader.uvarint())
    }
  }
  const body = api.response.read(reader, { version, flexible }) as Decoded<A['response']>
  if (reader.remaining !== 0)
    throw new Error(`${api.name} v${version} response has ${reader.remaining} undecoded trailing bytes`)
  return { correlationId, body }
}

export class RawClient {
  private buffered = Buffer.alloc(0)
  private wakers: Array<() => void> = []
  private closedFlag = false
  private nextCorrelationId = 1
  /** Resolves when the socket has closed, whoever closed it. */
  readonly closed: Promise<void>

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk])
      this.wake()
    })
    // A reset (ECONNRESET, EPIPE) is just how some closes look from here; 'close' follows.
    socket.on('error', () => {})
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedFlag = true
        this.wake()
        resolve()
      }),
    )
  }

  static connect(host: string, port: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port })
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new Error(`could not connect to ${host}:${port} within ${timeoutMs} ms`))
      }, timeoutMs)
      socket.once('error', (error) => {
        clearTimeout(timer)
        reject(error)
      })
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.removeAllListeners('error')
        socket.setNoDelay(true)
        resolve(new RawClient(socket))
      })
    })
  }

  get isClosed(): boolean {
    return this.closedFlag
  }

  /** Bytes received but not yet consumed as frames. */
  get pendingBytes(): number {
    return this.buffered.length
  }

  /** Writes raw bytes; resolves once handed to the OS (or at once if the socket is gone). */
  write(bytes: Buffer): Promise<void> {
    if (this.socket.destroyed || this.socket.writableEnded) return Promise.resolve()
    return new Promise((resolve) => this.socket.write(bytes, () => resolve()))
  }

  /** Half-closes: sends FIN, keeps reading. */
  end(): void {
    this.socket.end()
  }

  destroy(): void {
    this.socket.destroy()
  }

  /** Sends one well-formed request; returns its correlation id (1, 2, 3... unless given). */
  async send<A extends AnyApi>(
    api: A,
    version: number,
    body: Encodable<A['request']>,
    correlationId = this.nextCorrelationId++,
  ): Promise<number> {
    await this.write(encodeRequest(api, version, correlationId, body))
    return correlationId
  }

  /** The next response frame, without its size prefix. Rejects on close or timeout. */
  async nextFrame(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (this.buffered.length >= 4) {
        const size = this.buffered.readInt32BE(0)
        if (size < 0) throw new Error(`broker sent a frame with negative size ${size}`)
        if (this.buffered.length >= 4 + size) {
          const out = Buffer.from(this.buffered.subarray(4, 4 + size))
          this.buffered = Buffer.from(this.buffered.subarray(4 + size))
          return out
        }
      }
      if (this.closedFlag)
        throw new Error(`connection closed with ${this.buffered.length} bytes of an incomplete frame buffered`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no complete response frame within ${timeoutMs} ms`)
      await this.waitForActivity(left)
    }
  }

  /** Reads and decodes the next response as `api` at `version`. */
  async receive<A extends AnyApi>(
    api: A,
    version: number,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<DecodedResponse<Decoded<A['response']>>> {
    return decodeResponse(api, version, await this.nextFrame(timeoutMs))
  }

  /** Sends a request and reads its answer, checking the correlation id matches. */
  async roundTrip<A extends AnyApi>(
    api: A,
    version: number,
    body: Encodable<A['request']>,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<Decoded<A['response']>> {
    const correlationId = await this.send(api, version, body)
    const response = await this.receive(api, version, timeoutMs)
    if (response.correlationId !== correlationId) {
      throw new Error(`expected correlation id ${correlationId}, got ${response.correlationId}`)
    }
    return response.body
  }

  /** Resolves when the broker has closed the connection; rejects if it is still open after `timeoutMs`. */
  async waitForClose(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs)
    })
    try {
      await Promise.race([this.closed, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Waits `ms` and reports whether the connection stayed open (no close in that time). */
  async staysOpenFor(ms: number): Promise<boolean> {
    await new Promise((resolve) => setTimeout(resolve, ms))
    return !this.closedFlag
  }

  private waitForActivity(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        this.wakers = this.wakers.filter((w) => w !== done)
        resolve()
      }, ms)
      this.wakers.push(done)
    })
  }

  private wake(): void {
    const wakers = this.wakers
    this.wakers = []
    for (const waker of wakers) waker()
  }
}

/** Connects a raw client that is destroyed when the current test finishes. */
export async function openRaw(address: { readonly host: string; readonly port: number }): Promise<RawClient> {
  const client = await RawClient.connect(address.host, address.port)
  onTestFinished(() => client.destroy())
  return client
}
