import { inspect } from 'node:util'

/**
 * All of `value` as text, however it is nested (errors with causes, buffers, objects, circular
 * ones): for checking that a secret appears nowhere in it.
 */
export function asText(value: unknown): string {
  let json = ''
  try {
    json = JSON.stringify(value)
  } catch {
    // circular: inspect covers it
  }
  return `${json}\n${inspect(value, { depth: null, maxArrayLength: null, maxStringLength: null, showHidden: true })}`
}
