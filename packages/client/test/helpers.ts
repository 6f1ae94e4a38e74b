/**
 * Test factories that clean up after themselves: an embedded cluster, an in-process sidecar on a
 * Unix socket in a fresh temp dir, and client producers in either mode.
 */
import { connectedPlainProducer } from './kafkajs-reference.js'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { credentials, Metadata } from '@grpc/grpc-js'
import { EmbeddedKafka, type EmbeddedKafkaOptions, type Logger as EmbeddedLogger } from '@kafka-sidecar/embedded-kafka'
import { HealthCheckResponse_ServingStatus, HealthClient } from '@kafka-sidecar/proto'
import { startSidecar, type RunningSidecar, type StartOptions } from '@kafka-sidecar/sidecar'
import { onTestFinished } from 'vitest'
import {
  Kafka,
  logLevel,
  type ProducerMode,
  type SidecarClientOptions,
  type SidecarProducer,
  type SidecarProducerConfig,
} from '../src/index.js'

export function randomTopic(prefix = 'topic'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`
}

export async function startCluster(options: EmbeddedKafkaOptions = {}): Promise<EmbeddedKafka> {
  const cluster = await EmbeddedKafka.start({ brokers: 3, ...options })
  onTestFinished(() => cluster.stop())
  return cluster
}

/** One partition's record batch as a broker received it in a produce request. */
export interface ProducedBatch {
  readonly brokerId: number
  readonly topic: string
  readonly partition: number
  readonly acks: number
  /** The produce request's broker ack timeout. */
  readonly timeoutMs: number
  readonly records: number
  readonly bytes: number
  readonly baseTimestamp: number
}

/**
 * What the brokers were sent, batch by batch: pass `logger` to startCluster, then read
 * `batches(topic)`. Comes from embedded-kafka's debug log of each produce request.
 */
export function produceLog(): { logger: EmbeddedLogger; batches(topic: string): ProducedBatch[] } {
  const all: ProducedBatch[] = []
  return {
    logger: (_level, message, fields) => {
      if (message === 'produce' && fields) all.push(fields as unknown as ProducedBatch)
    },
    batches: (topic) => all.filter((b) => b.topic === topic),
  }
}

export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kafka-sidecar-client-test-'))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

export async function socketPath(): Promise<string> {
  return join(await tempDir(), 'sidecar.sock')
}

export async function startTestSidecar(cluster: EmbeddedKafka, options: StartOptions = {}): Promise<RunningSidecar> {
  const sidecar = await startSidecar({
    brokers: cluster.bootstrapServers,
    listen: `unix://${await socketPath()}`,
    http: null,
    logLevel: 'nothing',
    shutdownTimeoutMs: 2_000,
    ...options,
  })
  onTestFinished(() => sidecar.stop().then(() => undefined))
  await sidecar.ready
  return sidecar
}

export interface ProducerSetup {
  readonly cluster: EmbeddedKafka
  readonly mode: ProducerMode
  readonly address?: string
  readonly config?: SidecarProducerConfig
  readonly sidecar?: SidecarClientOptions
}

/** A connected client producer, disconnected when the test ends. */
export async function connectedProducer(setup: ProducerSetup): Promise<SidecarProducer> {
  const producer = clientProducer(setup)
  await producer.connect()
  return producer
}

export function clientProducer({ cluster, mode, address, config, sidecar }: ProducerSetup): SidecarProducer {
  const kafka = new Kafka({
    clientId: 'client-test',
    brokers: cluster.bootstrapServers,
    logLevel: logLevel.NOTHING,
    sidecar: { mode, ...(address ? { address } : {}), connectTimeoutMs: 3_000, ...sidecar },
  })
  const producer = kafka.producer(config)
  onTestFinished(() => producer.disconnect().catch(() => {}))
  return producer
}

export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

// --- sidecar as a child process (for SIGKILL / SIGSTOP), added for the fault tests ---------------

const cliPath = fileURLToPath(new URL('../../sidecar/src/cli.ts', import.meta.url))
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url))

export interface ChildSidecar {
  readonly pid: number
  /** unix:///path.sock, as printed on the `listening:` line. */
  readonly address: string
  /** host:port of its HTTP endpoints (/metrics, /readyz), as printed on the `http:` line; null when off. */
  readonly httpAddress: string | null
  /** Resolves when the process has exited (by any signal or code). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Sends `signal` to the child by its PID (no-op once it has exited). */
  signal(signal: NodeJS.Signals): void
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<void>
  stderr(): string
  stdout(): string
}

/**
 * Spawns the kafka-sidecar CLI (through tsx, against the sources) listening on `socket`, and
 * waits for its `listening:` line. The child is killed by PID when the test ends, whatever
 * happened (a SIGSTOPped child is killed too: SIGKILL works on stopped processes).
 * `env` adds KAFKA_SIDECAR_* settings (e.g. KAFKA_SIDECAR_MAX_QUEUED_RECORDS).
 */
export async function spawnSidecar(
  cluster: EmbeddedKafka,
  socket: string,
  env: Record<string, string> = {},
): Promise<ChildSidecar> {
  const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KAFKA_')))
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@kafka-sidecar/source', cliPath], {
    cwd: repoRoot,
    env: {
      ...cleanEnv,
      KAFKA_BROKERS: cluster.bootstrapServers.join(','),
      KAFKA_SIDECAR_LISTEN: `unix://${socket}`,
      KAFKA_SIDECAR_HTTP: 'off',
      KAFKA_SIDECAR_LOG_LEVEL: 'nothing',
      KAFKA_SIDECAR_SHUTDOWN_TIMEOUT_MS: '1000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const pid = child.pid!
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
  let running = true
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      running = false
      resolve({ code, signal })
    }),
  )
  const signal = (sig: NodeJS.Signals) => {
    if (running) process.kill(pid, sig)
  }
  const kill = async () => {
    signal('SIGKILL')
    await exited
  }
  onTestFinished(kill)
  await waitFor(
    `the sidecar child's listening line (stderr: ${err})`,
    () => {
      if (!running) throw new Error(`sidecar child exited before listening; stderr: ${err}`)
      return /^listening: /m.test(out) && /^http: /m.test(out)
    },
    15_000,
  )
  const address = /^listening: (.*)$/m.exec(out)![1]!
  const http = /^http: (.*)$/m.exec(out)![1]!
  return {
    pid,
    address,
    httpAddress: http === 'off' ? null : http,
    exited,
    signal,
    kill,
    stderr: () => err,
    stdout: () => out,
  }
}

/** Resolves once the sidecar at `address` reports SERVING on gRPC health (it is connected to Kafka). */
export async function sidecarReady(address: string, timeoutMs = 10_000): Promise<void> {
  const target = address.startsWith('unix://') ? `unix:${address.slice('unix://'.length)}` : address
  const health = new HealthClient(target, credentials.createInsecure())
  try {
    await waitFor(
      `the sidecar at ${address} to be ready`,
      () =>
        new Promise<boolean>((resolve) =>
          health.check({ service: '' }, new Metadata(), { deadline: Date.now() + 1_000 }, (error, response) =>
            resolve(!error && response?.status === HealthCheckResponse_ServingStatus.SERVING),
          ),
        ),
      timeoutMs,
    )
  } finally {
    health.close()
  }
}

/** Broker connections open now, summed over the cluster. */
export function openConnections(cluster: EmbeddedKafka): number {
  return cluster.connectionStats().reduce((sum, s) => sum + s.current, 0)
}

/**
 * A one-broker cluster with a sidecar, the client producer through it and a plain KafkaJS
 * producer beside it, each with a one-partition topic of its own (`ours`, `theirs`): the same
 * sends made on both, compared.
 */
export async function sidecarBesidePlainKafkaJS(options: EmbeddedKafkaOptions = {}) {
  const cluster = await startCluster({ brokers: 1, ...options })
  const [ours, theirs] = [randomTopic(), randomTopic()]
  await cluster.createTopic({ topic: ours, partitions: 1 })
  await cluster.createTopic({ topic: theirs, partitions: 1 })
  const sidecar = await startTestSidecar(cluster)
  const client = await connectedProducer({ cluster, mode: 'sidecar', address: sidecar.address })
  const plain = await connectedPlainProducer(cluster)
  return { cluster, ours, theirs, sidecar, client, plain }
}
