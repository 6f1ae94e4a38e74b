'use strict'
/**
 * What a CommonJS application traced with OpenTelemetry loads first
 * (`node --require ./tracing-register.cjs app.js`): a tracer provider exporting to memory, the
 * AsyncLocalStorage context manager, the W3C propagator and the kafkajs instrumentation, all
 * registered before the application requires kafkajs or the client. The application's runner
 * finds the exporter and a tracer under TRACING_HANDLE.
 */
const { context, propagation, trace } = require('@opentelemetry/api')
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks')
const { W3CTraceContextPropagator } = require('@opentelemetry/core')
const { registerInstrumentations } = require('@opentelemetry/instrumentation')
const { KafkaJsInstrumentation } = require('@opentelemetry/instrumentation-kafkajs')
const { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } = require('@opentelemetry/sdk-trace')

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
