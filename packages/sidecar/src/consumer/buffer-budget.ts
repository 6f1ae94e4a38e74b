/**
 * The sidecar-wide bound on fetched records buffered by all its group members (the per-partition
 * bound alone lets a pod with many partitions buffer without limit). Over the bound, each member
 * pauses in KafkaJS the partitions whose fetches land; once the total is back under half the
 * bound, every member is told to resume what it paused and has room for.
 */
export class BufferBudget {
  private readonly members = new Set<BudgetHolder>()
  /** Some member paused a partition for the budget: tell them all when there is room again. */
  private waiting = false

  constructor(readonly limitBytes: number) {}

  /** Registers a member; returns its removal. */
  hold(member: BudgetHolder): () => void {
    this.members.add(member)
    return () => this.members.delete(member)
  }

  /** Whether the members buffer the limit or more now. A member that finds it so pauses, and is told later. */
  full(): boolean {
    const over = this.total() >= this.limitBytes
    if (over) this.waiting = true
    return over
  }

  /** Whether buffering more is fine: under half the limit (so resuming does not flap at the bound). */
  roomy(): boolean {
    return this.total() <= this.limitBytes / 2
  }

  /** A member freed buffered bytes: when some paused for the budget and there is room, all resume. */
  freed(): void {
    if (!this.waiting || !this.roomy()) return
    this.waiting = false
    for (const member of this.members) member.budgetRoom()
  }

  private total(): number {
    let sum = 0
    for (const member of this.members) sum += member.bufferedBytes
    return sum
  }
}

export interface BudgetHolder {
  readonly bufferedBytes: number
  /** The budget has room again: resume partitions paused for it. */
  budgetRoom(): void
}
