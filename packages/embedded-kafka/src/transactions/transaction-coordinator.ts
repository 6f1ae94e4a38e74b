/**
 * The transaction coordinator of the cluster (KIP-98). It owns every transactional id's producer
 * id and epoch, tracks which partitions and groups the open transaction spans, and ends it by
 * writing COMMIT or ABORT markers to those partitions and settling the groups' pending offsets.
 *
 * State is cluster-wide (brokers are front ends), but requests must reach the transactional id's
 * coordinator broker, chosen by hashing the id over the live brokers, as Kafka maps it to a
 * __transaction_state partition leader. Errors are Kafka's; PRODUCER_FENCED is reported as such
 * and the handlers downgrade it to INVALID_PRODUCER_EPOCH for versions that predate it.
 */
import { GroupCoordinator } from '../groups/group-coordinator.js'
import { ErrorCode, type ErrorCodeValue } from '../protocol/error-codes.js'
import type { ClusterState } from '../state/cluster-state.js'
import type { Partition } from '../state/topic.js'
import { Transaction, type TransactionState } from './transaction.js'

export interface TransactionSettings {
  /** transaction.max.timeout.ms: the longest transaction timeout a producer may ask for. */
  readonly maxTimeoutMs: number
}

export interface ProducerIdResult {
  readonly errorCode: ErrorCodeValue
  readonly producerId: number
  readonly producerEpoch: number
}

export interface TransactionInfo {
  readonly transactionalId: string
  readonly producerId: number
  readonly producerEpoch: number
  readonly state: TransactionState
  readonly timeoutMs: number
  /** Partitions of the open transaction, as "topic-partition". */
  readonly partitions: readonly string[]
  readonly groups: readonly string[]
}

/** Kafka refuses to bump an epoch at Short.MAX_VALUE - 1 and hands out a new producer id instead. */
const LAST_EPOCH = 32766
/** Markers carry the coordinator's epoch; a single in-memory coordinator never changes, so 0. */
const COORDINATOR_EPOCH = 0

export class TransactionCoordinator {
  private readonly transactions = new Map<string, Transaction>()

  constructor(
    private readonly cluster: ClusterState,
    private readonly groups: GroupCoordinator,
    private readonly settings: TransactionSettings,
  ) {}

  /**
   * The broker coordinating `transactionalId`, or -1 when none is alive. Salted so that a group
   * and a transactional id of the same name need not share a broker, as in Kafka, where they live
   * in different internal topics: a client that sends a request to the wrong one is told so.
   */
  static coordinatorFor(transactionalId: string, brokerIds: readonly number[]): number {
    return GroupCoordinator.coordinatorFor(`transaction:${transactionalId}`, brokerIds)
  }

  /**
   * InitProducerId with a transactional id: the id keeps its producer id and gets the next epoch,
   * which fences every producer still using an older one. A transaction left open by the previous
   * incarnation is aborted, its markers written with the new epoch. `expected` (v3+, KIP-360) is
   * the producer id and epoch a producer already holds when it asks for a bump.
   */
  initProducerId(
    transactionalId: string,
    timeoutMs: number,
    expected: { producerId: number; producerEpoch: number },
  ): ProducerIdResult {
    const refuse = (errorCode: ErrorCodeValue): ProducerIdResult => ({ errorCode, producerId: -1, producerEpoch: -1 })
    if (transactionalId === '') return refuse(ErrorCode.INVALID_REQUEST)
    if (timeoutMs <= 0 || timeoutMs > this.settings.maxTimeoutMs) return refuse(ErrorCode.INVALID_TRANSACTION_TIMEOUT)
    let txn = this.transactions.get(transactionalId)
    if (!txn) {
      txn = new Transaction(transactionalId, this.cluster.allocateProducerId(), 0, timeoutMs)
      this.transactions.set(transactionalId, txn)
      return { errorCode: ErrorCode.NONE, producerId: txn.producerId, producerEpoch: txn.producerEpoch }
    }
    if (
      expected.producerId >= 0 &&
      (expected.producerId !== txn.producerId || expected.producerEpoch !== txn.producerEpoch)
    ) {
      return refuse(ErrorCode.PRODUCER_FENCED)
    }
    const before = txn.producerEpoch
    if (txn.state === 'Ongoing') this.finish(txn, false, fencingEpoch(before))
    if (txn.producerEpoch === before) {
      if (before >= LAST_EPOCH) {
        txn.producerId = this.cluster.allocateProducerId()
        txn.producerEpoch = 0
      } else {
        txn.producerEpoch = before + 1
      }
    }
    txn.timeoutMs = timeoutMs
    txn.state = 'Empty'
    return { errorCode: ErrorCode.NONE, producerId: txn.producerId, producerEpoch: txn.producerEpoch }
  }

  /** AddPartitionsToTxn: the partitions join the open transaction, starting one if needed. */
  addPartitions(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    partitions: readonly Partition[],
  ): ErrorCodeValue {
    const txn = this.owner(transactionalId, producerId, producerEpoch)
    if (typeof txn === 'number') return txn
    this.begin(txn)
    for (const partition of partitions) txn.partitions.add(partition)
    return ErrorCode.NONE
  }

  /** AddOffsetsToTxn: the group's offsets will be committed (or dropped) with the transaction. */
  addOffsets(transactionalId: string, producerId: number, producerEpoch: number, groupId: string): ErrorCodeValue {
    const txn = this.owner(transactionalId, producerId, producerEpoch)
    if (typeof txn === 'number') return txn
    this.begin(txn)
    txn.groups.add(groupId)
    return ErrorCode.NONE
  }

  /**
   * EndTxn. Retrying the end that already happened succeeds (the client may have missed the
   * answer); the opposite end, or ending with no transaction open, is INVALID_TXN_STATE.
   */
  end(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean): ErrorCodeValue {
    const txn = this.owner(transactionalId, producerId, producerEpoch)
    if (typeof txn === 'number') return txn
    switch (txn.state) {
      case 'Ongoing':
        this.finish(txn, commit, txn.producerEpoch)
        return ErrorCode.NONE
      case 'CompleteCommit':
        return commit ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE
      case 'CompleteAbort':
        return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.NONE
      case 'Empty':
        return ErrorCode.INVALID_TXN_STATE
    }
  }

  /**
   * Checks a transactional batch before it is appended, as Kafka 3.6+ verifies with the
   * coordinator (KIP-890): only the current epoch may write, and only to a partition it added
   * to its open transaction. A batch that skipped AddPartitionsToTxn would otherwise escape
   * the markers and stay invisible to read_committed consumers for ever.
   */
  verifyProduce(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    partition: Partition,
  ): ErrorCodeValue {
    const txn = this.owner(transactionalId, producerId, producerEpoch)
    // Produce has no PRODUCER_FENCED: a partition refuses an old epoch with INVALID_PRODUCER_EPOCH.
    if (txn === ErrorCode.PRODUCER_FENCED) return ErrorCode.INVALID_PRODUCER_EPOCH
    if (typeof txn === 'number') return txn
    if (txn.state !== 'Ongoing' || !txn.partitions.has(partition)) return ErrorCode.INVALID_TXN_STATE
    return ErrorCode.NONE
  }

  /** Checks a TxnOffsetCommit: the current epoch, with the group added by AddOffsetsToTxn. */
  verifyOffsetCommit(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    groupId: string,
  ): ErrorCodeValue {
    const txn = this.owner(transactionalId, producerId, producerEpoch)
    // Like Produce, TxnOffsetCommit predates PRODUCER_FENCED.
    if (txn === ErrorCode.PRODUCER_FENCED) return ErrorCode.INVALID_PRODUCER_EPOCH
    if (typeof txn === 'number') return txn
    if (txn.state !== 'Ongoing' || !txn.groups.has(groupId)) return ErrorCode.INVALID_TXN_STATE
    return ErrorCode.NONE
  }

  list(): TransactionInfo[] {
    return [...this.transactions.values()].map((txn) => ({
      transactionalId: txn.transactionalId,
      producerId: txn.producerId,
      producerEpoch: txn.producerEpoch,
      state: txn.state,
      timeoutMs: txn.timeoutMs,
      partitions: [...txn.partitions].map((p) => `${p.topic}-${p.index}`),
      groups: [...txn.groups],
    }))
  }

  /** Cancels every timeout so a stopped cluster leaves nothing running. */
  shutdown(): void {
    for (const txn of this.transactions.values()) clearTransactionTimer(txn)
  }

  /** The transaction, if this producer id and epoch own it; otherwise the error that says why not. */
  private owner(transactionalId: string, producerId: number, producerEpoch: number): Transaction | ErrorCodeValue {
    if (transactionalId === '') return ErrorCode.INVALID_REQUEST
    const txn = this.transactions.get(transactionalId)
    if (!txn || txn.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING
    if (txn.producerEpoch !== producerEpoch) return ErrorCode.PRODUCER_FENCED
    return txn
  }

  private begin(txn: Transaction): void {
    if (txn.state === 'Ongoing') return
    txn.state = 'Ongoing'
    txn.startedAt = Date.now()
    const startedAt = txn.startedAt
    // Kafka sweeps for expired transactions every 10 s; a timer per transaction is exact.
    txn.timer = setTimeout(() => {
      txn.timer = null
      if (txn.state === 'Ongoing' && txn.startedAt === startedAt)
        this.finish(txn, false, fencingEpoch(txn.producerEpoch))
    }, txn.timeoutMs).unref()
  }

  /**
   * Ends the open transaction: a marker on every partition it spans, then the groups' offsets.
   * `markerEpoch` above the current epoch fences the producer (timeout, or a new incarnation),
   * so its late requests fail with INVALID_PRODUCER_EPOCH instead of reopening a transaction.
   */
  private finish(txn: Transaction, commit: boolean, markerEpoch: number): void {
    clearTransactionTimer(txn)
    txn.producerEpoch = markerEpoch
    for (const partition of txn.partitions) {
      // A partition of a topic deleted meanwhile is gone with its log; nothing to mark.
      if (this.cluster.partition(partition.topic, partition.index) === partition) {
        partition.writeTransactionMarker(txn.producerId, markerEpoch, commit, COORDINATOR_EPOCH)
      }
    }
    for (const groupId of txn.groups) this.groups.completeTransaction(groupId, txn.producerId, commit)
    txn.partitions.clear()
    txn.groups.clear()
    txn.startedAt = -1
    txn.state = commit ? 'CompleteCommit' : 'CompleteAbort'
  }
}

/** The epoch a coordinator-side abort writes its markers with: one up, unless exhausted. */
function fencingEpoch(epoch: number): number {
  return epoch >= LAST_EPOCH ? epoch : epoch + 1
}

function clearTransactionTimer(txn: Transaction): void {
  if (txn.timer) clearTimeout(txn.timer)
  txn.timer = null
}
