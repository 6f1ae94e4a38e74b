/**
 * Which partitions the application paused, by KafkaJS's rules: pausing a topic without partitions
 * pauses all of it, including partitions assigned later; resuming one partition of a paused topic
 * excepts it; resuming the topic clears both. Kept per consumer across assignments, as KafkaJS keeps
 * it across rebalances; the sidecar is told the same calls.
 */
import type { TopicPartitions } from 'kafkajs'

export interface PauseRequest {
  readonly topic: string
  readonly partitions?: number[]
}

interface TopicPauses {
  all: boolean
  readonly paused: Set<number>
  /** Partitions resumed while the whole topic is paused. */
  readonly resumed: Set<number>
}

export class PausedPartitions {
  private readonly topics = new Map<string, TopicPauses>()

  private stateOf(topic: string): TopicPauses {
    let state = this.topics.get(topic)
    if (!state) this.topics.set(topic, (state = { all: false, paused: new Set(), resumed: new Set() }))
    return state
  }

  pause(requests: readonly PauseRequest[]): void {
    for (const { topic, partitions } of requests) {
      const state = this.stateOf(topic)
      if (partitions === undefined) {
        state.paused.clear()
        state.resumed.clear()
        state.all = true
      } else {
        for (const p of partitions) {
          state.paused.add(p)
          state.resumed.delete(p)
        }
        state.all = false
      }
    }
  }

  resume(requests: readonly PauseRequest[]): void {
    for (const { topic, partitions } of requests) {
      const state = this.stateOf(topic)
      if (partitions === undefined) {
        state.paused.clear()
        state.resumed.clear()
        state.all = false
      } else {
        for (const p of partitions) {
          state.paused.delete(p)
          if (state.all) state.resumed.add(p)
        }
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

  /** The assigned partitions that are paused, as KafkaJS's consumer.paused() lists them. */
  pausedAmong(assigned: readonly TopicPartitions[]): TopicPartitions[] {
    return assigned
      .map(({ topic, partitions }) => ({
        topic,
        partitions: partitions.filter((p) => this.isPaused(topic, p)).sort(),
      }))
      .filter(({ partitions }) => partitions.length > 0)
  }

  /** Every pause call still in force, to tell a sidecar again after the stream was opened anew. */
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
}
