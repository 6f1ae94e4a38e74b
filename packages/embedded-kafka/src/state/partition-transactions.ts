/**
 * What one partition knows about transactions, the broker side of read_committed: which
 * producers have a transaction open here and from which offset (that bounds the last stable
 * offset), and which transactions were aborted (Kafka's aborted-transaction index, which Fetch
 * hands to read_committed consumers so they can drop those records).
 */

export interface AbortedTransaction {
  readonly producerId: number
  /** Offset of the transaction's first batch on this partition. */
  readonly firstOffset: number
  /** Offset of its ABORT marker. */
  readonly lastOffset: number
}

/** Where a transactional record stands: still open, or ended by a COMMIT or ABORT marker. */
export type TransactionOutcome = 'open' | 'committed' | 'aborted'

export class PartitionTransactions {
  /** producerId -> first offset of its open transaction here. A producer has at most one. */
  private readonly open = new Map<number, number>()
  /** In marker order, so ascending lastOffset; trimmed as retention drops the log's head. */
  private aborted: AbortedTransaction[] = []

  /** A transactional batch of `producerId` was appended at `baseOffset`. */
  recordBatch(producerId: number, baseOffset: number): void {
    if (!this.open.has(producerId)) this.open.set(producerId, baseOffset)
  }

  isOpen(producerId: number): boolean {
    return this.open.has(producerId)
  }

  /**
   * A marker at `markerOffset` ended the producer's transaction. A partition added to a
   * transaction but never written to gets a marker too, and has nothing to close.
   */
  complete(producerId: number, markerOffset: number, committed: boolean): void {
    const firstOffset = this.open.get(producerId)
    if (firstOffset === undefined) return
    this.open.delete(producerId)
    if (!committed) this.aborted.push({ producerId, firstOffset, lastOffset: markerOffset })
  }

  /**
   * The last stable offset: read_committed consumers may read below it. It is the first offset
   * of the earliest open transaction, since nothing after it can be shown until that one ends.
   */
  lastStableOffset(highWatermark: number): number {
    let lso = highWatermark
    for (const first of this.open.values()) if (first < lso) lso = first
    return lso
  }

  /**
   * Aborted transactions with records in [from, to), ordered by first offset: KafkaJS walks the
   * list in that order as it meets records, and a transaction that began before `from` but
   * ended after it still has records in range.
   */
  abortedBetween(from: number, to: number): AbortedTransaction[] {
    return this.aborted
      .filter((t) => t.lastOffset >= from && t.firstOffset < to)
      .sort((a, b) => a.firstOffset - b.firstOffset)
  }

  /** The outcome of a transactional record of `producerId` at `offset`. */
  outcomeOf(producerId: number, offset: number): TransactionOutcome {
    const openFrom = this.open.get(producerId)
    if (openFrom !== undefined && offset >= openFrom) return 'open'
    const aborted = this.aborted.some(
      (t) => t.producerId === producerId && t.firstOffset <= offset && offset <= t.lastOffset,
    )
    return aborted ? 'aborted' : 'committed'
  }

  /** Forgets aborted transactions wholly below the log start offset (retention dropped them). */
  trim(logStartOffset: number): void {
    if (this.aborted.length > 0 && this.aborted[0]!.lastOffset < logStartOffset) {
      this.aborted = this.aborted.filter((t) => t.lastOffset >= logStartOffset)
    }
  }
}
