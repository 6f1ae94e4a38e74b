/**
 * The option table mechanism on its own: what is read from a table, how each source becomes a
 * layer, and the merge (later layers win, winners checked, defaults not, a default-less option's
 * check run with `undefined`, the options above passed to a check). The packages' own tests cover
 * their tables: client options.test.ts and config-errors.test.ts, sidecar config-errors.test.ts
 * and cli.test.ts, embedded-kafka bad-input.test.ts and cli.test.ts.
 */
import { describe, expect, it } from 'vitest'
import {
  envNames,
  flagNames,
  flagParserOptions,
  flagUsage,
  layerFromCode,
  layerFromEnv,
  layerFromFlags,
  resolveOptions,
  type OptionDeclaration,
} from '../src/index.js'

function count(value: unknown, source: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new Error(`${source}: not a count`)
  return value
}

function countText(text: string, source: string): number {
  if (!/^\d+$/.test(text)) throw new Error(`${source}: not digits`)
  return Number(text)
}

const TABLE = {
  brokers: { env: 'X_BROKERS', flag: 'brokers', placeholder: '<n>', help: 'brokers', parse: countText, check: count },
  verbose: { flag: 'verbose', help: 'talk', defaultValue: false, parse: (text) => text === 'true', check: Boolean },
  name: { env: 'X_NAME', defaultValue: 'x', check: String },
  replicas: {
    check: (value, source, { brokers }) => (value === undefined ? Math.min(3, brokers) : count(value, source)),
  },
} satisfies Record<string, OptionDeclaration<unknown, { brokers: number }>>

const unknownOption = (key: string, known: readonly string[]) =>
  new Error(`unknown ${key} (known: ${known.join(', ')})`)

describe('what is read from a table', () => {
  it('the environment variables and flags by option key, in declaration order', () => {
    expect(envNames(TABLE)).toEqual({ brokers: 'X_BROKERS', name: 'X_NAME' })
    expect(Object.keys(envNames(TABLE))).toEqual(['brokers', 'name'])
    expect(flagNames(TABLE)).toEqual({ brokers: 'brokers', verbose: 'verbose' })
  })

  it('parseArgs options (a flag with a placeholder takes a value, one without is a switch) and usage', () => {
    expect(flagParserOptions(TABLE)).toEqual({ brokers: { type: 'string' }, verbose: { type: 'boolean' } })
    expect(flagUsage(TABLE.brokers)).toBe('--brokers <n>')
    expect(flagUsage(TABLE.verbose)).toBe('--verbose')
  })
})

describe('layers', () => {
  it('from the environment: parsed, named by the variable; an empty variable is unset', () => {
    expect(layerFromEnv(TABLE, { X_BROKERS: '3', X_NAME: '', OTHER: '1' })).toEqual({
      brokers: { value: 3, source: 'X_BROKERS' },
    })
    expect(() => layerFromEnv(TABLE, { X_BROKERS: 'three' })).toThrow('X_BROKERS: not digits')
  })

  it('from the environment: a parse that returns undefined leaves the option unset', () => {
    const table = { name: { env: 'X_NAME', check: String, parse: (text: string) => text.trim() || undefined } }
    expect(layerFromEnv(table, { X_NAME: '  ' })).toEqual({})
  })

  it('from flags: named as typed, a bare switch reads as "true", an empty value is a value', () => {
    expect(layerFromFlags(TABLE, { brokers: '2', verbose: true, other: 'x' })).toEqual({
      brokers: { value: 2, source: '--brokers' },
      verbose: { value: true, source: '--verbose' },
    })
    expect(() => layerFromFlags(TABLE, { brokers: '' })).toThrow('--brokers: not digits')
  })

  it('from a repeatable flag: each text parsed, the value their list; usage and parseArgs say it repeats', () => {
    const table = {
      user: {
        flag: 'user',
        placeholder: '<name>',
        repeatable: true,
        check: (v: unknown) => v,
        parse: (t: string) => t.toUpperCase(),
      },
    }
    expect(flagParserOptions(table)).toEqual({ user: { type: 'string', multiple: true } })
    expect(flagUsage(table.user)).toBe('--user <name> ...')
    expect(layerFromFlags(table, { user: ['ann', 'bo'] })).toEqual({ user: { value: ['ANN', 'BO'], source: '--user' } })
  })

  it('from code: named by sourceOf; undefined is unset; an unknown key is refused with the known ones', () => {
    expect(layerFromCode(TABLE, { brokers: 2, name: undefined }, (key) => `app.${key}`, unknownOption)).toEqual({
      brokers: { value: 2, source: 'app.brokers' },
    })
    expect(() => layerFromCode(TABLE, { brokrs: 2 }, String, unknownOption)).toThrow(
      'unknown brokrs (known: brokers, verbose, name, replicas)',
    )
    expect(() => layerFromCode(TABLE, { constructor: 1 }, String, unknownOption)).toThrow('unknown constructor')
  })
})

describe('resolveOptions', () => {
  const code = (values: object) => layerFromCode(TABLE, values, (key) => key, unknownOption)

  it('later layers win; defaults fill the rest; the sources say where each value came from', () => {
    const { values, sources } = resolveOptions(
      TABLE,
      [layerFromEnv(TABLE, { X_BROKERS: '5', X_NAME: 'env' }), code({ brokers: 2 })],
      (key) => `${key} (default)`,
    )
    expect(values).toEqual({ brokers: 2, verbose: false, name: 'env', replicas: 2 })
    expect(sources).toEqual({
      brokers: 'brokers',
      verbose: 'verbose (default)',
      name: 'X_NAME',
      replicas: 'replicas (default)',
    })
  })

  it('checks the winning value, naming its source, and only the winner', () => {
    expect(() => resolveOptions(TABLE, [code({ brokers: 0 })])).toThrow('brokers: not a count')
    expect(() => resolveOptions(TABLE, [code({ brokers: 0 }), code({ brokers: 1 })])).not.toThrow()
  })

  it('runs the check of an option without a default when nothing sets it, with the options above it', () => {
    expect(() => resolveOptions(TABLE, [])).toThrow('brokers: not a count')
    expect(resolveOptions(TABLE, [code({ brokers: 7 })]).values.replicas).toBe(3)
    expect(resolveOptions(TABLE, [code({ brokers: 7, replicas: 5 })]).values.replicas).toBe(5)
  })
})
