/**
 * A small declarative schema language for Kafka messages, modelled on the JSON message definitions
 * in the Kafka source tree: a message is a struct of fields, each present in a range of versions.
 * From version `flexibleSince` on, strings/arrays/bytes use compact (varint) lengths and every
 * struct ends with a tagged-field section (KIP-482). One generic codec then serves every version,
 * instead of a hand-written encoder per API and version.
 */
import { ProtocolDecodeError, type Reader } from './reader.js'
import type { Writer } from './writer.js'

export interface CodecContext {
  readonly version: number
  readonly flexible: boolean
}

/** R is what decoding yields; W what encoding accepts (structs take partial input, see below). */
export interface WireType<R, W = R> {
  read(reader: Reader, ctx: CodecContext): R
  write(writer: Writer, value: W, ctx: CodecContext): void
  /** Value used when a field is absent in a version and no default was given. */
  readonly zero: R
}

export type Decoded<T> = T extends WireType<infer R, unknown> ? R : never
export type Encodable<T> = T extends WireType<unknown, infer W> ? W : never

function primitive<T>(zero: T, read: (r: Reader) => T, write: (w: Writer, v: T) => void): WireType<T> {
  return { zero, read: (r) => read(r), write: (w, v) => write(w, v) }
}

export const int8 = primitive(
  0,
  (r) => r.int8(),
  (w, v) => w.int8(v),
)
export const int16 = primitive(
  0,
  (r) => r.int16(),
  (w, v) => w.int16(v),
)
export const int32 = primitive(
  0,
  (r) => r.int32(),
  (w, v) => w.int32(v),
)
export const int64 = primitive(
  0,
  (r) => r.int64(),
  (w, v) => w.int64(v),
)
export const float64 = primitive(
  0,
  (r) => r.float64(),
  (w, v) => w.float64(v),
)
export const boolean = primitive(
  false,
  (r) => r.boolean(),
  (w, v) => w.boolean(v),
)
export const uuid: WireType<Buffer> = primitive<Buffer>(
  Buffer.alloc(16),
  (r) => Buffer.from(r.uuid()),
  (w, v) => {
    if (v.length !== 16) throw new RangeError(`a uuid is 16 bytes, got ${v.length}`)
    w.raw(v)
  },
)

/** Length prefix: int16/int32 in classic versions, unsigned varint of length+1 in flexible ones. */
function readLength(r: Reader, ctx: CodecContext, classic: 'int16' | 'int32'): number {
  if (ctx.flexible) return r.uvarint() - 1
  return classic === 'int16' ? r.int16() : r.int32()
}

function writeLength(w: Writer, ctx: CodecContext, classic: 'int16' | 'int32', length: number): void {
  if (ctx.flexible) w.uvarint(length + 1)
  else if (classic === 'int16') w.int16(length)
  else w.int32(length)
}

export const nullableString: WireType<string | null> = {
  zero: null,
  read(r, ctx) {
    const length = readLength(r, ctx, 'int16')
    if (length < -1) throw new ProtocolDecodeError(`invalid string length ${length}`)
    return length === -1 ? null : r.utf8(length)
  },
  write(w, v, ctx) {
    if (v === null) return writeLength(w, ctx, 'int16', -1)
    const bytes = Buffer.from(v, 'utf8')
    writeLength(w, ctx, 'int16', bytes.length)
    w.raw(bytes)
  },
}

export const string: WireType<string> = {
  zero: '',
  read(r, ctx) {
    const value = nullableString.read(r, ctx)
    if (value === null) throw new ProtocolDecodeError('null where a non-nullable string is required')
    return value
  },
  write: (w, v, ctx) => nullableString.write(w, v, ctx),
}

export const nullableBytes: WireType<Buffer | null> = {
  zero: null,
  read(r, ctx) {
    const length = readLength(r, ctx, 'int32')
    if (length < -1) throw new ProtocolDecodeError(`invalid bytes length ${length}`)
    return length === -1 ? null : r.bytesOf(length)
  },
  write(w, v, ctx) {
    if (v === null) return writeLength(w, ctx, 'int32', -1)
    writeLength(w, ctx, 'int32', v.length)
    w.raw(v)
  },
}

export const bytes: WireType<Buffer> = {
  zero: Buffer.alloc(0),
  read(r, ctx) {
    const value = nullableBytes.read(r, ctx)
    if (value === null) throw new ProtocolDecodeError('null where non-nullable bytes are required')
    return value
  },
  write: (w, v, ctx) => nullableBytes.write(w, v, ctx),
}

/**
 * Record data (Produce/Fetch). Encoded like nullable bytes, but may be written as a list of
 * stored batches so Fetch responses never concatenate them first.
 */
export const records: WireType<Buffer | null, Buffer | readonly Buffer[] | null> = {
  zero: null,
  read: (r, ctx) => nullableBytes.read(r, ctx),
  write(w, v, ctx) {
    if (v === null || Buffer.isBuffer(v)) return nullableBytes.write(w, v, ctx)
    let total = 0
    for (const part of v) total += part.length
    writeLength(w, ctx, 'int32', total)
    for (const part of v) w.raw(part)
  },
}

/** Guards array counts against frames that claim more elements than they could hold. */
function checkedCount(r: Reader, count: number): number {
  if (count > r.remaining)
    throw new ProtocolDecodeError(`array claims ${count} elements with ${r.remaining} bytes left`)
  return count
}

export function nullableArray<R, W>(item: WireType<R, W>): WireType<R[] | null, readonly W[] | null> {
  return {
    zero: null,
    read(r, ctx) {
      const count = readLength(r, ctx, 'int32')
      if (count < -1) throw new ProtocolDecodeError(`invalid array length ${count}`)
      if (count === -1) return null
      checkedCount(r, count)
      const out = new Array<R>(count)
      for (let i = 0; i < count; i++) out[i] = item.read(r, ctx)
      return out
    },
    write(w, v, ctx) {
      if (v === null) return writeLength(w, ctx, 'int32', -1)
      writeLength(w, ctx, 'int32', v.length)
      for (const element of v) item.write(w, element, ctx)
    },
  }
}

export function array<R, W>(item: WireType<R, W>): WireType<R[], readonly W[]> {
  const inner = nullableArray(item)
  return {
    zero: [],
    read(r, ctx) {
      const value = inner.read(r, ctx)
      if (value === null) throw new ProtocolDecodeError('null where a non-nullable array is required')
      return value
    },
    write: (w, v, ctx) => inner.write(w, v, ctx),
  }
}

export interface Field<R, W> {
  readonly type: WireType<R, W>
  readonly minVersion: number
  readonly maxVersion: number
  readonly defaultValue: R
}

/**
 * A field present in `versions`: "3+" (3 and later) or "0-4" (inclusive), as Kafka's JSON specs
 * write it. `defaultValue` is what a decoder reports for versions that lack the field and what an
 * encoder writes when the caller leaves it out.
 */
export function field<R, W>(type: WireType<R, W>, versions = '0+', defaultValue?: R): Field<R, W> {
  const match = /^(\d+)(?:\+|-(\d+))?$/.exec(versions)
  if (!match) throw new Error(`bad version range "${versions}"`)
  const minVersion = Number(match[1])
  const maxVersion = match[2] === undefined ? (versions.endsWith('+') ? Infinity : minVersion) : Number(match[2])
  return { type, minVersion, maxVersion, defaultValue: defaultValue === undefined ? type.zero : defaultValue }
}

type AnyField = Field<any, any> // eslint-disable-line @typescript-eslint/no-explicit-any
type Fields = Record<string, AnyField>
export type StructRead<F extends Fields> = { [K in keyof F]: F[K] extends Field<infer R, unknown> ? R : never }
/** Encoders accept partial structs: an omitted field takes its default, so responses stay short. */
export type StructWrite<F extends Fields> = { [K in keyof F]?: F[K] extends Field<unknown, infer W> ? W : never }

function skipTaggedFields(r: Reader): void {
  const count = r.uvarint()
  for (let i = 0; i < count; i++) {
    r.uvarint() // tag: none of the tagged fields we could receive changes our answers
    r.bytesOf(r.uvarint())
  }
}

/** Decoded defaults must not be shared: a handler that fills a defaulted array would leak it. */
function freshDefault(value: unknown): () => unknown {
  if (Array.isArray(value)) return () => []
  if (Buffer.isBuffer(value)) return () => Buffer.from(value)
  return () => value
}

export function struct<F extends Fields>(fields: F): WireType<StructRead<F>, StructWrite<F>> {
  const entries = Object.entries(fields)
  const defaults = entries.map(([, f]) => freshDefault(f.defaultValue))
  const zero = Object.fromEntries(entries.map(([name, f]) => [name, f.defaultValue])) as StructRead<F>
  return {
    zero,
    read(r, ctx) {
      const out: Record<string, unknown> = {}
      for (let i = 0; i < entries.length; i++) {
        const [name, f] = entries[i]!
        out[name] = ctx.version >= f.minVersion && ctx.version <= f.maxVersion ? f.type.read(r, ctx) : defaults[i]!()
      }
      if (ctx.flexible) skipTaggedFields(r)
      return out as StructRead<F>
    },
    write(w, value, ctx) {
      const input = value as Record<string, unknown>
      for (const [name, f] of entries) {
        if (ctx.version < f.minVersion || ctx.version > f.maxVersion) continue
        const v = input[name]
        f.type.write(w, v === undefined ? f.defaultValue : v, ctx)
      }
      if (ctx.flexible) w.uvarint(0)
    },
  }
}
