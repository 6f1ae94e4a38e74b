import { randomUUID } from 'node:crypto'
import { ControlRecordType, encodeControlBatch, type BatchHeader } from '../protocol/record-batch.js'
import { PartitionLog } from './partition-log.js'
import { PartitionTransactions } from './partition-transactions.js'
import { ProducerSequences } from './producer-sequences.js'

/**
 * One partition: its replicas, current leader, log, producer and transaction state. Every broker
 * of the process shares the one log, so replicas are always in sync and a failover loses nothing.
 */
export class Partition {
  readonly log: PartitionLog
  readonly sequences = new ProducerSequences()
  readonly transactions = new PartitionTransactions()
  /** -1 while no replica is alive (offline partition). */
  leaderId = -1
  /** Bumped on every leadership change, as Kafka's controller does. */
  leaderEpoch = -1

  constructor(
    readonly topic: string,
    readonly index: number,
    /** Preferred replica first: it leads whenever it is alive. */
    readonly replicaIds: readonly number[],
    retentionBytes: number,
  ) {
    this.log = new PartitionLog(retentionBytes)
  }

  /**
   * Appends a validated producer batch and returns its base offset. Transaction state is updated
   * before the log notifies waiting fetches, so a read_committed long-poll woken by this append
   * already sees the new open transaction holding the last stable offset back.
   */
  appendBatch(records: Buffer, header: BatchHeader): number {
    if (header.isTransactional) this.transactions.recordBatch(header.producerId, this.log.endOffset)
    const baseOffset = this.log.append(records, header)
    this.sequences.record(header, baseOffset)
    return baseOffset
  }

  /**
   * Writes the COMMIT or ABORT marker that ends the producer's transaction on this partition
   * (Kafka's WriteTxnMarkers, done in-process). Returns the marker's offset.
   */
  writeTransactionMarker(
    producerId: number,
    producerEpoch: number,
    committed: boolean,
    coordinatorEpoch: number,
  ): number {
    const type = committed ? ControlRecordType.COMMIT : ControlRecordType.ABORT
    const { bytes, header } = encodeControlBatch({
      producerId,
      producerEpoch,
      type,
      coordinatorEpoch,
      timestamp: Date.now(),
    })
    // As above: the last stable offset moves before fetches waiting on this partition wake up.
    this.transactions.complete(producerId, this.log.endOffset, committed)
    const offset = this.log.append(bytes, header)
    this.sequences.markerWritten(producerId, producerEpoch)
    this.transactions.trim(this.log.logStartOffset)
    return offset
  }

  /** read_committed consumers see records below this offset only. */
  get lastStableOffset(): number {
    return this.transactions.lastStableOffset(this.log.endOffset)
  }
}

export class Topic {
  readonly id: Buffer = Buffer.from(randomUUID().replaceAll('-', ''), 'hex')
  readonly partitions: Partition[] = []

  constructor(
    readonly name: string,
    readonly replicationFactor: number,
  ) {}
}
