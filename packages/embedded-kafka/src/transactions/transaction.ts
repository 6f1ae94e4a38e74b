/**
 * One transactional id's state, as Kafka's TransactionMetadata keeps it in __transaction_state:
 * the producer id and epoch it currently owns, its timeout, and what the open transaction spans.
 * Markers are written synchronously here, so the Prepare* states Kafka passes through while its
 * markers are in flight never last beyond one request and are not modelled.
 */
import type { Partition } from '../state/topic.js'

export type TransactionState = 'Empty' | 'Ongoing' | 'CompleteCommit' | 'CompleteAbort'

export class Transaction {
  state: TransactionState = 'Empty'
  /** Partitions written (or to be written) in the open transaction: each gets a marker. */
  readonly partitions = new Set<Partition>()
  /** Consumer groups whose TxnOffsetCommit offsets the open transaction carries. */
  readonly groups = new Set<string>()
  /** When the open transaction began (its first AddPartitionsToTxn/AddOffsetsToTxn); -1 when none. */
  startedAt = -1
  /** Aborts the open transaction once it outlives timeoutMs. */
  timer: NodeJS.Timeout | null = null

  constructor(
    readonly transactionalId: string,
    public producerId: number,
    public producerEpoch: number,
    public timeoutMs: number,
  ) {}
}
