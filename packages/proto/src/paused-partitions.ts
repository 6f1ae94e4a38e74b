/**
 * What one consumer paused, by KafkaJS 2.2.4's rules (its SubscriptionState). The client keeps
 * it to answer `paused()` and to say again on a new stream what is in force; the sidecar keeps
 * the same calls, as the client sent them, to decide which of the process's partitions it holds
 * back. Both must read the calls alike, so the rules live here, once, beside the contract:
 * - pausing a whole topic pauses every partition of it, those assigned later included, and
 *   forgets earlier per-partition pauses and resumes of it;
 * - resuming one partition of a whole-paused topic excepts that partition only;
 * - pausing some partitions of a topic pauses those, and ends a whole-topic pause of it (KafkaJS
 *   does so: pause(topic) then pause([p1]) leaves only p1 paused);
 * - resuming a whole topic ends every pause of it.
 * Kept across assignments, as KafkaJS keeps it across rebalances.
 */

/** One topic of a pause() or resume() call; without partitions, the whole topic. */
export interface PauseRequest {
  readonly topic: string
  readonly partitions?: readonly number[]
}

interface TopicPauses {
  /** The whole topic is paused, except the partitions in `resumed`. */
  all: boolean
  readonly paused: Set<number>
  readonly resumed: Set<number>
}

export class PausedPartitions {
  private readonly topics = new Map<string, TopicPauses>()

  pause(requests: readonly PauseRequest[]): void {
    for (const { topic, partitions } of requests) {
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

  resume(requests: readonly PauseRequest[]): void {
    for (const { topic, partitions } of requests) {
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

  /** The whole topic is paused (KafkaJS's pauseAll), bar partitions resumed since. */
  isWhollyPaused(topic: string): boolean {
    return this.topics.get(topic)?.all ?? false
  }

  isPaused(topic: string, partition: number): boolean {
    const state = this.topics.get(topic)
    if (!state) return false
    return (state.all && !state.resumed.has(partition)) || state.paused.has(partition)
  }

  /**
   * KafkaJS's paused(): of the given partitions, the paused ones, by topic (topics with none left
   * out), each topic's partitions sorted as KafkaJS sorts them (Array#sort without a comparator).
   */
  pausedAmong(
    assigned: ReadonlyArray<{ readonly topic: string; readonly partitions: readonly number[] }>,
  ): Array<{ topic: string; partitions: number[] }> {
    return assigned
      .map(({ topic, partitions }) => ({
        topic,
        partitions: partitions.filter((p) => this.isPaused(topic, p)).sort(),
      }))
      .filter(({ partitions }) => partitions.length > 0)
  }

  /** Every call still in force, to tell the sidecar again after the stream was opened anew. */
  asRequests(): { pause: PauseRequest[]; resume: PauseRequest[] } {
    const pause: PauseRequest[] = []
    const resume: PauseRequest[] = []
    for (const [topic, state] of this.topics) {
      if (state.all) pause.push({ topic })
      if (state.paused.size > 0) pause.push({ topic, partitions: [...state.paused] })
      if (state.resumed.size > 0) resume.push({ topic, partitions: [...state.resumed] })
    }
    return { pause, resume }
  }

  private stateOf(topic: string): TopicPauses {
    let state = this.topics.get(topic)
    if (!state) this.topics.set(topic, (state = { all: false, paused: new Set(), resumed: new Set() }))
    return state
  }
}
