/**
 * What TLS and SASL cost a KafkaJS producer, measured in one run against embedded-kafka in four
 * listener setups (plaintext, TLS, SASL SCRAM-SHA-512, both): the time from a new client to its
 * first acknowledged send (TCP + TLS handshake + SASL exchange + metadata + produce), and records/s
 * of one producer afterwards. The cluster runs in its own process (the CLI), as a broker would.
 *
 *   pnpm bench:tls [--records 50000] [--batch 100] [--size 200] [--concurrency 4] [--trials 10] [--rounds 3]
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs'

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    records: { type: 'string', default: '50000' },
    rounds: { type: 'string', default: '3' },
    batch: { type: 'string', default: '100' },
    size: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '4' },
    trials: { type: 'string', default: '10' },
  },
})
const records = Number(values.records)
const batch = Number(values.batch)
const concurrency = Number(values.concurrency)
const trials = Number(values.trials)
const rounds = Number(values.rounds)
const value = Buffer.alloc(Number(values.size), 'x')

const SCRAM = { mechanism: 'scram-sha-512', username: 'bench', password: 'bench-secret' } as const

interface Setup {
  readonly name: string
  readonly flags: readonly string[]
  readonly sasl: boolean
}

const SETUPS: readonly Setup[] = [
  { name: 'plaintext', flags: [], sasl: false },
  { name: 'TLS', flags: ['--tls'], sasl: false },
  {
    name: 'SASL SCRAM-SHA-512',
    flags: ['--sasl', `${SCRAM.mechanism}:${SCRAM.username}:${SCRAM.password}`],
    sasl: true,
  },
  {
    name: 'TLS + SCRAM-SHA-512',
    flags: ['--tls', '--sasl', `${SCRAM.mechanism}:${SCRAM.username}:${SCRAM.password}`],
    sasl: true,
  },
]

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url))

type Broker = ChildProcessByStdio<null, Readable, null>

/** Starts the CLI with `flags`; resolves with its bootstrap servers and, with TLS, its CA file. */
async function startBroker(flags: readonly string[]): Promise<{ broker: Broker; servers: string[]; ca?: string }> {
  const broker = spawn(process.execPath, ['--import', 'tsx', cli, '--brokers', '1', ...flags], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  const lines = await new Promise<string>((resolve, reject) => {
    broker.once('exit', (code) => reject(new Error(`embedded-kafka exited with ${code}`)))
    broker.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const complete = flags.includes('--tls') ? /^ca: /m.test(out) : out.includes('\n')
      if (complete) resolve(out)
    })
  })
  const servers = /bootstrap: (\S+)/.exec(lines)![1]!.split(',')
  const ca = /^ca: (\S+)$/m.exec(lines)?.[1]
  return { broker, servers, ca }
}

function clientConfig(setup: Setup, servers: string[], ca: string | undefined): KafkaConfig {
  return {
    clientId: 'bench',
    brokers: servers,
    logLevel: logLevel.NOTHING,
    ...(ca ? { ssl: { ca: [readFileSync(ca, 'utf8')] } } : {}),
    ...(setup.sasl ? { sasl: SCRAM } : {}),
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** Milliseconds from a new client to its first acknowledged record, `trials` times; the median. */
async function connectMs(config: KafkaConfig, topic: string): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < trials; i++) {
    const started = process.hrtime.bigint()
    const producer = new Kafka(config).producer()
    await producer.connect()
    await producer.send({ topic, acks: -1, messages: [{ value }] })
    times.push(Number(process.hrtime.bigint() - started) / 1e6)
    await producer.disconnect()
  }
  return median(times)
}

async function recordsPerSecond(config: KafkaConfig, topic: string): Promise<number> {
  const producer = new Kafka(config).producer()
  await producer.connect()
  const messages = Array.from({ length: batch }, (_, i) => ({ key: `key-${i}`, value }))
  const run = async (total: number) => {
    let sent = 0
    const started = process.hrtime.bigint()
    const lane = async () => {
      while (sent < total) {
        sent += batch
        await producer.send({ topic, acks: -1, messages })
      }
    }
    await Promise.all(Array.from({ length: concurrency }, lane))
    return sent / (Number(process.hrtime.bigint() - started) / 1e9)
  }
  await run(Math.min(records, 10_000)) // warm-up: JIT, connections
  const rate = await run(records)
  await producer.disconnect()
  return rate
}

interface Running {
  readonly setup: Setup
  readonly broker: Broker
  readonly config: KafkaConfig
  readonly topic: string
  readonly connectMs: number[]
  readonly recordsPerSec: number[]
}

async function prepare(setup: Setup): Promise<Running> {
  const { broker, servers, ca } = await startBroker(setup.flags)
  const config = clientConfig(setup, servers, ca)
  const admin = new Kafka(config).admin()
  await admin.connect()
  const topic = `bench-${Date.now()}`
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] })
  await admin.disconnect()
  return { setup, broker, config, topic, connectMs: [], recordsPerSec: [] }
}

async function stop({ broker }: Running): Promise<void> {
  broker.kill('SIGTERM')
  await new Promise((resolve) => broker.once('exit', resolve))
}

// Every setup's broker runs at once, and the rounds take the setups in turn, so a slow moment of a
// shared machine falls on all of them rather than on one.
const running: Running[] = []
try {
  for (const setup of SETUPS) running.push(await prepare(setup))
  for (let round = 0; round < rounds; round++) {
    for (const r of running) {
      r.connectMs.push(await connectMs(r.config, r.topic))
      r.recordsPerSec.push(await recordsPerSecond(r.config, r.topic))
    }
  }
} finally {
  await Promise.all(running.map(stop))
}

const results = running.map((r) => ({
  setup: r.setup.name,
  connectMs: median(r.connectMs),
  recordsPerSec: median(r.recordsPerSec),
}))
const base = results[0]!
console.log(
  `KafkaJS producer against embedded-kafka (1 broker, its own process), medians of ${rounds} rounds:\n` +
    `connect = new client to its first acked record (median of ${trials} per round); ` +
    `throughput = ${records} records of ${value.length} B, batches of ${batch}, ${concurrency} in flight, acks=-1`,
)
console.log('setup                  connect ms   vs plaintext   records/s   vs plaintext')
for (const r of results) {
  console.log(
    `${r.setup.padEnd(22)} ${r.connectMs.toFixed(1).padStart(10)}   ${`${(r.connectMs / base.connectMs).toFixed(2)}x`.padStart(12)}   ${Math.round(r.recordsPerSec).toString().padStart(9)}   ${`${((r.recordsPerSec / base.recordsPerSec) * 100).toFixed(0)}%`.padStart(12)}`,
  )
}
