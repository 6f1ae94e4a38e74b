/**
 * A sidecar consumer's events, as KafkaJS's consumer emits them: the names of consumer.events,
 * events shaped `{ id, type, timestamp, payload }`, `on()` returning a remover and refusing an
 * unknown name with KafkaJS's error. A listener's rejection is logged; a listener that throws
 * synchronously fails what emitted the event, as in KafkaJS (emitFromSidecar logs it instead where
 * nothing of the application's is running to fail).
 */
import { EventEmitter } from 'eventemitter3'
import kafkajs from 'kafkajs'
import type { Consumer, InstrumentationEvent, Logger } from 'kafkajs'

type Listener = (event: InstrumentationEvent<unknown>) => unknown

let nextEventId = 0

export class ConsumerEvents {
  private readonly emitter = new EventEmitter()
  private readonly names: ReadonlySet<string>

  constructor(
    private readonly log: Logger,
    private readonly events: Consumer['events'],
  ) {
    this.names = new Set(Object.values(events))
  }

  listen(eventName: string, listener: Listener): () => void {
    if (!this.names.has(eventName)) {
      throw new kafkajs.KafkaJSNonRetriableError(
        `Event name should be one of ${Object.keys(this.events)
          .map((key) => `consumer.events.${key}`)
          .join(', ')}`,
      )
    }
    const wrapped = (event: InstrumentationEvent<unknown>) => {
      Promise.resolve(listener(event)).catch((error: unknown) => this.logListenerError(eventName, error))
    }
    this.emitter.on(eventName, wrapped)
    return () => this.emitter.off(eventName, wrapped)
  }

  emit(type: string, payload?: unknown): void {
    if (this.emitter.listenerCount(type) === 0) return
    nextEventId = nextEventId >= Number.MAX_SAFE_INTEGER ? 0 : nextEventId + 1
    this.emitter.emit(type, { id: nextEventId, type, timestamp: Date.now(), payload })
  }

  /** For events the sidecar's messages cause: a listener that throws is logged. */
  emitFromSidecar(type: string, payload?: unknown): void {
    try {
      this.emit(type, payload)
    } catch (error) {
      this.logListenerError(type, error)
    }
  }

  private logListenerError(eventName: string, error: unknown): void {
    this.log.error(`Failed to execute listener: ${error instanceof Error ? error.message : String(error)}`, {
      eventName,
      stack: error instanceof Error ? error.stack : undefined,
    })
  }
}
