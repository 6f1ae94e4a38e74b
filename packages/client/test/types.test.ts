/**
 * Type-level drop-in: KafkaJS-style TypeScript compiles against the *built* package types, as an
 * application sees them (package.json "exports" → dist/index.d.ts for import, dist/cjs/index.d.ts
 * for require), and wrong usage still fails to compile. Needs a build (`pnpm test` builds first).
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { expectFreshBuild, packageDir, tempApp } from './built-package.js'

const typesDir = join(packageDir, 'test', 'types')
const tscBin = createRequire(import.meta.url).resolve('typescript/bin/tsc')

interface TscResult {
  readonly code: number
  readonly output: string
  readonly errors: Array<{ file: string; line: number; code: string }>
}

function tsc(args: string[], cwd: string): Promise<TscResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [tscBin, ...args], { cwd, timeout: 25_000 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`
      const errors = [...output.matchAll(/^(.+?)\((\d+),\d+\): error (TS\d+)/gm)].map((m) => ({
        file: m[1]!,
        line: Number(m[2]),
        code: m[3]!,
      }))
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output, errors })
    })
  })
}

/** An application's compiler options: those of test/types/tsconfig.json. */
async function appCompilerOptions(): Promise<object> {
  const text = await readFile(join(typesDir, 'tsconfig.json'), 'utf8')
  return (JSON.parse(text.replace(/^\s*\/\/.*$/gm, '')) as { compilerOptions: object }).compilerOptions
}

describe('KafkaJS-style TypeScript against the built package types', () => {
  it('test/types (ESM kafkajs-style.ts, CommonJS kafkajs-style.cts, wrong-usage.ts with its @ts-expect-error lines, dead-letter.ts) compiles: exit code 0', async () => {
    expectFreshBuild()
    const result = await tsc(['-p', join(typesDir, 'tsconfig.json')], packageDir)
    expect(result.output).toBe('')
    expect(result.code).toBe(0)
  })

  it('the wrong usages fail to compile, each on its own line, once their @ts-expect-error is removed', async () => {
    expectFreshBuild()
    const lines = (await readFile(join(typesDir, 'wrong-usage.ts'), 'utf8')).split('\n')
    const expectedLines = lines.flatMap((line, i) => (line.trim().startsWith('// @ts-expect-error') ? [i + 2] : []))
    expect(expectedLines.length).toBeGreaterThanOrEqual(8)
    const app = await tempApp({
      'tsconfig.json': JSON.stringify({ compilerOptions: await appCompilerOptions(), files: ['wrong-usage.ts'] }),
      'wrong-usage.ts': lines.map((line) => line.replace('// @ts-expect-error', '// (error expected)')).join('\n'),
    })
    const result = await tsc(['-p', join(app, 'tsconfig.json')], app)
    expect(result.code).not.toBe(0)
    expect([...new Set(result.errors.map((e) => e.line))].sort((a, b) => a - b)).toEqual(expectedLines)
    expect(result.errors.every((e) => e.file === 'wrong-usage.ts')).toBe(true)
  })

  it("KafkaJS's default-import form (`import kafkajs from 'kafkajs'`, common in ESM) compiles with the module name changed", async () => {
    expectFreshBuild()
    // The same file with 'kafkajs' compiles: the client must accept it too.
    const source = (module: string) => `
import kafkajs from '${module}'

const { Kafka, KafkaJSError, CompressionCodecs, CompressionTypes, logLevel } = kafkajs

export const kafka = new Kafka({ clientId: 'default-import', brokers: ['localhost:9092'], logLevel: logLevel.ERROR })
export const gzip = CompressionCodecs[CompressionTypes.GZIP]
export const isKafkaError = (error: unknown): boolean => error instanceof KafkaJSError
`
    const app = await tempApp({
      'tsconfig.json': JSON.stringify({
        compilerOptions: await appCompilerOptions(),
        files: ['kafkajs.ts', 'client.ts'],
      }),
      'kafkajs.ts': source('kafkajs'),
      'client.ts': source('@kafka-sidecar/client'),
    })
    const result = await tsc(['-p', join(app, 'tsconfig.json')], app)
    expect(result.errors.filter((e) => e.file === 'kafkajs.ts')).toEqual([])
    expect(result.output).toBe('')
    expect(result.code).toBe(0)
  })
})
