/**
 * What an ESM application traced with OpenTelemetry loads first
 * (`node --import ./tracing-register.mjs app.mjs`): the import hook that lets instrumentations
 * patch ES modules, then the same setup as tracing-register.cjs (a tracer provider exporting to
 * memory, the AsyncLocalStorage context manager, the W3C propagator and the kafkajs
 * instrumentation), all before the application imports kafkajs or the client.
 */
import { register } from 'node:module'
import { context, propagation, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { registerInstrumentations } from '@opentelemetry/instrumentation'
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs'
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace'

register('@opentelemetry/instrumentation/hook.mjs', import.meta.url)

const exporter = new InMemorySpanExporter()
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] })
trace.setGlobalTracerProvider(provider)
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
propagation.setGlobalPropagator(new W3CTraceContextPropagator())
registerInstrumentations({ instrumentations: [new KafkaJsInstrumentation()] })

globalThis[Symbol.for('kafka-sidecar.differential.tracing')] = {
  provider,
  exporter,
  tracer: trace.getTracer('differential-app'),
}
