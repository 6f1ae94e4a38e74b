/**
 * Direct mode: a send enters through KafkaJS's producer as the application's KafkaJS
 * instrumentation wrapped it, and the client's own send runs where KafkaJS's would.
 *
 * OpenTelemetry's instrumentation-kafkajs wraps the `send` and `sendBatch` of each KafkaJS
 * producer: synchronously the wrapper reads the record (a bad argument throws there, a TypeError
 * KafkaJS's callers see synchronously), opens a span per message and writes its `traceparent`
 * into the message's headers, then calls KafkaJS's method with `original.apply(this, args)` and
 * ends the spans when that settles. In direct mode this package's producer drives such a
 * producer; had it called KafkaJS's methods only after its own checks, what it refuses itself
 * (invalid arguments, a disconnected producer, acks on an idempotent one) would have had no span,
 * no traceparent and no synchronous throw. So the client calls the wrapped method itself, with
 * KafkaJS's producer as `this` (the instrumentation reads the cluster id from it), and answers
 * the wrapper's call of KafkaJS's method with the client's own send: the wrapper does exactly what
 * it does for KafkaJS, and the client's checks, ordering and delivery reports stay.
 *
 * The answer is given by an own `apply`/`call` on KafkaJS's method object (as
 * kafkajs-instrumentation.ts answers the wrapped `Kafka.prototype.producer`), for the one call
 * made synchronously from here; any other call goes to KafkaJS's method unchanged. Without an
 * instrumentation the client's send runs directly. An instrumentation that called KafkaJS's
 * method some other way would have KafkaJS's own send write the records, as in KafkaJS.
 */
import type { Producer } from 'kafkajs'
import { untraced } from './kafkajs-instrumentation.js'
import { redirectCalls } from './redirect-calls.js'

type Method = (...args: unknown[]) => unknown
type Run = (args: unknown[]) => unknown

const INSTALLED = Symbol('kafka-sidecar.direct-entry')
/** KafkaJS method -> the client's send, while the one call that should reach it is under way. */
const pending = new WeakMap<Method, Run>()

/** Calls `producer[name](arg)` as the instrumentation wrapped it; where it would call KafkaJS's method, `run(arg)` runs. */
export function enterThroughInstrumentation<R>(
  producer: Producer,
  name: 'send' | 'sendBatch',
  arg: unknown,
  run: (arg: unknown) => R,
): R {
  const entry = producer[name] as unknown as Method
  const kafkajsMethod = untraced(entry)
  if (entry === kafkajsMethod) return run(arg)
  answerInnermostCall(kafkajsMethod)
  pending.set(kafkajsMethod, (args) => run(args[0]))
  try {
    return Reflect.apply(entry, producer, [arg]) as R
  } finally {
    // The wrapper threw before calling KafkaJS's method (a bad argument), or it was answered.
    pending.delete(kafkajsMethod)
  }
}

function answerInnermostCall(method: Method): void {
  redirectCalls(method, INSTALLED, (thisArg, args) => {
    const run = pending.get(method)
    if (!run) return Reflect.apply(method, thisArg, args ?? [])
    pending.delete(method)
    return run(args ?? [])
  })
}
