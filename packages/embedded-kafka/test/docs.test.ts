/**
 * docs/embedded-kafka.md stays in step with the options table: a row for every option, and every
 * flag in the CLI synopsis, so an option added to the table cannot go undocumented.
 */
import { readFileSync } from 'node:fs'
import { flagNames } from '@kafka-sidecar/options'
import { describe, expect, it } from 'vitest'
import { EMBEDDED_KAFKA_OPTIONS } from '../src/options.js'

const doc = readFileSync(new URL('../../../docs/embedded-kafka.md', import.meta.url), 'utf8')

function section(heading: string): string {
  const start = doc.indexOf(heading)
  expect(start, heading).toBeGreaterThan(-1)
  const next = doc.indexOf('\n#', start + heading.length)
  return doc.slice(start, next < 0 ? undefined : next)
}

describe('docs/embedded-kafka.md', () => {
  it('has an options row for every option', () => {
    const rows = section('### Options')
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) => line.split('|')[1]!)
    const documented = rows.flatMap((cell) => [...cell.matchAll(/`(\w+)`/g)].map((m) => m[1]!))
    expect(documented.sort()).toEqual(Object.keys(EMBEDDED_KAFKA_OPTIONS).sort())
  })

  it('names every flag in the CLI synopsis', () => {
    const synopsis = section('### CLI')
    for (const flag of Object.values(flagNames(EMBEDDED_KAFKA_OPTIONS)))
      expect(synopsis, `--${flag}`).toContain(`--${flag}`)
  })
})
