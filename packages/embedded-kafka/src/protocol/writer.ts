/** Growable big-endian writer for responses. One instance encodes one frame. */
export class Writer {
  private buffer: Buffer
  offset = 0

  constructor(initialSize = 256) {
    this.buffer = Buffer.allocUnsafe(initialSize)
  }

  private ensure(bytes: number): void {
    const needed = this.offset + bytes
    if (needed <= this.buffer.length) return
    let size = this.buffer.length * 2
    while (size < needed) size *= 2
    const grown = Buffer.allocUnsafe(size)
    this.buffer.copy(grown, 0, 0, this.offset)
    this.buffer = grown
  }

  int8(value: number): this {
    this.ensure(1)
    this.offset = this.buffer.writeInt8(value, this.offset)
    return this
  }

  int16(value: number): this {
    this.ensure(2)
    this.offset = this.buffer.writeInt16BE(value, this.offset)
    return this
  }

  int32(value: number): this {
    this.ensure(4)
    this.offset = this.buffer.writeInt32BE(value, this.offset)
    return this
  }

  uint32(value: number): this {
    this.ensure(4)
    this.offset = this.buffer.writeUInt32BE(value, this.offset)
    return this
  }

  int64(value: number): this {
    this.ensure(8)
    this.offset = this.buffer.writeBigInt64BE(BigInt(value), this.offset)
    return this
  }

  float64(value: number): this {
    this.ensure(8)
    this.offset = this.buffer.writeDoubleBE(value, this.offset)
    return this
  }

  boolean(value: boolean): this {
    return this.int8(value ? 1 : 0)
  }

  uvarint(value: number): this {
    this.ensure(5)
    let v = value
    while (v >= 0x80) {
      this.buffer[this.offset++] = (v & 0x7f) | 0x80
      v = Math.floor(v / 128)
    }
    this.buffer[this.offset++] = v
    return this
  }

  varint(value: number): this {
    return this.uvarint(value >= 0 ? value * 2 : -value * 2 - 1)
  }

  varlong(value: number): this {
    let v = (BigInt(value) << 1n) ^ (BigInt(value) >> 63n)
    this.ensure(10)
    while (v >= 0x80n) {
      this.buffer[this.offset++] = Number(v & 0x7fn) | 0x80
      v >>= 7n
    }
    this.buffer[this.offset++] = Number(v)
    return this
  }

  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length)
    this.buffer.set(bytes, this.offset)
    this.offset += bytes.length
    return this
  }

  /** Reserve an int32 to fill later (frame sizes, batch lengths). Returns its position. */
  reserveInt32(): number {
    const at = this.offset
    this.int32(0)
    return at
  }

  patchInt32(at: number, value: number): void {
    this.buffer.writeInt32BE(value, at)
  }

  /** The written bytes. A view, valid until the next write. */
  view(from = 0): Buffer {
    return this.buffer.subarray(from, this.offset)
  }
}
