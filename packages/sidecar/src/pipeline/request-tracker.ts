/**
 * Follows one accepted request until every one of its records has an outcome, then settles it
 * once. A request's records for one partition leave in one batch (PartitionQueue.take), so a
 * caller sees what KafkaJS's send() would report: one RecordMetadata per topic-partition; should
 * they ever come back in pieces, consecutive successful pieces with contiguous offsets are merged.
 */
import type { SidecarError } from '../errors.js'
import type { PartitionOutcome, ProduceRequest } from '../model.js'

export class RequestTracker {
  private remaining: number
  private readonly outcomes: PartitionOutcome[] = []
  private settledOutcomes: Promise<PartitionOutcome[]>
  private resolveSettled!: (outcomes: PartitionOutcome[]) => void

  constructor(
    readonly request: ProduceRequest,
    readonly acceptedAt: number,
  ) {
    this.remaining = request.records.length
    this.settledOutcomes = new Promise((resolve) => (this.resolveSettled = resolve))
  }

  /** Resolves with every outcome once the last record is settled. Never rejects. */
  get settled(): Promise<PartitionOutcome[]> {
    return this.settledOutcomes
  }

  get isSettled(): boolean {
    return this.remaining === 0
  }

  record(
    topic: string,
    partition: number,
    recordIndexes: number[],
    result: { baseOffset: number; logAppendTimeMs: number; logStartOffset: number } | null,
    error: SidecarError | null,
  ): void {
    const last = this.outcomes.findLast((o) => o.topic === topic && o.partition === partition)
    const mergeable =
      last !== undefined &&
      error === null &&
      last.error === null &&
      result !== null &&
      last.baseOffset + last.recordIndexes.length === result.baseOffset
    if (mergeable) {
      ;(last.recordIndexes as number[]).push(...recordIndexes)
    } else {
      this.outcomes.push({
        topic,
        partition,
        baseOffset: result?.baseOffset ?? -1,
        logAppendTimeMs: result?.logAppendTimeMs ?? -1,
        logStartOffset: result?.logStartOffset ?? -1,
        recordIndexes,
        error,
      })
    }
    this.remaining -= recordIndexes.length
    if (this.remaining === 0) this.resolveSettled(this.outcomes)
  }
}
