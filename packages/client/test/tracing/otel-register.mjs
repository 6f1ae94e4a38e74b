// Loaded with `node --import` before an ESM application: the import hook OpenTelemetry's
// instrumentations need for `import` statements, then the same setup as a CommonJS service.
import { register, createRequire } from 'node:module'

register('@opentelemetry/instrumentation/hook.mjs', import.meta.url)
createRequire(import.meta.url)('./otel-register.cjs')
