/**
 * Reading options from their sources (the environment, flags, code) into layers, and the one merge
 * of those layers: later layers win, every value that wins is checked, and unset options take their
 * default. An error always names the option as its source spelled it (`KAFKA_BROKERS`, `--brokers`,
 * `brokers`), never only the key the code uses.
 */
import type { OptionTable, OptionValues } from './option-table.js'

/** A value, and the option as it was written where the value came from. */
export interface SourcedValue {
  readonly value: unknown
  readonly source: string
}

/** The options one source sets, by option key. */
export type OptionLayer = Readonly<Record<string, SourcedValue>>

function fromText(option: OptionTable[string], text: string | undefined, source: string): SourcedValue | undefined {
  if (text === undefined) return undefined
  const value = option.parse ? option.parse(text, source) : text
  return value === undefined ? undefined : { value, source }
}

function layer(entries: ReadonlyArray<readonly [string, SourcedValue | undefined]>): OptionLayer {
  return Object.fromEntries(entries.filter((entry): entry is [string, SourcedValue] => entry[1] !== undefined))
}

/** The options the environment sets; an empty variable is unset. */
export function layerFromEnv(table: OptionTable, env: Readonly<Record<string, string | undefined>>): OptionLayer {
  return layer(
    Object.entries(table).map(([key, option]) => [
      key,
      option.env === undefined || env[option.env] === '' ? undefined : fromText(option, env[option.env], option.env),
    ]),
  )
}

/** A repeatable flag's texts, each parsed: the value is the list of what they read as. */
function fromTexts(option: OptionTable[string], texts: readonly string[], source: string): SourcedValue {
  const value = texts.flatMap((text) => {
    const one = fromText(option, text, source)
    return one === undefined ? [] : [one.value]
  })
  return { value, source }
}

/**
 * The options `node:util` parseArgs values set (`--flag=` sets the empty text); a bare switch reads
 * as `true`; a repeatable flag's texts come as a list.
 */
export function layerFromFlags(
  table: OptionTable,
  values: Readonly<Record<string, string | boolean | readonly string[] | undefined>>,
): OptionLayer {
  return layer(
    Object.entries(table).map(([key, option]) => {
      const given = option.flag === undefined ? undefined : values[option.flag]
      const source = `--${option.flag}`
      if (Array.isArray(given)) return [key, fromTexts(option, given, source)]
      return [key, fromText(option, typeof given === 'boolean' ? String(given) : (given as string | undefined), source)]
    }),
  )
}

/** Throws `unknownOption`'s error for a key the table does not declare: a typo would otherwise go unnoticed. */
export function rejectUnknownKeys(
  table: OptionTable,
  values: object,
  unknownOption: (key: string, known: readonly string[]) => Error,
): void {
  for (const key of Object.keys(values)) {
    if (!Object.hasOwn(table, key)) throw unknownOption(key, Object.keys(table))
  }
}

/** The options code sets, each named by `sourceOf`; a key set to `undefined` is unset. */
export function layerFromCode(
  table: OptionTable,
  values: object,
  sourceOf: (key: string) => string,
  unknownOption: (key: string, known: readonly string[]) => Error,
): OptionLayer {
  rejectUnknownKeys(table, values, unknownOption)
  return layer(
    Object.entries(values).map(([key, value]) => [
      key,
      value === undefined ? undefined : { value, source: sourceOf(key) },
    ]),
  )
}

/** Resolved options, and where each came from (for checks across options, which must name one). */
export interface Resolution<Table extends OptionTable> {
  readonly values: OptionValues<Table>
  readonly sources: { readonly [K in keyof Table]: string }
}

/**
 * Merges layers (later ones win) in declaration order: a set value goes through its option's check,
 * an unset option takes its default, or without one its check runs with `undefined`. `unsetSource`
 * names an option nothing set.
 */
export function resolveOptions<Table extends OptionTable>(
  table: Table,
  layers: readonly OptionLayer[],
  unsetSource: (key: string) => string = (key) => key,
): Resolution<Table> {
  const winners: Record<string, SourcedValue> = Object.assign({}, ...layers)
  const values: Record<string, unknown> = {}
  const sources: Record<string, string> = {}
  for (const [key, option] of Object.entries(table)) {
    const set = Object.hasOwn(winners, key) ? winners[key] : undefined
    sources[key] = set ? set.source : unsetSource(key)
    // `never`: each table types the options above a check as its own package does.
    values[key] =
      set || option.defaultValue === undefined
        ? option.check(set?.value, sources[key]!, values as never)
        : option.defaultValue
  }
  return { values: values as OptionValues<Table>, sources: sources as Resolution<Table>['sources'] }
}
