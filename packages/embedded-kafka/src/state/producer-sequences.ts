/**
 * Idempotent producer state for one partition: per producer id, its epoch, the last sequence
 * written and the last few batches, so a retried batch is recognised as a duplicate and answered
 * with its original offset instead of being written twice (Kafka keeps the last 5).
 */
import { ErrorCode, type ErrorCodeValue } from '../protocol/error-codes.js'
import type { BatchHeader } from '../protocol/record-batch.js'

const RETAINED_BATCHES = 5
const MAX_SEQUENCE = 2 ** 31 - 1

interface RecentBatch {
  readonly firstSequence: number
  readonly lastSequence: number
  readonly baseOffset: number
}

interface ProducerEntry {
  epoch: number
  lastSequence: number
  recent: RecentBatch[]
}

export type SequenceVerdict =
  | { readonly kind: 'append' }
  | { readonly kind: 'duplicate'; readonly baseOffset: number }
  | { readonly kind: 'reject'; readonly errorCode: ErrorCodeValue; readonly message: string }

const APPEND: SequenceVerdict = { kind: 'append' }

function addSequence(sequence: number, delta: number): number {
  const next = sequence + delta
  return next > MAX_SEQUENCE ? next - MAX_SEQUENCE - 1 : next
}

export class ProducerSequences {
  private readonly producers = new Map<number, ProducerEntry>()

  check(batch: BatchHeader): SequenceVerdict {
    if (batch.producerId < 0) return APPEND
    const entry = this.producers.get(batch.producerId)
    if (!entry || batch.producerEpoch > (entry?.epoch ?? -1)) {
      if (batch.baseSequence === 0) return APPEND
      return reject(
        ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
        `producer ${batch.producerId} epoch ${batch.producerEpoch} must start at sequence 0, got ${batch.baseSequence}`,
      )
    }
    if (batch.producerEpoch < entry.epoch) {
      return reject(
        ErrorCode.INVALID_PRODUCER_EPOCH,
        `producer ${batch.producerId} epoch ${batch.producerEpoch} is older than the current epoch ${entry.epoch}`,
      )
    }
    const lastSequence = addSequence(batch.baseSequence, batch.recordCount - 1)
    const duplicate = entry.recent.find(
      (b) => b.firstSequence === batch.baseSequence && b.lastSequence === lastSequence,
    )
    if (duplicate) return { kind: 'duplicate', baseOffset: duplicate.baseOffset }
    const expected = addSequence(entry.lastSequence, 1)
    if (batch.baseSequence !== expected) {
      return reject(
        ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
        `producer ${batch.producerId} sent sequence ${batch.baseSequence}, expected ${expected}`,
      )
    }
    return APPEND
  }

  /**
   * A transaction marker of `epoch` was written for the producer. When the coordinator bumped
   * the epoch to fence a zombie (or abort a timed-out transaction), the old epoch is refused
   * from now on and the new one starts its sequences at 0, as Kafka's producer state does.
   */
  markerWritten(producerId: number, epoch: number): void {
    const entry = this.producers.get(producerId)
    if (!entry || entry.epoch < epoch) this.producers.set(producerId, { epoch, lastSequence: -1, recent: [] })
  }

  record(batch: BatchHeader, baseOffset: number): void {
    if (batch.producerId < 0) return
    let entry = this.producers.get(batch.producerId)
    if (!entry || entry.epoch !== batch.producerEpoch) {
      entry = { epoch: batch.producerEpoch, lastSequence: -1, recent: [] }
      this.producers.set(batch.producerId, entry)
    }
    entry.lastSequence = addSequence(batch.baseSequence, batch.recordCount - 1)
    entry.recent.push({ firstSequence: batch.baseSequence, lastSequence: entry.lastSequence, baseOffset })
    if (entry.recent.length > RETAINED_BATCHES) entry.recent.shift()
  }
}

function reject(errorCode: ErrorCodeValue, message: string): SequenceVerdict {
  return { kind: 'reject', errorCode, message }
}
