/**
 * The consumer `kafka.consumer({ groupId, deadLetter })` returns, in either mode: the consumer
 * the mode gives (KafkaJS's own, or SidecarConsumer), with its `run` wrapping the application's
 * handler (dead-letter-handler.ts) and one event more, DEAD_LETTER. Everything else is the inner
 * consumer's. Without `deadLetter`, kafka.consumer() returns the inner consumer itself.
 */
import type {
  Consumer,
  ConsumerRunConfig,
  InstrumentationEvent,
  Logger,
  RemoveInstrumentationEventListener,
} from 'kafkajs'
import { KAFKAJS_CONSUMER_KEYS, showKafkaJSSurface } from '../producer/kafkajs-surface.js'
import { ConsumerEvents } from './consumer-events.js'
import { DeadLetterHandlers } from './dead-letter-handler.js'
import type { DeadLetterPolicy } from './dead-letter-options.js'
import {
  DEAD_LETTER_EVENTS,
  DeadLetterWriter,
  type DeadLetterEventPayload,
  type DeadLetterProducer,
} from './dead-letter-writer.js'

/** A consumer with a dead-letter topic: KafkaJS's Consumer, plus DEAD_LETTER in `events` and `on`. */
export interface DeadLetterConsumer extends Consumer {
  readonly events: Consumer['events'] & typeof DEAD_LETTER_EVENTS
  on: ((
    eventName: typeof DEAD_LETTER_EVENTS.DEAD_LETTER,
    listener: (event: InstrumentationEvent<DeadLetterEventPayload>) => void,
  ) => RemoveInstrumentationEventListener<typeof DEAD_LETTER_EVENTS.DEAD_LETTER>) &
    Consumer['on']
}

export interface DeadLetterConsumerParts {
  /** The consumer the mode gives. */
  readonly inner: Consumer
  readonly policy: DeadLetterPolicy
  readonly groupId: string
  readonly heartbeatInterval: number
  /** A producer of the consumer's own Kafka, made at the first record to dead-letter. */
  createProducer(): DeadLetterProducer
}

export class DeadLetterConsumerImpl implements DeadLetterConsumer {
  readonly events: DeadLetterConsumer['events']
  private readonly inner: Consumer
  private readonly log: Logger
  private readonly emitter: ConsumerEvents
  private readonly writer: DeadLetterWriter
  private readonly handlers: DeadLetterHandlers
  private readonly policy: DeadLetterPolicy
  private readonly groupId: string
  /** Aborted by stop() and disconnect(), so handlers waiting to try a record again give up at once. */
  private stopping = new AbortController()

  constructor(parts: DeadLetterConsumerParts) {
    this.inner = parts.inner
    this.policy = parts.policy
    this.groupId = parts.groupId
    this.log = parts.inner.logger()
    this.events = Object.freeze({ ...parts.inner.events, ...DEAD_LETTER_EVENTS })
    // Its own emitter for its own event; every other name is the inner consumer's.
    this.emitter = new ConsumerEvents(this.log, DEAD_LETTER_EVENTS as unknown as Consumer['events'])
    this.writer = new DeadLetterWriter(parts.policy, () => parts.createProducer(), this.emitter, this.log)
    this.handlers = new DeadLetterHandlers({
      policy: parts.policy,
      groupId: parts.groupId,
      log: this.log,
      heartbeatInterval: parts.heartbeatInterval,
      deadLetter: (failure) => this.writer.write(failure),
      stopSignal: () => this.stopping.signal,
    })
    showKafkaJSSurface(this, KAFKAJS_CONSUMER_KEYS)
  }

  readonly on: DeadLetterConsumer['on'] = ((eventName: string, listener: (event: never) => unknown) =>
    eventName === DEAD_LETTER_EVENTS.DEAD_LETTER
      ? this.emitter.listen(eventName, listener as never)
      : this.inner.on(eventName as never, listener as never)) as DeadLetterConsumer['on']

  run(config: ConsumerRunConfig = {}): Promise<void> {
    if (this.stopping.signal.aborted) this.stopping = new AbortController()
    const { eachMessage, eachBatch, eachBatchAutoResolve = true } = config
    return this.inner.run({
      ...config,
      ...(eachMessage ? { eachMessage: this.handlers.eachMessage(eachMessage) } : {}),
      ...(eachBatch ? { eachBatch: this.handlers.eachBatch(eachBatch, eachBatchAutoResolve) } : {}),
    })
  }

  stop(): Promise<void> {
    this.stopping.abort()
    return this.inner.stop()
  }

  async disconnect(): Promise<void> {
    this.stopping.abort()
    try {
      await this.inner.disconnect()
    } finally {
      // After the consumer: a handler it waited for may have been writing a record.
      await this.writer.close()
    }
  }

  connect(): Promise<void> {
    return this.inner.connect()
  }

  subscribe(...args: Parameters<Consumer['subscribe']>): Promise<void> {
    this.warnIfReadingItsDeadLetters(args[0])
    return this.inner.subscribe(...args)
  }

  /** A consumer of its own dead-letter topic would send a record that keeps failing round and round. */
  private warnIfReadingItsDeadLetters(subscription: Parameters<Consumer['subscribe']>[0]): void {
    const { topic } = this.policy
    const named = 'topics' in subscription ? subscription.topics : [subscription.topic]
    const matching = named.filter((t) =>
      t instanceof RegExp ? new RegExp(t.source, t.flags.replace(/[gy]/g, '')).test(topic) : t === topic,
    )
    if (matching.length > 0)
      this.log.warn(
        `this consumer subscribes to its own dead-letter topic ${topic} (${String(matching[0])}): a record that keeps failing would be written there and read again, round and round`,
        { groupId: this.groupId, deadLetterTopic: topic },
      )
  }

  commitOffsets(...args: Parameters<Consumer['commitOffsets']>): Promise<void> {
    return this.inner.commitOffsets(...args)
  }

  seek(...args: Parameters<Consumer['seek']>): void {
    this.inner.seek(...args)
  }

  describeGroup(): ReturnType<Consumer['describeGroup']> {
    return this.inner.describeGroup()
  }

  pause(...args: Parameters<Consumer['pause']>): void {
    this.inner.pause(...args)
  }

  paused(): ReturnType<Consumer['paused']> {
    return this.inner.paused()
  }

  resume(...args: Parameters<Consumer['resume']>): void {
    this.inner.resume(...args)
  }

  logger(): Logger {
    return this.log
  }
}
