// Loaded with `node --require` before the application, as a CommonJS service sets up tracing:
// a tracer provider with an in-memory exporter, and OpenTelemetry's kafkajs instrumentation.
const api = require('@opentelemetry/api')
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks')
const { W3CTraceContextPropagator } = require('@opentelemetry/core')
const { registerInstrumentations } = require('@opentelemetry/instrumentation')
const { KafkaJsInstrumentation } = require('@opentelemetry/instrumentation-kafkajs')
const { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } = require('@opentelemetry/sdk-trace')

const exporter = new InMemorySpanExporter()
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] })
api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
api.propagation.setGlobalPropagator(new W3CTraceContextPropagator())
api.trace.setGlobalTracerProvider(provider)
registerInstrumentations({ instrumentations: [new KafkaJsInstrumentation()], tracerProvider: provider })
globalThis.finishedSpans = () => exporter.getFinishedSpans()
