/**
 * Lets the KafkaJS instrumentation the application registered trace this package's producer (and
 * consumer) in sidecar mode, as it traces KafkaJS's own in direct mode.
 *
 * OpenTelemetry's instrumentation-kafkajs (and instrumentations built the same way) wraps
 * `Kafka.prototype.producer`: the wrapper calls the original method with `original.apply(this,
 * args)` and wraps `send`, `sendBatch` and `transaction` of whatever it returns (one producer span
 * per record, a `traceparent` header injected into each message, the span ended when the send
 * settles). In sidecar mode no KafkaJS producer sends, so nothing would be traced. Rather than
 * re-implement the instrumentation (its span names, attributes, hooks and metrics change with its
 * versions), this module hands our producer to the application's own wrapper: it calls the
 * wrapped `Kafka.prototype.producer` once, and answers the wrapper's `original.apply(...)` for
 * that one call with our producer instead of running KafkaJS's method. The wrapper then does to
 * our producer exactly what it does to KafkaJS's.
 *
 * The answer is given by an own `apply`/`call` on KafkaJS's method object, which only acts for a
 * private marker as `this`; every other call goes to the method unchanged.
 *
 * A producer handed over this way must not be traced a second time when it falls back to its
 * KafkaJS producer (created through the same wrapper): `untraced` strips the wrappers from that
 * producer's methods.
 */
import kafkajs from 'kafkajs'
import { redirectCalls } from './redirect-calls.js'

type AnyFunction = (...args: never[]) => unknown
interface Wrapped {
  readonly __original?: unknown
}

/** `this` of the one call that asks the wrapper to wrap our producer. */
const OFFER = Object.freeze({ offer: 'kafka-sidecar producer' })
const INSTALLED = Symbol('kafka-sidecar.instrumentation-offer')
let offered: object | null = null

/**
 * Has the application's KafkaJS instrumentation wrap `client` as it wraps KafkaJS's producers
 * (`factory` 'producer': send, sendBatch, transaction) or consumers ('consumer': run, so each
 * eachMessage / eachBatch call is traced). Returns whether it did; false when no instrumentation
 * wraps `Kafka.prototype[factory]`, or one that works differently (then `client` is left as it was).
 */
export function offerToInstrumentation(
  client: object,
  config: unknown,
  factory: 'producer' | 'consumer' = 'producer',
): boolean {
  const wrapper = kafkajs.Kafka.prototype[factory] as AnyFunction & Wrapped
  const original = innermost(wrapper)
  if (original === wrapper) return false
  answerOffers(original)
  offered = client
  try {
    return (Reflect.apply(wrapper, OFFER, [config]) as unknown) === client
  } catch {
    // An instrumentation that calls KafkaJS's method some other way ran it on our marker.
    return false
  } finally {
    offered = null
  }
}

/** `fn` without the instrumentation wrappers around it (shimmer's `__original` chain). */
export function untraced<F extends AnyFunction>(fn: F): F {
  return innermost(fn as F & Wrapped) as F
}

function innermost<F extends AnyFunction & Wrapped>(fn: F): F {
  let current: F = fn
  for (let depth = 0; depth < 16 && typeof current.__original === 'function'; depth++) current = current.__original as F
  return current
}

function answerOffers(method: AnyFunction): void {
  redirectCalls(method, INSTALLED, (thisArg, args) =>
    thisArg === OFFER && offered ? offered : Reflect.apply(method, thisArg, args ?? []),
  )
}
