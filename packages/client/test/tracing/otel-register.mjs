// Loaded with `node --import` before an ESM application: the differential harness's setup with
// the import hook, and a way for program.cjs to read the finished spans.
import '../differential/tracing-register.mjs'

globalThis.finishedSpans = () =>
  globalThis[Symbol.for('kafka-sidecar.differential.tracing')].exporter.getFinishedSpans()
