/**
 * The built package from both module systems, in child Node processes: CommonJS
 * (`require('@kafka-sidecar/client')` → dist/cjs) and ESM (`import` → dist/). The children run
 * with cwd packages/client, so the package's self-reference resolves through its "exports" as an
 * application's node_modules would; one check also runs from a separate application directory.
 * Needs a build (`pnpm test` builds first).
 */
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import kafkajs from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { randomTopic, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import { expectFreshBuild, packageDir, tempApp } from './built-package.js'

interface ChildResult {
  readonly code: number | null
  readonly signal: string | null
  readonly stdout: string
  readonly stderr: string
  readonly timedOut: boolean
}

function runNode(
  args: string[],
  {
    cwd = packageDir,
    env = {},
    timeoutMs = 20_000,
  }: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      args,
      { cwd, env: { ...process.env, ...env }, timeout: timeoutMs, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        const timedOut = error !== null && (error as { killed?: boolean }).killed === true
        resolve({ code: child.exitCode, signal: child.signalCode, stdout, stderr, timedOut })
      },
    )
  })
}

/** The last stdout line of a child that printed one JSON document. */
function lastJson(result: ChildResult): Record<string, unknown> {
  const line = result.stdout.trim().split('\n').at(-1) ?? ''
  try {
    return JSON.parse(line) as Record<string, unknown>
  } catch {
    throw new Error(
      `child printed no JSON (exit ${result.code}, signal ${result.signal}):\n${result.stdout}\n${result.stderr}`,
    )
  }
}

const KAFKAJS_KEYS = Object.keys(kafkajs)

/** Checks shared by both module systems; `client` and `kafkajs` are in scope where this runs. */
const CHECKS = `
  const keys = Object.keys(kafkajs)
  const result = {
    kafkajsKeys: keys.length,
    missing: keys.filter((k) => !(k in client)),
    notTheSameObject: keys.filter((k) => k !== 'Kafka' && client[k] !== kafkajs[k]),
    kafkaIsOwnClass: typeof client.Kafka === 'function' && client.Kafka !== kafkajs.Kafka,
    errorClasses: keys.filter((k) => /^KafkaJS/.test(k)).filter((k) => client[k] === kafkajs[k]).length,
    instanceOfAcross: new kafkajs.KafkaJSProtocolError({ message: 'x', type: 'T', code: 1, retriable: false }) instanceof client.KafkaJSError,
    codecsShared: client.CompressionCodecs === kafkajs.CompressionCodecs && typeof client.CompressionCodecs[client.CompressionTypes.GZIP] === 'function',
    producerApi: (() => {
      const producer = new client.Kafka({ clientId: 'child', brokers: ['127.0.0.1:9'], logLevel: client.logLevel.NOTHING, sidecar: { mode: 'direct' } }).producer()
      return ['connect', 'disconnect', 'send', 'sendBatch', 'transaction', 'on', 'isIdempotent', 'logger'].filter((m) => typeof producer[m] !== 'function')
    })(),
  }
  console.log(JSON.stringify(result))
`

const CJS_SCRIPT = `
  const client = require('@kafka-sidecar/client')
  const kafkajs = require('kafkajs')
  ${CHECKS}
`

const ESM_SCRIPT = `
  import * as client from '@kafka-sidecar/client'
  import kafkajs from 'kafkajs'
  ${CHECKS}
`

/** Sends one record in each mode with the built package, then disconnects and lets the process end by itself. */
const PRODUCE = `
  const produce = async (mode) => {
    const kafka = new client.Kafka({
      clientId: 'child-' + mode,
      brokers: process.env.TEST_BROKERS.split(','),
      logLevel: client.logLevel.NOTHING,
      sidecar: { mode, address: process.env.TEST_SIDECAR, connectTimeoutMs: 3000 },
    })
    const producer = kafka.producer()
    await producer.connect()
    const metadata = await producer.send({ topic: process.env.TEST_TOPIC, messages: [{ key: mode, value: 'from a ' + process.env.TEST_SYSTEM + ' child' }] })
    const used = producer.mode
    await producer.disconnect()
    return { mode: used, acked: metadata.length }
  }
  produce('direct').then(async (direct) => {
    const sidecar = await produce('sidecar')
    console.log(JSON.stringify({ direct, sidecar }))
  }, (error) => {
    console.error(error)
    process.exitCode = 1
  })
`

describe('CommonJS and ESM', () => {
  it('the package declares both entry points and their types, and the build has them', () => {
    expectFreshBuild()
    const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
      exports: { '.': { import: { types: string; default: string }; require: { types: string; default: string } } }
    }
    expect(pkg.exports['.'].import).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' })
    expect(pkg.exports['.'].require).toEqual({ types: './dist/cjs/index.d.ts', default: './dist/cjs/index.js' })
    for (const file of ['dist/index.d.ts', 'dist/cjs/index.d.ts', 'dist/index.js', 'dist/cjs/index.js'])
      expect(existsSync(join(packageDir, file)), file).toBe(true)
    // dist/cjs is CommonJS inside a "type": "module" package.
    expect(JSON.parse(readFileSync(join(packageDir, 'dist/cjs/package.json'), 'utf8'))).toEqual({ type: 'commonjs' })
  })

  it.each([
    ['CommonJS (require)', ['-e', CJS_SCRIPT]],
    ['ESM (import)', ['--input-type=module', '-e', ESM_SCRIPT]],
  ])(
    "%s: every export of require('kafkajs') is there, the same object as KafkaJS's (Kafka aside)",
    async (_system, args) => {
      expectFreshBuild()
      const result = await runNode(args)
      expect(result.stderr).toBe('')
      expect(result.code).toBe(0)
      const checks = lastJson(result)
      expect(checks).toEqual({
        kafkajsKeys: KAFKAJS_KEYS.length,
        missing: [],
        notTheSameObject: [],
        kafkaIsOwnClass: true,
        errorClasses: KAFKAJS_KEYS.filter((k) => k.startsWith('KafkaJS')).length,
        instanceOfAcross: true,
        codecsShared: true,
        producerApi: [],
      })
      expect(KAFKAJS_KEYS.filter((k) => k.startsWith('KafkaJS')).length).toBeGreaterThan(30)
    },
  )

  it('ESM: every KafkaJS export is a static named import', async () => {
    expectFreshBuild()
    const names = KAFKAJS_KEYS.join(', ')
    const script = `import { ${names} } from '@kafka-sidecar/client'\nimport kafkajs from 'kafkajs'\nconst got = { ${names} }\nconsole.log(JSON.stringify(Object.keys(got).filter((k) => k !== 'Kafka' && got[k] !== kafkajs[k])))`
    const result = await runNode(['--input-type=module', '-e', script])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout.trim())).toEqual([])
  })

  it("ESM: the default import gives the whole module, as `import kafkajs from 'kafkajs'` does", async () => {
    expectFreshBuild()
    const script = `
      const kafkajs = (await import('kafkajs')).default
      const client = (await import('@kafka-sidecar/client')).default
      console.log(JSON.stringify({
        kafkajs: typeof kafkajs?.Kafka === 'function' && kafkajs.KafkaJSError !== undefined,
        client: typeof client?.Kafka === 'function' && client.KafkaJSError === kafkajs.KafkaJSError && client.CompressionCodecs === kafkajs.CompressionCodecs,
      }))`
    const result = await runNode(['--input-type=module', '-e', script])
    expect(result.stderr).toBe('')
    expect(lastJson(result)).toEqual({ kafkajs: true, client: true })
  })

  it.each([
    [
      'CommonJS',
      { type: 'commonjs' },
      'index.js',
      `const client = require('@kafka-sidecar/client'); const kafkajs = require('kafkajs'); ${CHECKS}`,
    ],
    [
      'ESM',
      { type: 'module' },
      'index.js',
      `import * as client from '@kafka-sidecar/client'; import kafkajs from 'kafkajs'; ${CHECKS}`,
    ],
  ])(
    '%s from a separate application that has the package in node_modules',
    async (_system, packageJson, file, script) => {
      expectFreshBuild()
      const app = await tempApp({ [file]: script }, packageJson)
      const result = await runNode([file], { cwd: app })
      expect(result.stderr).toBe('')
      expect(lastJson(result)).toMatchObject({
        missing: [],
        notTheSameObject: [],
        kafkaIsOwnClass: true,
        producerApi: [],
      })
    },
  )

  it.each([
    ['CommonJS', ['-e', `const client = require('@kafka-sidecar/client'); ${PRODUCE}`]],
    ['ESM', ['--input-type=module', '-e', `import * as client from '@kafka-sidecar/client'; ${PRODUCE}`]],
  ])(
    '%s: the built package produces in both modes, and the process exits on its own after disconnect',
    async (system, args) => {
      expectFreshBuild()
      const cluster = await startCluster()
      const topic = randomTopic('child')
      await cluster.createTopic({ topic, partitions: 3 })
      const sidecar = await startTestSidecar(cluster)
      const result = await runNode(args, {
        env: {
          TEST_BROKERS: cluster.bootstrapServers.join(','),
          TEST_SIDECAR: sidecar.address,
          TEST_TOPIC: topic,
          TEST_SYSTEM: system,
        },
        timeoutMs: 15_000,
      })
      expect(result.stderr).toBe('')
      expect(lastJson(result)).toEqual({ direct: { mode: 'direct', acked: 1 }, sidecar: { mode: 'sidecar', acked: 1 } })
      expect({ timedOut: result.timedOut, code: result.code }).toEqual({ timedOut: false, code: 0 })
      const records = await cluster.records(topic)
      expect(records.map((r) => `${r.key!.toString()}: ${r.value!.toString()}`).sort()).toEqual([
        `direct: from a ${system} child`,
        `sidecar: from a ${system} child`,
      ])
    },
  )
})
