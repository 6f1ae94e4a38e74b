/**
 * The embedded-kafka CLI as a user runs it: a child process (through tsx, against the sources)
 * that prints its bootstrap line, serves real clients, stops cleanly on signals, and refuses bad
 * flags with exit code 2 and a message naming the flag.
 */
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  connectedAdmin,
  connectedProducer,
  freePort,
  kafkaFor,
  randomTopic,
  type RunningProgram,
  runProgram,
  spawnProgram,
  waitFor,
  within,
} from '@kafka-sidecar/test-support'
import { flagParserOptions } from '@kafka-sidecar/options'
import type { Kafka } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { EMBEDDED_KAFKA_OPTIONS } from '../src/options.js'
import { ErrorCode } from '../src/protocol/error-codes.js'
import { Metadata } from '../src/apis/03-metadata.js'
import { openRaw } from './raw-client.js'

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const cliPath = resolve(packageDir, 'src/cli.ts')
const START_TIMEOUT_MS = 15_000

/** Spawns the CLI; it is killed (and awaited) when the test finishes, whatever happened. */
const spawnCli = (args: readonly string[]) => spawnProgram(cliPath, { args, cwd: packageDir })

/** Waits for the first stdout line; fails with the child's stderr if it exits or stalls first. */
async function firstLine(cli: RunningProgram, timeoutMs = START_TIMEOUT_MS): Promise<string> {
  await waitFor(
    () => `the CLI's first line; stderr: ${cli.stderr()}`,
    () => {
      if (cli.child.exitCode !== null || cli.child.signalCode !== null) {
        throw new Error(
          `CLI exited (${cli.child.exitCode ?? cli.child.signalCode}) before printing a line; stderr: ${cli.stderr()}`,
        )
      }
      return cli.stdout().includes('\n')
    },
    timeoutMs,
  )
  return cli.stdout().split('\n')[0]!
}

const BOOTSTRAP = /^bootstrap: ((?:[^,\s]+:\d+)(?:,[^,\s]+:\d+)*)$/

/** Starts the CLI and returns its bootstrap servers, parsed from the first line. */
async function startCli(args: readonly string[]): Promise<{ cli: RunningProgram; servers: string[] }> {
  const cli = spawnCli(args)
  const line = await firstLine(cli)
  const match = BOOTSTRAP.exec(line)
  if (!match) throw new Error(`first line is not a bootstrap line: ${JSON.stringify(line)}`)
  return { cli, servers: match[1]!.split(',') }
}

/** Runs the CLI to completion (for flags that make it exit), failing if it does not exit in time. */
const runToExit = (args: readonly string[]) =>
  runProgram(cliPath, { args, cwd: packageDir, timeoutMs: START_TIMEOUT_MS })

const exitWithin = (cli: RunningProgram, timeoutMs: number) => within(cli.exited, timeoutMs, 'CLI exit')

const kafkaAt = (servers: string[]): Kafka => kafkaFor({ bootstrapServers: servers }, 'cli-test')

function address(server: string): { host: string; port: number } {
  const at = server.lastIndexOf(':')
  return { host: server.slice(0, at), port: Number(server.slice(at + 1)) }
}

/** The long flag names the CLI's parseArgs accepts: the options' (from their table) and its own, read from its source. */
function parserFlags(): string[] {
  const source = readFileSync(cliPath, 'utf8')
  const block = /parseArgs\(\{\s*options:\s*\{([\s\S]*?)\n\s*\},\s*\n?\s*strict/.exec(source)
  if (!block) throw new Error('could not find the parseArgs options block in cli.ts')
  const flags = [...block[1]!.matchAll(/^\s*'?([a-z][a-z0-9-]*)'?\s*:\s*\{\s*type:/gm)].map((m) => m[1]!)
  return [...Object.keys(flagParserOptions(EMBEDDED_KAFKA_OPTIONS)), ...flags]
}

describe('embedded-kafka CLI', () => {
  it('prints a bootstrap line with one address per broker, and serves a KafkaJS producer', async () => {
    const { cli, servers } = await startCli(['--brokers', '2'])
    expect(servers).toHaveLength(2)
    for (const server of servers) {
      const { host, port } = address(server)
      expect(host).toBe('127.0.0.1')
      expect(port).toBeGreaterThan(0)
    }
    expect(new Set(servers).size).toBe(2)
    expect(cli.stdout().split('\n')[0]).toBe(`bootstrap: ${servers.join(',')}`)

    const kafka = kafkaAt(servers)
    const topic = randomTopic('cli')
    const producer = await connectedProducer(kafka)
    const [result] = await producer.send({ topic, messages: [{ value: 'from-cli-test' }, { value: 'second' }] })
    expect(result!.errorCode).toBe(0)
    const admin = await connectedAdmin(kafka)
    const offsets = await admin.fetchTopicOffsets(topic)
    expect(offsets.map((o) => [o.partition, o.high])).toEqual([[0, '2']])
  })

  it('--tls prints the CA file right after the bootstrap line, and serves KafkaJS that trusts it', async () => {
    const { cli, servers } = await startCli(['--brokers', '1', '--tls'])
    await waitFor('the ca line', () => cli.stdout().split('\n').length > 2)
    const [, caLine] = cli.stdout().split('\n')
    const caFile = /^ca: (\S+)$/.exec(caLine!)?.[1]
    expect(caFile, caLine).toBeDefined()
    const ca = readFileSync(caFile!, 'utf8')
    expect(ca).toMatch(/^-----BEGIN CERTIFICATE-----/)
    const producer = await connectedProducer(kafkaFor({ bootstrapServers: servers }, 'cli-tls', { ssl: { ca: [ca] } }))
    await producer.send({ topic: randomTopic('cli-tls'), messages: [{ value: 'x' }] })
  })

  it('--sasl (repeatable) enables each mechanism:user:password given, over --tls too', async () => {
    const { cli, servers } = await startCli([
      '--brokers',
      '1',
      '--tls',
      '--sasl',
      'scram-sha-512:alice:se:cret',
      '--sasl',
      'plain:bob:pw',
    ])
    await waitFor('the ca line', () => cli.stdout().split('\n').length > 2)
    const ca = readFileSync(/^ca: (\S+)$/m.exec(cli.stdout())![1]!, 'utf8')
    for (const sasl of [
      { mechanism: 'scram-sha-512', username: 'alice', password: 'se:cret' },
      { mechanism: 'plain', username: 'bob', password: 'pw' },
    ] as const) {
      const producer = await connectedProducer(
        kafkaFor({ bootstrapServers: servers }, 'cli-sasl', { ssl: { ca: [ca] }, sasl }),
      )
      await producer.send({ topic: randomTopic('cli-sasl'), messages: [{ value: sasl.mechanism }] })
    }
  })

  it('defaults to three brokers', async () => {
    const { servers } = await startCli([])
    expect(servers).toHaveLength(3)
  })

  it('creates --topic name:parts topics at start, and plain --topic names with --partitions', async () => {
    const four = randomTopic('four')
    const plain = randomTopic('plain')
    const { servers } = await startCli([
      '--brokers',
      '2',
      '--partitions',
      '2',
      '--topic',
      `${four}:4`,
      '--topic',
      plain,
    ])
    const admin = await connectedAdmin(kafkaAt(servers))
    expect((await admin.listTopics()).sort()).toEqual([four, plain].sort())
    const { topics } = await admin.fetchTopicMetadata({ topics: [four, plain] })
    const byName = new Map(topics.map((t) => [t.name, t.partitions.map((p) => p.partitionId).sort((a, b) => a - b)]))
    expect(byName.get(four)).toEqual([0, 1, 2, 3])
    expect(byName.get(plain)).toEqual([0, 1])
  })

  it('listens on --port (first broker) and --host', async () => {
    const port = await freePort()
    const { servers } = await startCli(['--brokers', '1', '--host', '127.0.0.1', '--port', String(port)])
    expect(servers).toEqual([`127.0.0.1:${port}`])
    const client = await openRaw({ host: '127.0.0.1', port })
    const answer = await client.roundTrip(Metadata, 1, { topics: null })
    expect(answer.brokers.map((b) => [b.host, b.port])).toEqual([['127.0.0.1', port]])
  })

  it('refuses unknown topics with --no-auto-create-topics', async () => {
    const { servers } = await startCli(['--brokers', '1', '--no-auto-create-topics'])
    const client = await openRaw(address(servers[0]!))
    const topic = randomTopic('absent')
    const answer = await client.roundTrip(Metadata, 4, { topics: [{ name: topic }], allowAutoTopicCreation: true })
    expect(answer.topics.map((t) => [t.name, t.errorCode])).toEqual([[topic, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]])
  })

  it('logs JSON lines to stderr at --log-level warn', async () => {
    const { cli, servers } = await startCli(['--brokers', '1', '--log-level', 'warn'])
    const client = await openRaw(address(servers[0]!))
    await client.write(Buffer.from('GET / HTTP/1.1\r\n\r\n', 'latin1')) // makes the broker close it, with a warning
    await client.waitForClose()
    const deadline = Date.now() + 5_000
    while (!cli.stderr().includes('\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    const lines = cli.stderr().trim().split('\n')
    expect(lines.length).toBeGreaterThan(0)
    const entries = lines.map((line) => JSON.parse(line) as { level: string; message: string })
    expect(entries.some((e) => e.level === 'warn' && typeof e.message === 'string' && e.message.length > 0)).toBe(true)
    expect(entries.every((e) => e.level === 'warn' || e.level === 'error')).toBe(true)
  })

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'exits with code 0 soon after %s, even with a client connected',
    async (signal) => {
      const { cli, servers } = await startCli(['--brokers', '2'])
      const producer = await connectedProducer(kafkaAt(servers))
      await producer.send({ topic: randomTopic('bye'), messages: [{ value: 'x' }] })
      const sentAt = Date.now()
      expect(cli.child.kill(signal)).toBe(true)
      const exit = await exitWithin(cli, 5_000)
      expect(exit).toEqual({ code: 0, signal: null })
      expect(Date.now() - sentAt).toBeLessThan(5_000)
    },
  )

  it.each(['--help', '-h'])('%s prints every flag the parser accepts and exits 0', async (flag) => {
    const flags = parserFlags()
    expect(flags).toEqual(expect.arrayContaining(['brokers', 'port', 'topic', 'help']))
    const { code, signal, stdout } = await runToExit([flag])
    expect({ code, signal }).toEqual({ code: 0, signal: null })
    expect(stdout).toMatch(/^Usage: embedded-kafka/)
    expect(stdout).not.toMatch(/^bootstrap: /m)
    for (const name of flags) expect(stdout, `--${name} in help`).toMatch(new RegExp(`(^|\\s)--${name}(\\s|$)`, 'm'))
  })

  it.each([
    ['--brokers', 'x', 'brokers'],
    ['--brokers', '0', 'brokers'],
    ['--brokers', '-3', 'brokers'],
    ['--port', '70000', 'port'],
    ['--port', 'eighty', 'port'],
    ['--log-level', 'loud', 'log-level'],
    ['--topic', 'orders:many', 'topic'],
    ['--sasl', 'gssapi:alice:secret', 'sasl'],
    ['--sasl', 'plain:alice', 'sasl'],
    ['--tls-cert', '/nonexistent/broker.pem', 'tls-key'],
  ])('%s %s exits 2 with a message naming the option', async (flag, value, name) => {
    const { code, stdout, stderr } = await runToExit(['--brokers', '1', flag, value])
    expect(code).toBe(2)
    expect(stdout).not.toMatch(/^bootstrap: /m)
    expect(stderr).toMatch(new RegExp(`\\b${name}\\b`))
  })

  it.each([
    ['--partitions', '0', 'partitions'],
    ['--retention-bytes', '0', 'retention-bytes'],
    ['--max-message-bytes', '0', 'max-message-bytes'],
  ])('%s %s exits 2 with a message naming the flag as typed', async (flag, value, name) => {
    const { code, stderr } = await runToExit(['--brokers', '1', flag, value])
    expect(code).toBe(2)
    // The user typed --partitions; "defaultPartitions" is an API name they never saw.
    expect(stderr).toMatch(new RegExp(`(^|[^A-Za-z])${name}([^A-Za-z-]|$)`))
  })

  it.each([
    { args: ['--bogus'], offending: '--bogus' },
    { args: ['--brokers=2', '--nope', '1'], offending: '--nope' },
    { args: ['stray-positional'], offending: 'stray-positional' },
  ])('refuses $args with a non-zero exit naming $offending', async ({ args, offending }) => {
    const { code, stdout, stderr } = await runToExit(args)
    expect(code).not.toBe(0)
    expect(code).not.toBeNull()
    expect(stdout).not.toMatch(/^bootstrap: /m)
    expect(stderr).toContain(offending)
  })
})
