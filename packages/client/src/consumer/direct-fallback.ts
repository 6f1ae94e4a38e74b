/**
 * A sidecar consumer's direct fallback (docs/consumers.md, "When the sidecar fails"): after the
 * consumer's `fallbackAfterMs` without a stream to the sidecar, the process joins the group
 * itself as KafkaJS's own consumer (same groupId and config, same subscriptions, same run config
 * and handlers; the group's committed offsets continue), with its events passed on to the
 * application's listeners. When the sidecar answers again the direct consumer is disconnected:
 * KafkaJS stops after the message in hand, commits what was resolved (auto-commit) and leaves
 * the group; then the consumer joins through the sidecar again.
 */
import type { Subscription } from '@kafka-sidecar/proto'
import type { Consumer, ConsumerRunConfig, Logger } from 'kafkajs'
import { untraced } from '../tracing/kafkajs-instrumentation.js'

export interface DirectFallbackParts {
  /** KafkaJS's consumer for the same Kafka and config, made anew for each outage. */
  readonly create: () => Consumer
  /** Passes one of its events on to the application's listeners. */
  readonly forward: (type: string, payload: unknown) => void
  readonly log: Logger
}

/** Its lifecycle events are the sidecar consumer's own to emit: it did not connect, stop or disconnect. */
const NOT_FORWARDED = new Set(['consumer.connect', 'consumer.stop', 'consumer.disconnect'])

export class DirectFallback {
  private consumer: Consumer | null = null

  constructor(private readonly parts: DirectFallbackParts) {}

  get active(): boolean {
    return this.consumer !== null
  }

  /** The direct consumer while it runs: seek, pause, commits and describeGroup go to it. */
  get running(): Consumer | null {
    return this.consumer
  }

  /** Connects, subscribes as the application did, and runs the application's handlers. */
  async start(subscriptions: readonly Subscription[], runConfig: ConsumerRunConfig): Promise<void> {
    const consumer = this.parts.create()
    this.consumer = consumer
    for (const type of Object.values(consumer.events) as string[])
      if (!NOT_FORWARDED.has(type))
        consumer.on(type as never, (event: { payload: unknown }) => this.parts.forward(type, event.payload))
    try {
      await consumer.connect()
      for (const { topicOrPattern, fromBeginning } of subscriptions) {
        const topic =
          topicOrPattern?.$case === 'pattern'
            ? new RegExp(topicOrPattern.value.source, topicOrPattern.value.flags)
            : (topicOrPattern?.value ?? '')
        await consumer.subscribe({ topics: [topic], fromBeginning })
      }
      await consumer.run(ownRunConfig(runConfig))
    } catch (error) {
      this.parts.log.error('The direct fallback consumer could not start', { error: (error as Error).message })
      await this.stop()
      throw error
    }
  }

  /** Stops after the message in hand, commits (auto-commit), leaves the group and disconnects. */
  async stop(): Promise<void> {
    const consumer = this.consumer
    this.consumer = null
    await consumer?.disconnect()
  }
}

/**
 * The run config for the direct consumer: a copy, with the application's handlers as it gave
 * them. The instrumentation's run() wraps the handlers of the config it is given in place; those
 * of the sidecar consumer's config are wrapped for the sidecar consumer already, and unwrapping
 * them through a copy would restore the original's (shimmer's unwrap acts on the object it
 * wrapped): spans twice during the fallback, none after it.
 */
function ownRunConfig(runConfig: ConsumerRunConfig): ConsumerRunConfig {
  const { eachMessage, eachBatch } = runConfig
  return {
    ...runConfig,
    ...(eachMessage ? { eachMessage: untraced(eachMessage) } : {}),
    ...(eachBatch ? { eachBatch: untraced(eachBatch) } : {}),
  }
}
