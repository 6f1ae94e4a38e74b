/**
 * Writes dead-lettered records, through a producer of the consumer's own `Kafka` (the client's
 * producer, so in sidecar producer mode through the pod's sidecar like any send). The producer
 * connects at the first record to write, so a consumer whose handlers never give up opens no
 * connection for it; it is disconnected with the consumer.
 */
import type { Logger, Producer } from 'kafkajs'
import type { ConsumerEvents } from './consumer-events.js'
import type { DeadLetterPolicy } from './dead-letter-options.js'
import { deadLetterMessage, describeError, type Failure } from './dead-letter-record.js'

export const DEAD_LETTER_EVENTS = { DEAD_LETTER: 'consumer.sidecar.dead_letter' } as const

/** DEAD_LETTER's payload: the record given up on, where it went, and why. */
export interface DeadLetterEventPayload {
  readonly groupId: string
  readonly topic: string
  readonly partition: number
  readonly offset: string
  /** The dead-letter topic it was written to. */
  readonly deadLetterTopic: string
  /** The last error the handler threw on it, as thrown. */
  readonly error: unknown
  readonly attempts: number
}

export type DeadLetterProducer = Pick<Producer, 'connect' | 'send' | 'disconnect'>

export class DeadLetterWriter {
  private producer: DeadLetterProducer | null = null
  private connecting: Promise<DeadLetterProducer> | null = null

  constructor(
    private readonly policy: DeadLetterPolicy,
    private readonly createProducer: () => DeadLetterProducer,
    private readonly events: ConsumerEvents,
    private readonly log: Logger,
  ) {}

  /** Resolves once the dead-letter topic acknowledged the record (acks from all in-sync replicas). */
  async write(failure: Failure): Promise<void> {
    const where = { groupId: failure.groupId, topic: failure.topic, partition: failure.partition }
    const offset = failure.message.offset
    try {
      const producer = await this.connected()
      await producer.send({ topic: this.policy.topic, acks: -1, messages: [deadLetterMessage(failure)] })
    } catch (error) {
      // Thrown on as the handler's error: KafkaJS's retries and crash decide, the record stays unprocessed.
      this.log.error('Could not write a record to the dead-letter topic; it is not skipped', {
        ...where,
        offset,
        deadLetterTopic: this.policy.topic,
        error: (error as Error).message,
      })
      throw error
    }
    const { name, message } = describeError(failure.error)
    this.log.error('Dead-lettered a record its handler kept failing on', {
      ...where,
      offset,
      deadLetterTopic: this.policy.topic,
      attempts: failure.attempts,
      error: `${name}: ${message}`,
    })
    const payload: DeadLetterEventPayload = {
      ...where,
      offset,
      deadLetterTopic: this.policy.topic,
      error: failure.error,
      attempts: failure.attempts,
    }
    // A listener that throws is logged, not thrown: the record is in the dead-letter topic already,
    // and failing the handler now would write it there again.
    this.events.emitFromSidecar(DEAD_LETTER_EVENTS.DEAD_LETTER, payload)
  }

  /** Disconnects the producer if it was ever connected. */
  async close(): Promise<void> {
    const connecting = this.connecting
    this.connecting = null
    this.producer = null
    if (connecting) await connecting.then((p) => p.disconnect()).catch(() => {})
  }

  private connected(): Promise<DeadLetterProducer> {
    // A failed connect is forgotten, so the next record tries again.
    this.connecting ??= this.connectNew().catch((error: unknown) => {
      this.connecting = null
      throw error
    })
    return this.connecting
  }

  private async connectNew(): Promise<DeadLetterProducer> {
    this.producer ??= this.createProducer()
    await this.producer.connect()
    return this.producer
  }
}
