/**
 * Routes a function's `.apply` and `.call` (how OpenTelemetry's wrappers call the function they
 * wrap) through `apply`, once per function and marker: the hooks that let the client answer a
 * call the instrumentation makes without running KafkaJS's own code. Direct calls are untouched.
 */
type Apply = (thisArg: unknown, args: unknown[] | undefined) => unknown

export function redirectCalls(method: object, marker: symbol, apply: Apply): void {
  if (marker in method) return
  Object.defineProperty(method, 'apply', { value: apply, configurable: true, writable: true })
  Object.defineProperty(method, 'call', {
    value: (thisArg: unknown, ...args: unknown[]) => apply(thisArg, args),
    configurable: true,
    writable: true,
  })
  Object.defineProperty(method, marker, { value: true })
}
