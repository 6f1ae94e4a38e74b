/**
 * Test factories that clean up after themselves: an embedded cluster, an in-process sidecar on a
 * Unix socket in a fresh temp dir, and client producers in either mode.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EmbeddedKafka, type EmbeddedKafkaOptions } from '@kafka-sidecar/embedded-kafka'
import { startSidecar, type RunningSidecar, type StartOptions } from '@kafka-sidecar/sidecar'
import { onTestFinished } from 'vitest'
import { Kafka, logLevel, type ProducerMode, type SidecarClientOptions, type SidecarProducer, type SidecarProducerConfig } from '../src/index.js'

export function randomTopic(prefix = 'topic'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`
}

export async function startCluster(options: EmbeddedKafkaOptions = {}): Promise<EmbeddedKafka> {
  const cluster = await EmbeddedKafka.start({ brokers: 3, ...options })
  onTestFinished(() => cluster.stop())
  return cluster
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

export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
