// Loaded with `node --require` before the application, as a CommonJS service sets up tracing:
// the differential harness's setup (in-memory exporter, kafkajs instrumentation), and a way for
// program.cjs to read the finished spans.
require('../differential/tracing-register.cjs')

globalThis.finishedSpans = () =>
  globalThis[Symbol.for('kafka-sidecar.differential.tracing')].exporter.getFinishedSpans()
