/**
 * Protobuf written by hand, for what the generated encoder cannot write: numbers out of range,
 * bytes that are not UTF-8, unknown fields, lengths that lie. The wire format, then the
 * kafka_sidecar.v1 EmitRequest and Record in it.
 */
import { randomUUID } from 'node:crypto'
import { Acks } from '@kafka-sidecar/proto'

export function varint(value: bigint | number): Buffer {
  let v = BigInt.asUintN(64, BigInt(value))
  const out: number[] = []
  do {
    let byte = Number(v & 0x7fn)
    v >>= 7n
    if (v !== 0n) byte |= 0x80
    out.push(byte)
  } while (v !== 0n)
  return Buffer.from(out)
}

export const fieldVarint = (field: number, value: bigint | number) =>
  Buffer.concat([varint((field << 3) | 0), varint(value)])

export const fieldBytes = (field: number, value: Uint8Array) =>
  Buffer.concat([varint((field << 3) | 2), varint(value.length), value])

export interface RawEmitFields {
  /** 1 unless given. */
  readonly requestId?: bigint | number
  readonly appName?: string
  /** ACKS_ALL unless given. */
  readonly acks?: bigint | number
  readonly compression?: bigint | number
}

/** EmitRequest{request_id, app_name?, instance_id, acks, compression?, await_delivery, topics [{topic, records}]} in wire format. */
export function rawEmitRequest(topic: Buffer | string, records: Buffer[], fields: RawEmitFields = {}): Buffer {
  const topicRecords = Buffer.concat([fieldBytes(1, Buffer.from(topic)), ...records.map((r) => fieldBytes(2, r))])
  return Buffer.concat([
    fieldVarint(1, fields.requestId ?? 1),
    ...(fields.appName === undefined ? [] : [fieldBytes(3, Buffer.from(fields.appName))]),
    fieldBytes(4, Buffer.from(`instance-${randomUUID()}`)),
    fieldVarint(5, fields.acks ?? Acks.ACKS_ALL),
    ...(fields.compression === undefined ? [] : [fieldVarint(7, fields.compression)]),
    fieldVarint(8, 1),
    fieldBytes(9, topicRecords),
  ])
}

/** Record{value, headers (already encoded)?, timestamp_ms?} in wire format. */
export function rawRecord(value: string, fields: { headers?: Buffer; timestampMs?: bigint } = {}): Buffer {
  return Buffer.concat([
    fieldBytes(2, Buffer.from(value)),
    fields.headers ?? Buffer.alloc(0),
    ...(fields.timestampMs === undefined ? [] : [fieldVarint(5, fields.timestampMs)]),
  ])
}
