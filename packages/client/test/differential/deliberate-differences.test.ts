/**
 * docs/deliberate-differences.md shows exactly the list in deliberate-differences.ts: one row
 * per id, with its modes, module systems, programs, paths, reason and what the application sees
 * instead. DIFF_UPDATE_DOC=1 rewrites the table in the doc from the list instead of checking it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  DELIBERATE_DIFFERENCES,
  PINNED_BY_TESTS,
  type DeliberateDifference,
  type PinnedDifference,
} from './deliberate-differences.js'
import { corpus } from './plan.js'

const docPath = new URL('../../../../docs/deliberate-differences.md', import.meta.url)
const migrationPath = new URL('../../../../docs/migrating-from-kafkajs.md', import.meta.url)
const repoRoot = new URL('../../../../', import.meta.url)
const START =
  '<!-- deliberate-differences: start (generated from packages/client/test/differential/deliberate-differences.ts) -->'
const END = '<!-- deliberate-differences: end -->'
const PINNED_START =
  '<!-- pinned-differences: start (generated from packages/client/test/differential/deliberate-differences.ts) -->'
const PINNED_END = '<!-- pinned-differences: end -->'

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ')
}

function row(entry: DeliberateDifference): string {
  const programs = entry.programs === '*' ? 'any' : entry.programs.map((p) => `\`${p}\``).join(', ')
  const paths = entry.paths.map((p) => `\`${p}\``).join(', ')
  const id = entry.intermittent ? `${entry.id} (intermittent)` : entry.id
  return `| ${[id, entry.modes.join(', '), entry.systems.join(', '), programs, paths, entry.reason, entry.instead].map(cell).join(' | ')} |`
}

function renderTable(list: readonly DeliberateDifference[]): string {
  return [
    '| id | modes | module systems | programs | observation paths | reason | what the application sees instead |',
    '|---|---|---|---|---|---|---|',
    ...list.map(row),
  ].join('\n')
}

function pinnedRow(entry: PinnedDifference): string {
  return `| ${[entry.id, entry.reason, entry.instead, entry.pinnedBy.map((f) => `[${f.split('/').pop()}](../${f})`).join(', ')].map(cell).join(' | ')} |`
}

function renderPinned(list: readonly PinnedDifference[]): string {
  return [
    '| id | reason | what the application sees instead | pinned by |',
    '|---|---|---|---|',
    ...list.map(pinnedRow),
  ].join('\n')
}

/** Checks (or with DIFF_UPDATE_DOC rewrites) the doc's section between two marker lines. */
function expectSection(start: string, end: string, wanted: string): void {
  const doc = readFileSync(docPath, 'utf8')
  const from = doc.indexOf(start)
  const to = doc.indexOf(end)
  expect(from, `the doc has the line ${start}`).toBeGreaterThanOrEqual(0)
  expect(to, `the doc has the line ${end}`).toBeGreaterThan(from)
  if (process.env.DIFF_UPDATE_DOC)
    writeFileSync(docPath, `${doc.slice(0, from + start.length)}\n${wanted}\n${doc.slice(to)}`)
  const table = readFileSync(docPath, 'utf8')
    .slice(from + start.length)
    .split(end)[0]!
    .trim()
  expect(
    table,
    'docs/deliberate-differences.md differs from deliberate-differences.ts: run this test with DIFF_UPDATE_DOC=1 to rewrite its tables',
  ).toBe(wanted)
}

describe('the list of deliberate differences', () => {
  it('docs/deliberate-differences.md has one row per id, as in deliberate-differences.ts', () => {
    expectSection(START, END, renderTable(DELIBERATE_DIFFERENCES))
    expectSection(PINNED_START, PINNED_END, renderPinned(PINNED_BY_TESTS))
  })

  it('each difference the corpus cannot show names test files that exist', () => {
    const ids = [...DELIBERATE_DIFFERENCES, ...PINNED_BY_TESTS].map((e) => e.id)
    expect(new Set(ids).size).toBe(ids.length)
    for (const entry of PINNED_BY_TESTS) {
      expect(entry.pinnedBy.length, entry.id).toBeGreaterThan(0)
      for (const file of entry.pinnedBy) expect(existsSync(new URL(file, repoRoot)), `${entry.id}: ${file}`).toBe(true)
    }
  })

  it('ids are unique, entries name real programs, and each has a reason', () => {
    const ids = DELIBERATE_DIFFERENCES.map((e) => e.id)
    expect(new Set(ids).size).toBe(ids.length)
    const programs = new Set([...corpus.map((p) => p.name), '(process)'])
    for (const entry of DELIBERATE_DIFFERENCES) {
      expect(entry.id).toMatch(/^[A-Z0-9-]+$/)
      if (entry.programs !== '*')
        for (const program of entry.programs) expect(programs.has(program), `${entry.id} names ${program}`).toBe(true)
      expect(entry.modes.length * entry.systems.length * entry.paths.length, entry.id).toBeGreaterThan(0)
      expect(entry.reason.length, entry.id).toBeGreaterThan(20)
      expect(entry.instead.length, entry.id).toBeGreaterThan(10)
    }
  })

  it('the migration guide links to it', () => {
    expect(readFileSync(migrationPath, 'utf8')).toContain('(deliberate-differences.md)')
  })
})
