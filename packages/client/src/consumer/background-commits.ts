/**
 * Auto-commits that the run loop does not wait for. KafkaJS awaits its auto-commit after every
 * batch, one request to the group coordinator; here a commit crosses the sidecar too (process to
 * sidecar to broker and back), and waiting for it held every partition of the process (measured:
 * most of the end-to-end latency at 2,000 records/s). So the commit is sent and the next batch
 * starts. What is committed is unchanged: only resolved offsets, as KafkaJS commits them (at a
 * batch's end, the partitions resolved and not committed: usually that batch's one).
 *
 * One commit at a time per partition: a partition whose commit is in flight is committed again
 * once it is answered, with what it resolved meanwhile, so its commits land in order (the
 * sidecar's KafkaJS retries a failed commit, which could otherwise land after a later one). A
 * failure goes to `onError`; the run loop takes it as a failed batch's (a rejoin, or a retry).
 */
export class BackgroundCommits {
  private readonly inFlight = new Set<Promise<void>>()

  constructor(
    /**
     * Commits the partitions resolved, not committed and without a commit in flight (with
     * `waiting`: only those that were asked for while their commit was in flight); null when none.
     */
    private readonly commitIdle: (waiting: boolean) => Promise<void> | null,
    private readonly onError: (error: Error) => void,
  ) {}

  request(waiting = false): void {
    const sending = this.commitIdle(waiting)
    if (!sending) return
    const tracked: Promise<void> = sending.then(
      () => {
        this.inFlight.delete(tracked)
        // Partitions asked for while their commit was in flight, with what they resolved meanwhile.
        this.request(true)
      },
      (error: unknown) => {
        this.inFlight.delete(tracked)
        this.onError(error instanceof Error ? error : new Error(String(error)))
      },
    )
    this.inFlight.add(tracked)
  }

  /** Resolves once no commit is in flight (stop() and a release wait for this before their own commit). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight)
  }
}
