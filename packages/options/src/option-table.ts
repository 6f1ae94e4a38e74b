/**
 * A package's options, declared once: a table with one entry per option, keyed by the option's
 * name in code. What the rest of a package needs to know about its options (the keys code may
 * use, the environment variables, the flags) is read from the table, never written a second time,
 * so adding an option is adding an entry.
 */

/** One option: where its value may come from, its default, and how a value is read and checked. */
export interface OptionDeclaration<T = unknown, Resolved = Readonly<Record<string, unknown>>> {
  /** The environment variable that sets it. */
  readonly env?: string
  /** The command-line flag that sets it, without the leading `--`. */
  readonly flag?: string
  /** What the flag takes, as usage lines show it (`<n>`); a flag without one is a switch. */
  readonly placeholder?: string
  /** The flag may be given more than once: each text is parsed, and the value is the list of them. */
  readonly repeatable?: boolean
  /** One line for `--help`. */
  readonly help?: string
  /**
   * Its value when nothing sets it. Written here, so not checked. Without one the option is
   * required or computed from others: its check runs with `undefined`.
   */
  readonly defaultValue?: T
  /**
   * Turns the text of its environment variable or flag into a value (`undefined`: treat as unset),
   * throwing an error that names `source`. Without it the text is the value.
   */
  readonly parse?: (text: string, source: string) => unknown
  /**
   * Checks a value and returns the one to use, throwing an error that names `source`, the option as
   * its user wrote it. `resolved` holds the options declared above this one, for the checks that
   * depend on them.
   */
  readonly check: (value: unknown, source: string, resolved: Resolved) => T
}

/** A table of options; its checks may each read the options above them as their own package types them. */
export type OptionTable = Readonly<Record<string, OptionDeclaration<unknown, never>>>

/** The options a table resolves to: what each check returns, or its default. */
export type OptionValues<Table extends OptionTable> = {
  -readonly [K in keyof Table]: ReturnType<Table[K]['check']> | DefaultOf<Table[K]>
}

type DefaultOf<Option> = Option extends { readonly defaultValue: infer T } ? Exclude<T, undefined> : never

type Named<Table extends OptionTable, Field extends 'env' | 'flag'> = {
  readonly [K in keyof Table as Table[K] extends { readonly [F in Field]: string } ? K : never]: Table[K][Field]
}

function named<Table extends OptionTable, Field extends 'env' | 'flag'>(
  table: Table,
  field: Field,
): Named<Table, Field> {
  return Object.fromEntries(
    Object.entries(table).flatMap(([key, option]) => (option[field] === undefined ? [] : [[key, option[field]]])),
  ) as Named<Table, Field>
}

/** The environment variable of each option that has one, by option key, in declaration order. */
export function envNames<Table extends OptionTable>(table: Table): Named<Table, 'env'> {
  return named(table, 'env')
}

/** The flag of each option that has one, by option key, in declaration order. */
export function flagNames<Table extends OptionTable>(table: Table): Named<Table, 'flag'> {
  return named(table, 'flag')
}

/**
 * `node:util` parseArgs options for the table's flags: a string where a flag takes a value, a switch
 * otherwise, `multiple` where it is repeatable.
 */
export function flagParserOptions(table: OptionTable): Record<string, { type: 'string' | 'boolean'; multiple?: true }> {
  return Object.fromEntries(
    Object.values(table).flatMap((option) =>
      option.flag === undefined
        ? []
        : [
            [
              option.flag,
              {
                type: option.placeholder ? 'string' : 'boolean',
                ...(option.repeatable ? { multiple: true as const } : {}),
              },
            ],
          ],
    ),
  )
}

/** `--flag <placeholder>`, as usage lines show a flag (`...` after a repeatable one). */
export function flagUsage(option: Pick<OptionDeclaration, 'flag' | 'placeholder' | 'repeatable'>): string {
  return `--${option.flag}${option.placeholder ? ` ${option.placeholder}` : ''}${option.repeatable ? ' ...' : ''}`
}
