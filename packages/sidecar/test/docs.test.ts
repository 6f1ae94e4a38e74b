import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { OPTIONS } from '../src/config.js'

describe('docs/sidecar.md', () => {
  const doc = readFileSync(new URL('../../../docs/sidecar.md', import.meta.url), 'utf8')
  it.each(OPTIONS.map((o) => [o.env, o.flag]))('documents %s (--%s)', (env, flag) => {
    expect(doc).toContain(`| \`${env}\` | \`--${flag}\` |`)
  })
})
