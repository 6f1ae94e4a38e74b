import { describe, expect, it } from 'vitest'
import type { BatchHeader } from '../../src/protocol/record-batch.js'
import { ProducerSequences } from '../../src/state/producer-sequences.js'

function batch(producerId: number, producerEpoch: number, baseSequence: number, recordCount = 1): BatchHeader {
  return {
    baseOffset: 0,
    batchLength: 0,
    magic: 2,
    attributes: 0,
    compression: 0,
    lastOffsetDelta: recordCount - 1,
    baseTimestamp: 0,
    maxTimestamp: 0,
    producerId,
    producerEpoch,
    baseSequence,
    recordCount,
    isTransactional: false,
    isControl: false,
  }
}

function append(sequences: ProducerSequences, header: BatchHeader, offset: number) {
  const verdict = sequences.check(header)
  if (verdict.kind === 'append') sequences.record(header, offset)
  return verdict
}

describe('idempotent producer sequences', () => {
  it('accepts consecutive batches and answers a retried batch with its original offset', () => {
    const sequences = new ProducerSequences()
    expect(append(sequences, batch(7, 0, 0, 3), 0)).toEqual({ kind: 'append' })
    expect(append(sequences, batch(7, 0, 3, 2), 3)).toEqual({ kind: 'append' })
    expect(sequences.check(batch(7, 0, 0, 3))).toEqual({ kind: 'duplicate', baseOffset: 0 })
    expect(sequences.check(batch(7, 0, 3, 2))).toEqual({ kind: 'duplicate', baseOffset: 3 })
  })

  it('does not take a batch that only shares its first sequence for a duplicate', () => {
    const sequences = new ProducerSequences()
    append(sequences, batch(7, 0, 0, 3), 0)
    expect(sequences.check(batch(7, 0, 0, 5))).toMatchObject({ kind: 'reject', errorCode: 45 })
  })

  it('refuses a gap in sequence numbers with OUT_OF_ORDER_SEQUENCE_NUMBER', () => {
    const sequences = new ProducerSequences()
    append(sequences, batch(7, 0, 0, 2), 0)
    expect(sequences.check(batch(7, 0, 5))).toMatchObject({ kind: 'reject', errorCode: 45 })
  })

  it('requires a new producer or epoch to start at sequence 0', () => {
    const sequences = new ProducerSequences()
    expect(sequences.check(batch(8, 0, 4))).toMatchObject({ kind: 'reject', errorCode: 45 })
    append(sequences, batch(8, 0, 0), 0)
    expect(sequences.check(batch(8, 1, 1))).toMatchObject({ kind: 'reject', errorCode: 45 })
    expect(append(sequences, batch(8, 1, 0), 1)).toEqual({ kind: 'append' })
  })

  it('fences an older epoch with INVALID_PRODUCER_EPOCH', () => {
    const sequences = new ProducerSequences()
    append(sequences, batch(9, 2, 0), 0)
    expect(sequences.check(batch(9, 1, 1))).toMatchObject({ kind: 'reject', errorCode: 47 })
  })

  it('wraps sequence numbers past 2^31-1 to 0', () => {
    const sequences = new ProducerSequences()
    append(sequences, batch(10, 0, 0), 0)
    // Put the producer where a long-lived one would be: just below the maximum sequence, with
    // its recent batches (the duplicate window) near it too.
    const max = 2 ** 31 - 1
    const state = sequences as unknown as { producers: Map<number, { lastSequence: number; recent: unknown[] }> }
    Object.assign(state.producers.get(10)!, {
      lastSequence: max - 1,
      recent: [{ firstSequence: max - 1, lastSequence: max - 1, baseOffset: 0 }],
    })
    expect(append(sequences, batch(10, 0, max, 1), 1)).toEqual({ kind: 'append' })
    expect(append(sequences, batch(10, 0, 0, 1), 2)).toEqual({ kind: 'append' })
  })

  it('a marker with a bumped epoch fences the old epoch and restarts sequences at 0', () => {
    const sequences = new ProducerSequences()
    expect(append(sequences, batch(5, 0, 0, 2), 0)).toEqual({ kind: 'append' })
    sequences.markerWritten(5, 0) // commit marker, same epoch: sequences continue
    expect(sequences.check(batch(5, 0, 2))).toEqual({ kind: 'append' })
    sequences.markerWritten(5, 1) // abort marker of a fencing coordinator
    expect(sequences.check(batch(5, 0, 2))).toMatchObject({ kind: 'reject', errorCode: 47 })
    expect(sequences.check(batch(5, 1, 3))).toMatchObject({ kind: 'reject', errorCode: 45 })
    expect(append(sequences, batch(5, 1, 0), 3)).toEqual({ kind: 'append' })
  })

  it('ignores non-idempotent batches (producer id -1)', () => {
    const sequences = new ProducerSequences()
    expect(sequences.check(batch(-1, -1, -1))).toEqual({ kind: 'append' })
    expect(sequences.check(batch(-1, -1, -1))).toEqual({ kind: 'append' })
  })
})
