/**
 * Sequential reader over one Kafka frame. Every read checks bounds, so a truncated or lying frame
 * surfaces as a {@link ProtocolDecodeError} instead of reading garbage or throwing a RangeError
 * from deep inside Buffer.
 */
export class ProtocolDecodeError extends Error {
  override name = 'ProtocolDecodeError'
}

export class Reader {
  offset: number

  constructor(
    readonly buffer: Buffer,
    offset = 0,
    readonly end = buffer.length,
  ) {
    this.offset = offset
  }

  get remaining(): number {
    return this.end - this.offset
  }

  private need(bytes: number, what: string): number {
    const at = this.offset
    if (bytes < 0 || at + bytes > this.end) {
      throw new ProtocolDecodeError(
        `truncated data: ${what} needs ${bytes} bytes at offset ${at}, ${this.end - at} left`,
      )
    }
    this.offset = at + bytes
    return at
  }

  int8(): number {
    return this.buffer.readInt8(this.need(1, 'int8'))
  }

  int16(): number {
    return this.buffer.readInt16BE(this.need(2, 'int16'))
  }

  int32(): number {
    return this.buffer.readInt32BE(this.need(4, 'int32'))
  }

  uint32(): number {
    return this.buffer.readUInt32BE(this.need(4, 'uint32'))
  }

  /** int64 as a JS number: offsets, timestamps and producer ids stay far below 2^53 here. */
  int64(): number {
    return Number(this.buffer.readBigInt64BE(this.need(8, 'int64')))
  }

  float64(): number {
    return this.buffer.readDoubleBE(this.need(8, 'float64'))
  }

  boolean(): boolean {
    return this.int8() !== 0
  }

  uuid(): Buffer {
    return this.bytesOf(16)
  }

  /** Unsigned LEB128 varint, at most 5 bytes (32 bits), as in the flexible-version encodings. */
  uvarint(): number {
    let value = 0
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.buffer[this.need(1, 'varint')]!
      value += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) return value
    }
    throw new ProtocolDecodeError('varint is longer than 5 bytes')
  }

  /** Zigzag varint (record fields). */
  varint(): number {
    const raw = this.uvarint()
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2
  }

  /** Zigzag varlong, up to 10 bytes; returned as a number (timestamps deltas fit easily). */
  varlong(): number {
    let value = 0n
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const byte = this.buffer[this.need(1, 'varlong')]!
      value |= BigInt(byte & 0x7f) << shift
      if ((byte & 0x80) === 0) return Number((value >> 1n) ^ -(value & 1n))
    }
    throw new ProtocolDecodeError('varlong is longer than 10 bytes')
  }

  /** Skips a varint/varlong of up to 10 bytes without decoding it (validation hot path). */
  skipVarlong(): void {
    for (let i = 0; i < 10; i++) {
      if ((this.buffer[this.need(1, 'varlong')]! & 0x80) === 0) return
    }
    throw new ProtocolDecodeError('varlong is longer than 10 bytes')
  }

  /** A zero-copy view of the next `length` bytes. */
  bytesOf(length: number): Buffer {
    const at = this.need(length, 'bytes')
    return this.buffer.subarray(at, at + length)
  }

  utf8(length: number): string {
    const at = this.need(length, 'string')
    const bytes = this.buffer.subarray(at, at + length)
    const text = bytes.toString('utf8')
    // Kafka rejects strings that are not valid UTF-8; a lossy decode would silently rename a topic.
    if (text.includes('\ufffd') && !Buffer.from(text, 'utf8').equals(bytes)) {
      throw new ProtocolDecodeError(`string at offset ${at} is not valid UTF-8`)
    }
    return text
  }
}
