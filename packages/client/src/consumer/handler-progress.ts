/**
 * Whether the run loop is getting anywhere, for the `alive` timer: KafkaJS heartbeats only from its
 * runner (between batches, after messages, when an eachBatch handler calls heartbeat()), so a
 * handler that never returns stops its heartbeats and the group takes its partitions after
 * sessionTimeout. Here the same: `alive` proves progress, and a process stuck in a handler falls
 * silent, so the sidecar's process timeout moves its partitions.
 */
export class HandlerProgress {
  private inHandlers = 0
  private lastAt = Date.now()

  /** The application's handler was called (an eachMessage, or an eachBatch). */
  started(): void {
    this.inHandlers++
    this.note()
  }

  /** The handler returned or threw. */
  finished(): void {
    this.inHandlers--
    this.note()
  }

  /** A message was finished, or the handler called heartbeat(). */
  note(): void {
    this.lastAt = Date.now()
  }

  /** When the run loop last progressed while a handler runs; null when none does (nothing to prove). */
  get since(): number | null {
    return this.inHandlers > 0 ? this.lastAt : null
  }
}
