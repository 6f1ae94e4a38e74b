/**
 * What a process joins with, checked and put in the group member's terms: its subscriptions
 * (topic names and regular expressions, as KafkaJS's subscribe takes them), the union the member
 * subscribes to, and the KafkaJS consumer options its GroupSettings stand for.
 */
import type { ConsumerConfig } from 'kafkajs'
import type { GroupSettings, Subscription } from '@kafka-sidecar/proto'
import { invalidArgument } from '../errors.js'
import { topicNameProblem } from '../pipeline/validation.js'

/** One subscription: a topic name or a pattern, and where a partition without a committed offset starts. */
export interface TopicSubscription {
  /** `topic:<name>` or `pattern:/<source>/<flags>`: equal subscriptions have equal ids. */
  readonly id: string
  readonly topic?: string
  readonly pattern?: RegExp
  readonly fromBeginning: boolean
}

/** A process's subscriptions, checked. */
export class SubscriptionSet {
  constructor(readonly entries: readonly TopicSubscription[]) {}

  accepts(topic: string): boolean {
    return this.entries.some((s) => (s.topic !== undefined ? s.topic === topic : s.pattern!.test(topic)))
  }

  has(id: string): boolean {
    return this.entries.some((s) => s.id === id)
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
      .filter((s) => this.entries.some((mine) => mine.id === s.id && mine.fromBeginning !== s.fromBeginning))
      .map(
        (s) =>
          `${describe(s)}: fromBeginning ${s.fromBeginning} ignored, the group member reads it with ${!s.fromBeginning}`,
      )
  }
}

/** Checks a join's subscriptions: at least one, each a valid topic name or a compilable pattern. */
export function parseSubscriptions(subscriptions: readonly Subscription[]): SubscriptionSet {
  if (subscriptions.length === 0) throw invalidArgument('join.subscriptions is empty: subscribe to a topic first')
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

/** KafkaJS consumer options from GroupSettings (unset fields: KafkaJS's defaults). */
export function consumerConfig(groupId: string, settings: GroupSettings | undefined): ConsumerConfig {
  const s = settings ?? {}
  const config: ConsumerConfig = { groupId }
  if (s.sessionTimeoutMs !== undefined) config.sessionTimeout = s.sessionTimeoutMs
  if (s.rebalanceTimeoutMs !== undefined) config.rebalanceTimeout = s.rebalanceTimeoutMs
  if (s.heartbeatIntervalMs !== undefined) config.heartbeatInterval = s.heartbeatIntervalMs
  if (s.maxBytesPerPartition !== undefined) config.maxBytesPerPartition = s.maxBytesPerPartition
  if (s.minBytes !== undefined) config.minBytes = s.minBytes
  if (s.maxBytes !== undefined) config.maxBytes = s.maxBytes
  if (s.maxWaitTimeMs !== undefined) config.maxWaitTimeInMs = s.maxWaitTimeMs
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
