// Loaded into each worker with `--import` when `pnpm compare --tracing`: OpenTelemetry as a traced
// service sets it up (the import hook, a tracer provider batching spans, the W3C propagator and
// the kafkajs instrumentation), so the run measures what tracing costs in each mode. Spans are
// counted and dropped instead of exported: the cost measured is the application's, not a
// collector's.
import { createRequire, register } from 'node:module'

register('@opentelemetry/instrumentation/hook.mjs', import.meta.url)
const require = createRequire(import.meta.url)
const api = require('@opentelemetry/api')
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks')
const { W3CTraceContextPropagator } = require('@opentelemetry/core')
const { registerInstrumentations } = require('@opentelemetry/instrumentation')
const { KafkaJsInstrumentation } = require('@opentelemetry/instrumentation-kafkajs')
const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base')

let exported = 0
const countingExporter = {
  export(spans, done) {
    exported += spans.length
    done({ code: 0 })
  },
  shutdown: async () => {},
}
const provider = new BasicTracerProvider({
  spanProcessors: [
    new BatchSpanProcessor(countingExporter, {
      maxQueueSize: 65_536,
      maxExportBatchSize: 4_096,
      scheduledDelayMillis: 200,
    }),
  ],
})
api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
api.propagation.setGlobalPropagator(new W3CTraceContextPropagator())
api.trace.setGlobalTracerProvider(provider)
registerInstrumentations({ instrumentations: [new KafkaJsInstrumentation()], tracerProvider: provider })
globalThis.tracingSummary = async () => {
  await provider.forceFlush()
  return { exportedSpans: exported }
}
