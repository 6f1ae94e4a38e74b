/**
 * What one consumer instance paused, with KafkaJS 2.2.4's rules (its SubscriptionState), so a
 * program pauses and resumes in sidecar mode exactly as it does on KafkaJS:
 * - pausing a whole topic pauses every partition of it, those the instance gets later included,
 *   and forgets earlier per-partition pauses and resumes of it;
 * - resuming one partition of a whole-paused topic resumes that partition only;
 * - pausing some partitions of a topic pauses those, and ends a whole-topic pause of it (KafkaJS
 *   does so: pause(topic) then pause([p1]) leaves only p1 paused);
 * - resuming a whole topic ends every pause of it.
 */

interface TopicPauses {
  /** The whole topic is paused, except the partitions in `resumed`. */
  all: boolean
  readonly paused: Set<number>
  readonly resumed: Set<number>
}

export interface PauseChange {
  readonly topic: string
  /** Undefined: the whole topic (KafkaJS's pause({ topic }) without partitions). */
  readonly partitions?: readonly number[]
}

export class PausedPartitions {
  private readonly topics = new Map<string, TopicPauses>()

  pause(changes: readonly PauseChange[]): void {
    for (const { topic, partitions } of changes) {
      const state = this.stateOf(topic)
      if (partitions === undefined) {
        state.paused.clear()
        state.resumed.clear()
        state.all = true
        continue
      }
      for (const partition of partitions) {
        state.paused.add(partition)
        state.resumed.delete(partition)
      }
      state.all = false
    }
  }

  resume(changes: readonly PauseChange[]): void {
    for (const { topic, partitions } of changes) {
      const state = this.stateOf(topic)
      if (partitions === undefined) {
        state.paused.clear()
        state.resumed.clear()
        state.all = false
        continue
      }
      for (const partition of partitions) {
        state.paused.delete(partition)
        if (state.all) state.resumed.add(partition)
      }
    }
  }

  isPaused(topic: string, partition: number): boolean {
    const state = this.topics.get(topic)
    if (!state) return false
    return (state.all && !state.resumed.has(partition)) || state.paused.has(partition)
  }

  /** KafkaJS's paused(): of the given partitions, the paused ones, by topic (topics with none left out). */
  paused(
    assigned: ReadonlyArray<{ topic: string; partitions: readonly number[] }>,
  ): Array<{ topic: string; partitions: number[] }> {
    return assigned
      .map(({ topic, partitions }) => ({
        topic,
        partitions: partitions.filter((p) => this.isPaused(topic, p)).sort((a, b) => a - b),
      }))
      .filter(({ partitions }) => partitions.length > 0)
  }

  private stateOf(topic: string): TopicPauses {
    let state = this.topics.get(topic)
    if (!state) {
      state = { all: false, paused: new Set(), resumed: new Set() }
      this.topics.set(topic, state)
    }
    return state
  }
}
