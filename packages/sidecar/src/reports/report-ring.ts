/**
 * A bounded ring of delivery reports for one producer instance. Sequence numbers start at 1 and
 * never repeat; when the ring is full the oldest report is overwritten, and a reader that asks
 * for it learns exactly which sequences it lost.
 */
import type { PartitionOutcome } from '../model.js'

export interface StoredReport {
  readonly sequence: number
  readonly requestId: number
  readonly outcome: PartitionOutcome
}

export type RingRead =
  | { readonly kind: 'report'; readonly report: StoredReport }
  | { readonly kind: 'gap'; readonly firstSequence: number; readonly lastSequence: number }

export class ReportRing {
  private readonly slots: Array<StoredReport | undefined>
  /** Sequence the next report gets. */
  nextSequence = 1

  constructor(readonly capacity: number) {
    this.slots = new Array(capacity)
  }

  get oldestSequence(): number {
    return Math.max(1, this.nextSequence - this.capacity)
  }

  push(requestId: number, outcome: PartitionOutcome): StoredReport {
    const report = { sequence: this.nextSequence++, requestId, outcome }
    this.slots[report.sequence % this.capacity] = report
    return report
  }

  /**
   * What a reader that has seen everything up to `afterSequence` reads next, at most `limit`
   * entries: a gap first if reports it has not seen were overwritten, then reports in order.
   */
  readAfter(afterSequence: number, limit = Infinity): RingRead[] {
    const out: RingRead[] = []
    let next = afterSequence + 1
    if (next < this.oldestSequence) {
      out.push({ kind: 'gap', firstSequence: next, lastSequence: this.oldestSequence - 1 })
      next = this.oldestSequence
    }
    for (; next < this.nextSequence && out.length < limit; next++)
      out.push({ kind: 'report', report: this.slots[next % this.capacity]! })
    return out
  }
}
