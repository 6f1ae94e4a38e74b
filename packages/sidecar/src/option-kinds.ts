/**
 * The kinds of sidecar option: how each reads from text (environment variables and flags) and how
 * a value of it is checked. Programmatic options (startSidecar) arrive typed only by TypeScript;
 * environment variables and flags are parsed. Either way the value must have its option's type
 * before anything uses it. A secret's value is never echoed, only its type.
 */
import { SidecarConfigError } from './config-error.js'
import { parseListenAddress, type ListenAddress } from './listen-address.js'

export type Kind =
  'string' | 'integer' | 'boolean' | 'list' | 'address' | 'optional-address' | 'secret' | 'file' | 'json'

/** A kind, as an option table entry spreads it: its name, its flag's placeholder, its parse and its check. */
export interface OptionKind<T> {
  readonly kind: Kind
  /** What the flag takes in `--help`; booleans are switches. */
  readonly placeholder?: string
  readonly min?: number
  readonly max?: number
  readonly choices?: readonly string[]
  readonly parse: (text: string, source: string) => unknown
  readonly check: (value: unknown, source: string) => T
}

const VALUE = '<value>'

function parseChoice(choices: readonly string[] | undefined): (text: string, source: string) => string {
  return (text, source) => {
    if (choices && !choices.includes(text))
      throw new SidecarConfigError(source, `expected one of ${choices.join(', ')}, got "${text}"`)
    return text
  }
}

function checkString<T>(
  choices: readonly string[] | undefined,
  { nullable, secret }: { nullable: boolean; secret: boolean },
): (value: unknown, source: string) => T {
  return (value, source) => {
    if (value === null && nullable) return value as T
    const shown = secret ? typeof value : JSON.stringify(value)
    if (typeof value !== 'string') throw new SidecarConfigError(source, `expected a string, got ${shown}`)
    if (choices && !choices.includes(value))
      throw new SidecarConfigError(source, `expected one of ${choices.join(', ')}, got ${shown}`)
    return value as T
  }
}

/** Text, one of `choices` when given. */
export function text<C extends string = string>(choices?: readonly C[]): OptionKind<C> {
  const check = checkString<C>(choices, { nullable: false, secret: false })
  return { kind: 'string', placeholder: VALUE, ...(choices && { choices }), parse: parseChoice(choices), check }
}

/** Text, one of `choices` when given, or null (unset). */
export function optionalText<C extends string = string>(choices?: readonly C[]): OptionKind<C | null> {
  const check = checkString<C | null>(choices, { nullable: true, secret: false })
  return { kind: 'string', placeholder: VALUE, ...(choices && { choices }), parse: parseChoice(choices), check }
}

/** Text never echoed in an error, or null (unset). */
export function secret(): OptionKind<string | null> {
  const check = checkString<string | null>(undefined, { nullable: true, secret: true })
  return { kind: 'secret', placeholder: VALUE, parse: parseChoice(undefined), check }
}

/** A safe integer from `min` to `max`. */
export function integer(min: number, max?: number): OptionKind<number> {
  const parse = (text: string, source: string) => {
    if (!/^\d+$/.test(text.trim()))
      throw new SidecarConfigError(source, `expected a non-negative integer, got "${text}"`)
    return Number(text)
  }
  const check = (value: unknown, source: string) => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min)
      throw new SidecarConfigError(source, `expected an integer >= ${min}, got ${JSON.stringify(value)}`)
    if (max !== undefined && value > max)
      throw new SidecarConfigError(source, `expected an integer <= ${max}, got ${JSON.stringify(value)}`)
    return value
  }
  return { kind: 'integer', placeholder: VALUE, min, ...(max !== undefined && { max }), parse, check }
}

/** `true`/`false`, `1`/`0`, `yes`/`no` in any case; a flag without a value is true. */
export function boolean(): OptionKind<boolean> {
  const parse = (text: string, source: string) => {
    if (/^(true|1|yes)$/i.test(text)) return true
    if (/^(false|0|no)$/i.test(text)) return false
    throw new SidecarConfigError(source, `expected true or false, got "${text}"`)
  }
  const check = (value: unknown, source: string) => {
    if (typeof value !== 'boolean')
      throw new SidecarConfigError(source, `expected a boolean, got ${JSON.stringify(value)}`)
    return value
  }
  return { kind: 'boolean', parse, check }
}

/** A boolean whose flag takes a value (`--flag false`): for one that defaults to true. */
export function booleanValue(): OptionKind<boolean> {
  return { ...boolean(), placeholder: '<true|false>' }
}

/**
 * A file's path, or null (unset). Only the path is checked here: the file is read when the sidecar
 * starts, and again whenever it is used, so a rotated file is picked up (see kafka/option-file.ts).
 */
export function file(): OptionKind<string | null> {
  const check = (value: unknown, source: string) => {
    if (value === null) return null
    if (typeof value !== 'string' || value.trim() === '' || value.includes('\0'))
      throw new SidecarConfigError(source, `expected a file path, got ${JSON.stringify(value)}`)
    return value
  }
  return { kind: 'file', placeholder: '<path>', parse: (text) => text, check }
}

/**
 * A JSON object (text in the environment or a flag, an object in code). Its text may hold
 * credentials (a custom mechanism's options), so errors never quote it, not even the excerpt
 * V8's JSON.parse message carries: they say where it goes wrong and what kind of value it is.
 */
export function jsonObject(): OptionKind<Record<string, unknown>> {
  const parse = (text: string, source: string) => {
    try {
      return JSON.parse(text) as unknown
    } catch {
      throw new SidecarConfigError(
        source,
        `expected a JSON object: the text (${text.length} characters) is not valid JSON; it is not repeated here, as it may hold credentials`,
      )
    }
  }
  const check = (value: unknown, source: string) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new SidecarConfigError(
        source,
        `expected a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`}`,
      )
    return value as Record<string, unknown>
  }
  return { kind: 'json', placeholder: '<json>', parse, check }
}

/** Comma-separated text; a list of strings in code. */
export function list(): OptionKind<string[]> {
  const parse = (text: string) =>
    text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
  const check = (value: unknown, source: string) => {
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
      throw new SidecarConfigError(source, `expected a list of strings, got ${JSON.stringify(value)}`)
    return value as string[]
  }
  return { kind: 'list', placeholder: VALUE, parse, check }
}

function parseAddress(optional: boolean): (text: string, source: string) => ListenAddress | null {
  return (text, source) => {
    if (optional && text === 'off') return null
    try {
      return parseListenAddress(source, text)
    } catch (error) {
      throw new SidecarConfigError(source, (error as Error).message.replace(`${source}: `, ''))
    }
  }
}

function checkAddress<T>(optional: boolean): (value: unknown, source: string) => T {
  const parse = parseAddress(optional)
  return (value, source) => {
    // Code may give an address as text, as the environment does.
    if (typeof value === 'string') return parse(value, source) as T
    if (value === null && optional) return value as T
    const address = value as Partial<ListenAddress> | null
    const valid =
      typeof address === 'object' &&
      address !== null &&
      ((address.kind === 'unix' && typeof address.path === 'string') ||
        (address.kind === 'tcp' && typeof address.host === 'string' && typeof address.port === 'number'))
    if (!valid)
      throw new SidecarConfigError(
        source,
        `expected unix:///path.sock or host:port${optional ? ' (or null)' : ''}, got ${JSON.stringify(value)}`,
      )
    return value as T
  }
}

/** `unix:///path.sock` or `host:port`. */
export function address(): OptionKind<ListenAddress> {
  return { kind: 'address', placeholder: VALUE, parse: parseAddress(false), check: checkAddress(false) }
}

/** `unix:///path.sock` or `host:port`, or `off` (null in code). */
export function optionalAddress(): OptionKind<ListenAddress | null> {
  return { kind: 'optional-address', placeholder: VALUE, parse: parseAddress(true), check: checkAddress(true) }
}
