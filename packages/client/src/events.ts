/**
 * The producer's events, in KafkaJS's shape (`{ id, type, timestamp, payload }`, `on()` returns a
 * remover): KafkaJS's own (`producer.connect`, `producer.disconnect`) and this package's
 * (SIDECAR_EVENTS). A listener's failure is logged and never reaches the producer.
 */
import { EventEmitter } from 'eventemitter3'
import kafkajs from 'kafkajs'
import type { InstrumentationEvent, Logger, Producer, RemoveInstrumentationEventListener } from 'kafkajs'
import type { DeliveryListener, DeliveryReport, DeliveryReportTarget } from './delivery/delivery-report.js'
import type { ClusterMismatchPayload } from './path/cluster-check.js'

/** KafkaJS's producer events plus this package's own. */
export const SIDECAR_EVENTS = {
  DELIVERY: 'producer.sidecar.delivery',
  BREAKER_OPEN: 'producer.sidecar.breaker_open',
  BREAKER_HALF_OPEN: 'producer.sidecar.breaker_half_open',
  BREAKER_CLOSE: 'producer.sidecar.breaker_close',
  FALLBACK: 'producer.sidecar.fallback',
  CLUSTER_MISMATCH: 'producer.sidecar.cluster_mismatch',
} as const

export type BreakerState = 'closed' | 'half_open' | 'open'

export interface FallbackEventPayload {
  readonly reason: string
  readonly records: number
  readonly topics: string[]
}

/** `producer.on` as KafkaJS types it, plus overloads for this package's events. */
export type SidecarProducerOn = Producer['on'] & {
  (
    eventName: typeof SIDECAR_EVENTS.DELIVERY,
    listener: (event: InstrumentationEvent<DeliveryReport>) => void,
  ): RemoveInstrumentationEventListener<typeof eventName>
  (
    eventName: typeof SIDECAR_EVENTS.FALLBACK,
    listener: (event: InstrumentationEvent<FallbackEventPayload>) => void,
  ): RemoveInstrumentationEventListener<typeof eventName>
  (
    eventName: typeof SIDECAR_EVENTS.CLUSTER_MISMATCH,
    listener: (event: InstrumentationEvent<ClusterMismatchPayload>) => void,
  ): RemoveInstrumentationEventListener<typeof eventName>
  (
    eventName:
      | typeof SIDECAR_EVENTS.BREAKER_OPEN
      | typeof SIDECAR_EVENTS.BREAKER_HALF_OPEN
      | typeof SIDECAR_EVENTS.BREAKER_CLOSE,
    listener: (event: InstrumentationEvent<{ state: BreakerState }>) => void,
  ): RemoveInstrumentationEventListener<typeof eventName>
}

type Listener = (event: InstrumentationEvent<unknown>) => unknown

const KAFKAJS_OWN_EVENTS = new Set(['producer.connect', 'producer.disconnect'])
const NETWORK_EVENTS = new Set([
  'producer.network.request',
  'producer.network.request_timeout',
  'producer.network.request_queue_size',
])

/** KafkaJS's request events: those of the KafkaJS producer (the direct path), not emitted here. */
export function isNetworkEvent(eventName: string): boolean {
  return NETWORK_EVENTS.has(eventName)
}

let nextEventId = 0

export class ProducerEvents implements DeliveryReportTarget {
  private readonly emitter = new EventEmitter()

  constructor(
    private readonly log: Logger,
    /** KafkaJS's producer events, which its error for an unknown event name lists. */
    private readonly kafkajsEvents: Producer['events'],
  ) {}

  wantsReports(): boolean {
    return this.emitter.listenerCount(SIDECAR_EVENTS.DELIVERY) > 0
  }

  deliver(report: DeliveryReport): void {
    this.emit(SIDECAR_EVENTS.DELIVERY, report)
  }

  emit(type: string, payload: unknown): void {
    if (this.emitter.listenerCount(type) === 0) return
    nextEventId = nextEventId >= Number.MAX_SAFE_INTEGER ? 0 : nextEventId + 1
    this.emitter.emit(type, { id: nextEventId, type, timestamp: Date.now(), payload })
  }

  /**
   * The `onDelivery` option. Guarded like every `on()` listener: an onDelivery that throws or
   * rejects must not fail the send that was just written (direct), nor break the report stream's
   * handler (sidecar).
   */
  onDelivery(onDelivery: DeliveryListener): void {
    this.emitter.on(
      SIDECAR_EVENTS.DELIVERY,
      this.guarded(SIDECAR_EVENTS.DELIVERY, (event) =>
        onDelivery((event as InstrumentationEvent<DeliveryReport>).payload),
      ),
    )
  }

  /** KafkaJS's `on` for its own events and this package's (network events aside: see isNetworkEvent). */
  listen(eventName: string, listener: Listener): () => void {
    if (!KAFKAJS_OWN_EVENTS.has(eventName) && !Object.values(SIDECAR_EVENTS).includes(eventName as never)) {
      // KafkaJS's message, naming KafkaJS's events only.
      throw new kafkajs.KafkaJSNonRetriableError(
        `Event name should be one of ${Object.keys(this.kafkajsEvents)
          .map((k) => `producer.events.${k}`)
          .join(', ')}`,
      )
    }
    // KafkaJS's own events behave as in KafkaJS (a listener that throws synchronously makes
    // connect() fail); this package's events never let a listener break the producer.
    const wrapped = KAFKAJS_OWN_EVENTS.has(eventName)
      ? this.asKafkaJSListener(eventName, listener)
      : this.guarded(eventName, listener)
    this.emitter.on(eventName, wrapped)
    return () => this.emitter.off(eventName, wrapped)
  }

  /** As KafkaJS calls its listeners: a rejection is logged; a synchronous throw reaches the emitting call. */
  private asKafkaJSListener(eventName: string, listener: Listener): (event: InstrumentationEvent<unknown>) => void {
    return (event) => {
      Promise.resolve(listener(event)).catch((error: unknown) => this.logListenerError(eventName, error))
    }
  }

  /** As in KafkaJS: a listener's failure (thrown or rejected) is logged and never reaches the producer. */
  private guarded(eventName: string, listener: Listener): (event: InstrumentationEvent<unknown>) => void {
    return (event) => {
      try {
        Promise.resolve(listener(event)).catch((error: unknown) => this.logListenerError(eventName, error))
      } catch (error) {
        this.logListenerError(eventName, error)
      }
    }
  }

  private logListenerError(eventName: string, error: unknown): void {
    this.log.error(`Failed to execute listener: ${error instanceof Error ? error.message : String(error)}`, {
      eventName,
      stack: error instanceof Error ? error.stack : undefined,
    })
  }
}
