/**
 * The migration is one line: the two versions of the service differ only in the module they
 * import, both run, and they write the same records. docs/migrating-from-kafkajs.md quotes them.
 */
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { runProgram } from '@kafka-sidecar/test-support'
import { describe, expect, it } from 'vitest'

const file = (path: string) => readFile(fileURLToPath(new URL(path, import.meta.url)), 'utf8')

describe('examples/migrate-from-kafkajs', () => {
  it('the service after migration differs from the KafkaJS one only in its import line', async () => {
    const before = (await file('../src/before/order-service.ts')).split('\n')
    const after = (await file('../src/after/order-service.ts')).split('\n')
    expect(after).toHaveLength(before.length)
    const differing = before.map((line, i) => [line, after[i]!] as const).filter(([a, b]) => a !== b)
    expect(differing).toEqual([
      [
        "import { CompressionTypes, Kafka, logLevel, type LogEntry, type RecordMetadata } from 'kafkajs'",
        "import { CompressionTypes, Kafka, logLevel, type LogEntry, type RecordMetadata } from '@kafka-sidecar/client'",
      ],
    ])
  })

  it('docs/migrating-from-kafkajs.md shows the same change', async () => {
    const doc = await file('../../../docs/migrating-from-kafkajs.md')
    expect(doc).toContain(
      "- import { CompressionTypes, Kafka, logLevel, type LogEntry, type RecordMetadata } from 'kafkajs'",
    )
    expect(doc).toContain(
      "+ import { CompressionTypes, Kafka, logLevel, type LogEntry, type RecordMetadata } from '@kafka-sidecar/client'",
    )
    expect(doc).toContain('KAFKA_SIDECAR_MODE=sidecar')
  })

  it('both versions run and write the same records to the same partitions', { timeout: 60_000 }, async () => {
    const main = fileURLToPath(new URL('../src/main.ts', import.meta.url))
    const { code, stdout, stderr } = await runProgram(main)
    const output = stdout + stderr
    expect(code, output).toBe(0)
    expect(output).toContain('Producer connected through the sidecar')
    expect(output).toContain('12 records before, 12 after: the same keys, values, headers and partitions')
  })
})
