/**
 * When a consumer commits on its own, by KafkaJS 2.2.4's rules (runner.js, offsetManager):
 * - with `autoCommit` (the default), at the end of every batch, and before a failed batch's error
 *   goes to the retry: whatever is resolved and not yet committed. This holds whatever
 *   `autoCommitInterval` and `autoCommitThreshold` say (KafkaJS's code does so, though its docs
 *   suggest otherwise; the reference test shows it).
 * - within a batch, after each message (eachMessage) and when eachBatch calls
 *   commitOffsetsIfNecessary(): only once `autoCommitInterval` ms passed since the last commit, or
 *   `autoCommitThreshold` offsets are resolved and not committed. After each message this needs
 *   `autoCommit`; commitOffsetsIfNecessary() from eachBatch does not.
 */
/** Offsets resolved and not committed, or how to count them: counted only when a threshold is set (it runs after every message). */
type Count = bigint | (() => bigint)

export interface CommitSettings {
  readonly autoCommit: boolean
  readonly autoCommitInterval: number | null
  readonly autoCommitThreshold: number | null
}

export class CommitPolicy {
  private lastCommit: number

  constructor(
    private readonly settings: CommitSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.lastCommit = now()
  }

  get autoCommit(): boolean {
    return this.settings.autoCommit
  }

  /** At a batch's end or failure (KafkaJS's autoCommitOffsets). */
  commitsAfterBatch(): boolean {
    return this.settings.autoCommit
  }

  /** Within a batch (KafkaJS's commitOffsetsIfNecessary): the interval passed, or the threshold reached. */
  isNecessary(resolvedNotCommitted: Count): boolean {
    const { autoCommitInterval: interval, autoCommitThreshold: threshold } = this.settings
    if (interval == null && threshold == null) return false
    const intervalPassed = interval != null && this.now() >= this.lastCommit + interval
    if (intervalPassed || threshold == null) return intervalPassed
    const count = typeof resolvedNotCommitted === 'function' ? resolvedNotCommitted() : resolvedNotCommitted
    return count >= BigInt(threshold)
  }

  /** After each message of eachMessage (KafkaJS's autoCommitOffsetsIfNecessary). */
  commitsAfterMessage(resolvedNotCommitted: Count): boolean {
    return this.settings.autoCommit && this.isNecessary(resolvedNotCommitted)
  }

  /** A commit happened, or there was nothing to commit: the interval starts again (as in KafkaJS). */
  committed(): void {
    this.lastCommit = this.now()
  }
}

/** KafkaJS's run() defaults: autoCommit true, neither interval nor threshold. */
export function commitSettings(config: {
  autoCommit?: boolean
  autoCommitInterval?: number | null
  autoCommitThreshold?: number | null
}): CommitSettings {
  return {
    // A default parameter, as KafkaJS's: only `undefined` takes it (`null` turns auto-commit off).
    autoCommit: config.autoCommit === undefined ? true : Boolean(config.autoCommit),
    autoCommitInterval: config.autoCommitInterval ?? null,
    autoCommitThreshold: config.autoCommitThreshold ?? null,
  }
}
