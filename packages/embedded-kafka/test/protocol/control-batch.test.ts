/**
 * Transaction markers as the coordinator writes them, checked against an independent decoder:
 * KafkaJS 2.2.4's own record batch decoder, which is what decides, in a consumer, whether a
 * record is a control record and whether it closes an aborted transaction.
 */
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { crc32c } from '../../src/protocol/crc32c.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import {
  ControlRecordType,
  InvalidBatchError,
  assignBaseOffset,
  decodeBatchRecords,
  encodeControlBatch,
  readControlMarker,
  validateProducedBatch,
} from '../../src/protocol/record-batch.js'

const require = createRequire(import.meta.url)
const Decoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => unknown
const decodeRecordBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (
  decoder: unknown,
) => Promise<KafkaJsBatch>

interface KafkaJsBatch {
  firstOffset: string
  inTransaction: boolean
  isControlBatch: boolean
  producerId: string
  producerEpoch: number
  firstSequence: number
  lastOffsetDelta: number
  records: Array<{ offset: string; key: Buffer; value: Buffer; isControlRecord: boolean; timestamp: string }>
}

const filterAbortedMessages = require('kafkajs/src/consumer/filterAbortedMessages') as (args: {
  messages: unknown[]
  abortedTransactions: Array<{ producerId: string; firstOffset: string }>
}) => unknown[]

describe('control batches (transaction markers)', () => {
  for (const [name, type] of [
    ['ABORT', ControlRecordType.ABORT],
    ['COMMIT', ControlRecordType.COMMIT],
  ] as const) {
    it(`KafkaJS decodes a ${name} marker as one control record of a transactional control batch`, async () => {
      const { bytes, header } = encodeControlBatch({
        producerId: 4001,
        producerEpoch: 3,
        type,
        coordinatorEpoch: 5,
        timestamp: 1_700_000_000_123,
      })
      assignBaseOffset(bytes, 42)
      const batch = await decodeRecordBatch(new Decoder(bytes))
      expect(batch).toMatchObject({
        firstOffset: '42',
        inTransaction: true,
        isControlBatch: true,
        producerId: '4001',
        producerEpoch: 3,
        firstSequence: -1,
        lastOffsetDelta: 0,
      })
      expect(batch.records).toHaveLength(1)
      const [record] = batch.records
      expect(record).toMatchObject({ offset: '42', isControlRecord: true, timestamp: '1700000000123' })
      // key: version 0, type; value: version 0, coordinator epoch.
      expect(record!.key).toEqual(Buffer.from([0, 0, 0, type]))
      expect(record!.value).toEqual(Buffer.from([0, 0, 0, 0, 0, 5]))
      expect(header).toMatchObject({
        isControl: true,
        isTransactional: true,
        recordCount: 1,
        producerId: 4001,
        producerEpoch: 3,
        baseSequence: -1,
      })
      // The CRC covers attributes to the end, as Kafka's and any client's check computes it.
      expect(bytes.readUInt32BE(17)).toBe(crc32c(bytes, 21, bytes.length))
      expect(readControlMarker(bytes)).toEqual({ type, coordinatorEpoch: 5 })
      // Markers are never data: records() and consumers of decodeBatchRecords skip them.
      expect(decodeBatchRecords(bytes)).toEqual([])
    })
  }

  it("KafkaJS's aborted-transaction filter drops the aborted records up to our ABORT marker, and no others", async () => {
    const marker = encodeControlBatch({
      producerId: 7,
      producerEpoch: 0,
      type: ControlRecordType.ABORT,
      coordinatorEpoch: 0,
      timestamp: 1,
    }).bytes
    assignBaseOffset(marker, 2)
    const [abortRecord] = (await decodeRecordBatch(new Decoder(marker))).records
    const data = (offset: number, producerId: string) => ({
      offset: String(offset),
      key: Buffer.from('k'),
      batchContext: { producerId, inTransaction: true },
    })
    const messages = [data(0, '7'), data(1, '8'), abortRecord, data(3, '7')]
    const kept = filterAbortedMessages({ messages, abortedTransactions: [{ producerId: '7', firstOffset: '0' }] })
    expect(kept).toEqual([data(1, '8'), abortRecord, data(3, '7')])
  })

  it('a data batch carries no marker', () => {
    const { bytes } = encodeControlBatch({
      producerId: 1,
      producerEpoch: 0,
      type: ControlRecordType.COMMIT,
      coordinatorEpoch: 0,
      timestamp: 1,
    })
    const data = Buffer.from(bytes)
    data.writeInt16BE(0, 21) // clear the control and transactional bits
    expect(readControlMarker(data)).toBeNull()
  })

  it('producers may not write control batches (INVALID_RECORD)', () => {
    const { bytes } = encodeControlBatch({
      producerId: 1,
      producerEpoch: 0,
      type: ControlRecordType.COMMIT,
      coordinatorEpoch: 0,
      timestamp: 1,
    })
    let thrown: unknown
    try {
      validateProducedBatch(bytes)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(InvalidBatchError)
    expect((thrown as InvalidBatchError).errorCode).toBe(ErrorCode.INVALID_RECORD)
  })
})
