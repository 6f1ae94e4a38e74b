/**
 * Waiting with a deadline. No vitest import: the fault-matrix benchmark waits with these too.
 * `what` names what was awaited in the timeout's error; pass a function to describe the state at
 * the timeout (a child's output so far, say) rather than at the start.
 */
export type Description = string | (() => string)

const text = (what: Description) => (typeof what === 'string' ? what : what())

/** Polls `condition` until it holds or `timeoutMs` passes; an error thrown by `condition` ends the wait. */
export async function waitFor(
  what: Description,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${text(what)}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** `promise`, or an error naming `what` if it has not settled within `ms`. */
export function within<V>(promise: Promise<V>, ms: number, what: Description): Promise<V> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${text(what)}: not within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
