import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { OPTIONS } from '../src/config.js'

describe('docs/sidecar.md', () => {
  const doc = readFileSync(new URL('../../../docs/sidecar.md', import.meta.url), 'utf8')
  it.each(OPTIONS.map((o) => [o.env, o.flag]))('documents %s (--%s)', (env, flag) => {
    expect(doc).toContain(`| \`${env}\` | \`--${flag}\` |`)
  })
})

describe('docs/configuration.md', () => {
  const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8')
  it.each(OPTIONS.map((o) => [o.key, o.env, o.flag]))('documents %s (%s, --%s)', (key, env, flag) => {
    expect(doc).toContain(`| \`${key}\` | \`${env}\` | \`--${flag}\` |`)
  })
})

describe('the docs say what the code does (issue 12, finding 6g)', () => {
  const read = (name: string) => readFileSync(new URL(`../../../docs/${name}`, import.meta.url), 'utf8')

  it.each(['delivery-semantics.md', 'architecture.md'])(
    '%s: the sidecar writes with the send\'s acks, never "always -1"',
    (name) => {
      const doc = read(name)
      expect(doc).not.toMatch(/always `-1` \(all in-sync replicas\)/)
      expect(doc).not.toMatch(/codec, acks -1|`acks: -1`, at most/)
      expect(doc).toMatch(/the\s+send's\s+`?acks`?|the\s+sends'\s+`acks`/)
    },
  )

  it("client.md gives KafkaJS's RecordMetadata order (broker by broker), as the client returns it", () => {
    expect(read('client.md')).toMatch(/in KafkaJS's order: broker by broker/)
  })
})
