/**
 * What a process joins with, checked and put in the group member's terms: its subscriptions
 * (topic names and regular expressions, as KafkaJS's subscribe takes them), the union the member
 * subscribes to, and the KafkaJS consumer options its GroupSettings stand for.
 */
import type { ConsumerConfig } from 'kafkajs'
import type { GroupSettings, Subscription } from '@kafka-sidecar/proto'
import { invalidArgument } from '../errors.js'
import { topicNameProblem } from '../pipeline/validation.js'
import { backtrackingRisk } from './pattern-safety.js'

/** One subscription: a topic name or a pattern, and where a partition without a committed offset starts. */
export interface TopicSubscription {
  /** `topic:<name>` or `pattern:/<source>/<flags>`: equal subscriptions have equal ids. */
  readonly id: string
  readonly topic?: string
  readonly pattern?: RegExp
  readonly fromBeginning: boolean
}

/** Most subscriptions one join may carry: each is checked against every topic of the cluster. */
export const MAX_SUBSCRIPTIONS_PER_JOIN = 1_000
/** Longest pattern source a subscription may carry. */
export const MAX_PATTERN_LENGTH = 1_000
/** Topic names whose match is remembered per set; past it the memory starts over. */
const MAX_REMEMBERED_MATCHES = 100_000

/** A process's subscriptions, checked. Lookups are by id and by topic name, linear in the set. */
export class SubscriptionSet {
  private readonly byId: ReadonlyMap<string, TopicSubscription>
  private readonly topics: ReadonlySet<string>
  private readonly patterns: readonly RegExp[]
  /** Each pattern runs once per topic name: the answer is remembered. */
  private readonly matches = new Map<string, boolean>()

  constructor(readonly entries: readonly TopicSubscription[]) {
    this.byId = new Map(entries.map((s) => [s.id, s]))
    this.topics = new Set(entries.flatMap((s) => (s.topic !== undefined ? [s.topic] : [])))
    this.patterns = entries.flatMap((s) => (s.pattern ? [s.pattern] : []))
  }

  accepts(topic: string): boolean {
    if (this.topics.has(topic)) return true
    let match = this.matches.get(topic)
    if (match === undefined) {
      match = this.patterns.some((p) => p.test(topic))
      if (this.matches.size >= MAX_REMEMBERED_MATCHES) this.matches.clear()
      this.matches.set(topic, match)
    }
    return match
  }

  has(id: string): boolean {
    return this.byId.has(id)
  }

  /** This set plus what `other` has that it lacks (the first seen keeps its fromBeginning). */
  union(other: SubscriptionSet): SubscriptionSet {
    return new SubscriptionSet([...this.entries, ...other.entries.filter((s) => !this.has(s.id))])
  }

  /** Whether every subscription of `other` is one of these (same topic, or the same pattern). */
  covers(other: SubscriptionSet): boolean {
    return other.entries.every((s) => this.has(s.id))
  }

  /** Subscriptions both have with a different fromBeginning, named. */
  fromBeginningDifferences(other: SubscriptionSet): string[] {
    return other.entries
      .filter((s) => {
        const mine = this.byId.get(s.id)
        return mine !== undefined && mine.fromBeginning !== s.fromBeginning
      })
      .map(
        (s) =>
          `${describe(s)}: fromBeginning ${s.fromBeginning} ignored, the group member reads it with ${!s.fromBeginning}`,
      )
  }
}

/** The union of several processes' subscriptions (null when there are none). */
export function unionOf(sets: readonly SubscriptionSet[]): SubscriptionSet | null {
  if (sets.length === 0) return null
  const byId = new Map<string, TopicSubscription>()
  for (const set of sets) for (const s of set.entries) if (!byId.has(s.id)) byId.set(s.id, s)
  return new SubscriptionSet([...byId.values()])
}

/**
 * Checks a join's subscriptions: at least one and at most MAX_SUBSCRIPTIONS_PER_JOIN, each a valid
 * topic name or a compilable pattern of bounded length that cannot backtrack catastrophically.
 */
export function parseSubscriptions(subscriptions: readonly Subscription[]): SubscriptionSet {
  if (subscriptions.length === 0) throw invalidArgument('join.subscriptions is empty: subscribe to a topic first')
  if (subscriptions.length > MAX_SUBSCRIPTIONS_PER_JOIN)
    throw invalidArgument(
      `join.subscriptions has ${subscriptions.length} entries, more than the most allowed, ${MAX_SUBSCRIPTIONS_PER_JOIN} (subscribe with a pattern instead)`,
    )
  return new SubscriptionSet(subscriptions.map(parseSubscription))
}

function parseSubscription(subscription: Subscription, index: number): TopicSubscription {
  const { topicOrPattern, fromBeginning } = subscription
  if (!topicOrPattern) throw invalidArgument(`join.subscriptions[${index}] names neither a topic nor a pattern`)
  if (topicOrPattern.$case === 'topic') {
    const problem = topicNameProblem(topicOrPattern.value)
    if (problem) throw invalidArgument(`join.subscriptions[${index}]: invalid topic: ${problem}`)
    return { id: `topic:${topicOrPattern.value}`, topic: topicOrPattern.value, fromBeginning }
  }
  const { source, flags } = topicOrPattern.value
  if (source.length > MAX_PATTERN_LENGTH)
    throw invalidArgument(
      `join.subscriptions[${index}]: pattern source of ${source.length} characters is longer than the most allowed, ${MAX_PATTERN_LENGTH}`,
    )
  const risk = backtrackingRisk(source)
  if (risk) throw invalidArgument(`join.subscriptions[${index}]: pattern /${source}/${flags} refused: ${risk}`)
  let pattern: RegExp
  try {
    // A global or sticky pattern's test() depends on the last match: matching topics must not.
    pattern = new RegExp(source, flags.replace(/[gy]/g, ''))
  } catch (error) {
    throw invalidArgument(
      `join.subscriptions[${index}]: invalid pattern /${source}/${flags}: ${(error as Error).message}`,
    )
  }
  return { id: `pattern:/${pattern.source}/${pattern.flags}`, pattern, fromBeginning }
}

function describe(s: TopicSubscription): string {
  return s.topic !== undefined ? `topic "${s.topic}"` : `pattern ${String(s.pattern)}`
}

/**
 * The longest the member's KafkaJS waits per fetch (Java's and librdkafka's default fetch wait).
 * KafkaJS's maxWaitTimeInMs (5 s by default) is also how long its fetcher sleeps when every
 * partition of a broker is paused, and nothing wakes it: the member pauses partitions itself when
 * its buffers fill, and a partition resumed meanwhile waited out the sleep (3.3 s of a 400,000
 * record backlog with nothing fetched). With minBytes 1 (KafkaJS's default) a fetch returns as
 * soon as there are records, so the bound only adds empty fetches while a partition is idle.
 */
const MAX_FETCH_WAIT_MS = 500

/** KafkaJS consumer options from GroupSettings (unset fields: KafkaJS's defaults, the fetch wait at most 500 ms). */
export function consumerConfig(groupId: string, settings: GroupSettings | undefined): ConsumerConfig {
  const s = settings ?? {}
  const config: ConsumerConfig = { groupId }
  if (s.sessionTimeoutMs !== undefined) config.sessionTimeout = s.sessionTimeoutMs
  if (s.rebalanceTimeoutMs !== undefined) config.rebalanceTimeout = s.rebalanceTimeoutMs
  if (s.heartbeatIntervalMs !== undefined) config.heartbeatInterval = s.heartbeatIntervalMs
  if (s.maxBytesPerPartition !== undefined) config.maxBytesPerPartition = s.maxBytesPerPartition
  if (s.minBytes !== undefined) config.minBytes = s.minBytes
  if (s.maxBytes !== undefined) config.maxBytes = s.maxBytes
  config.maxWaitTimeInMs = Math.min(s.maxWaitTimeMs ?? MAX_FETCH_WAIT_MS, MAX_FETCH_WAIT_MS)
  if (s.readUncommitted !== undefined) config.readUncommitted = s.readUncommitted
  if (s.rackId !== undefined) config.rackId = s.rackId
  if (s.allowAutoTopicCreation !== undefined) config.allowAutoTopicCreation = s.allowAutoTopicCreation
  if (s.metadataMaxAgeMs !== undefined) config.metadataMaxAge = s.metadataMaxAgeMs
  const heartbeat = config.heartbeatInterval ?? 3_000
  const session = config.sessionTimeout ?? 30_000
  if (heartbeat >= session)
    throw invalidArgument(
      `join.settings: heartbeat_interval_ms (${heartbeat}) must be lower than session_timeout_ms (${session}), as KafkaJS requires`,
    )
  return config
}

/** The settings of a later process that differ from the group member's, named (for `joined.warnings`). */
export function settingsDifferences(member: GroupSettings | undefined, joiner: GroupSettings | undefined): string[] {
  const a = (member ?? {}) as Record<string, unknown>
  const b = (joiner ?? {}) as Record<string, unknown>
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()
  return keys
    .filter((key) => a[key] !== b[key])
    .map(
      (key) =>
        `settings.${key}: ${String(b[key] ?? 'unset')} ignored, the group member was created with ${String(a[key] ?? 'unset')} (the first process's)`,
    )
}
