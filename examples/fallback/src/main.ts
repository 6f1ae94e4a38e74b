/**
 * Fallback, live: one application producer sends continuously through the sidecar; the sidecar
 * process is killed (SIGKILL, no goodbye) and started again. The timeline shows the breaker
 * opening, sends going directly to Kafka, the half-open probe bringing traffic back, and the
 * fallback producer disconnecting. At the end every acknowledged record is looked up in Kafka.
 *
 *   pnpm --filter @kafka-sidecar/example-fallback start [--seconds 12] [--kill-at 3] [--restart-at 6]
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Kafka, logLevel } from '@kafka-sidecar/client'
import { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    seconds: { type: 'string', default: '12' },
    'kill-at': { type: 'string', default: '3' },
    'restart-at': { type: 'string', default: '6' },
  },
})
const seconds = Number(values.seconds)
const killAt = Number(values['kill-at'])
const restartAt = Number(values['restart-at'])
if (
  ![seconds, killAt, restartAt].every((n) => Number.isFinite(n) && n > 0) ||
  !(killAt < restartAt && restartAt < seconds)
) {
  console.error('need 0 < --kill-at < --restart-at < --seconds')
  process.exit(2)
}

const started = Date.now()
const t = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`

function startSidecar(brokers: string[], socket: string): Promise<ChildProcess> {
  const cli = join(dirname(fileURLToPath(import.meta.resolve('@kafka-sidecar/sidecar'))), 'cli.ts')
  const child = spawn(process.execPath, [...process.execArgv, cli], {
    env: {
      ...process.env,
      KAFKA_BROKERS: brokers.join(','),
      KAFKA_SIDECAR_LISTEN: `unix://${socket}`,
      KAFKA_SIDECAR_HTTP: 'off',
      KAFKA_SIDECAR_LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    let out = ''
    child.once('exit', (code) => reject(new Error(`kafka-sidecar exited with ${code}`)))
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes('listening: ')) resolve(child)
    })
  })
}

const cluster = await EmbeddedKafka.start({ brokers: 3 })
const dir = mkdtempSync(join(tmpdir(), 'fallback-example-'))
const socket = join(dir, 'sidecar.sock')
let sidecar: ChildProcess | null = await startSidecar(cluster.bootstrapServers, socket)
try {
  const topic = 'payments'
  await cluster.createTopic({ topic, partitions: 6 })
  const kafka = new Kafka({ clientId: 'fallback-demo', brokers: cluster.bootstrapServers, logLevel: logLevel.NOTHING })
  const producer = kafka.producer({
    sidecar: {
      mode: 'sidecar',
      address: `unix://${socket}`,
      breaker: { resetTimeoutMs: 1_000 },
      fallbackIdleMs: 2_000,
      requestTimeoutMarginMs: 1_000,
    },
  })
  const byPath = { sidecar: 0, direct: 0 }
  producer.on(producer.events.DELIVERY, ({ payload }) => {
    if (payload.error === null) byPath[payload.path]++
  })
  producer.on(producer.events.BREAKER_OPEN, () => console.log(`${t()}  breaker OPEN: sends go directly to Kafka`))
  producer.on(producer.events.BREAKER_HALF_OPEN, () =>
    console.log(`${t()}  breaker HALF-OPEN: the next send probes the sidecar`),
  )
  producer.on(producer.events.BREAKER_CLOSE, () => console.log(`${t()}  breaker CLOSED: back on the sidecar`))
  let fallbackNotes = 0
  producer.on(producer.events.FALLBACK, ({ payload }) => {
    if (fallbackNotes++ < 3)
      console.log(`${t()}  fallback: ${payload.records} records re-sent directly (${payload.reason})`)
  })
  await producer.connect()
  console.log(`${t()}  producer connected in ${producer.mode} mode; sidecar pid ${sidecar.pid}`)

  const acked = new Set<number>()
  let attempted = 0
  let failed = 0
  let running = true
  const lane = async (laneId: number) => {
    let seq = 0
    while (running) {
      const ids = Array.from({ length: 10 }, () => laneId * 1_000_000 + seq++)
      attempted += ids.length
      try {
        await producer.send({ topic, messages: ids.map((id) => ({ key: `customer-${id % 50}`, value: String(id) })) })
        for (const id of ids) acked.add(id)
      } catch (error) {
        failed += ids.length
        console.log(`${t()}  send failed: ${(error as Error).message}`)
      }
    }
  }
  const lanes = Array.from({ length: 8 }, (_, i) => lane(i))
  const ticker = setInterval(() => {
    const connections = cluster.connectionStats().reduce((sum, s) => sum + s.current, 0)
    console.log(
      `${t()}  acked via sidecar ${String(byPath.sidecar).padStart(6)}, direct ${String(byPath.direct).padStart(6)} | breaker ${producer.breakerState.padEnd(9)} | direct producer ${producer.directConnected ? 'connected   ' : 'disconnected'} | broker connections ${connections}`,
    )
  }, 1_000)

  await new Promise((resolve) => setTimeout(resolve, killAt * 1_000))
  console.log(`${t()}  SIGKILL sidecar (pid ${sidecar.pid})`)
  sidecar.kill('SIGKILL')
  sidecar = null
  await new Promise((resolve) => setTimeout(resolve, (restartAt - killAt) * 1_000))
  sidecar = await startSidecar(cluster.bootstrapServers, socket)
  console.log(`${t()}  sidecar restarted (pid ${sidecar.pid})`)
  await new Promise((resolve) => setTimeout(resolve, (seconds - restartAt) * 1_000))
  running = false
  await Promise.all(lanes)
  clearInterval(ticker)
  await producer.disconnect()

  const stored = new Map<number, number>()
  for (const record of await cluster.records(topic)) {
    const id = Number(record.value!.toString())
    stored.set(id, (stored.get(id) ?? 0) + 1)
  }
  const lost = [...acked].filter((id) => !stored.has(id)).length
  const duplicates = [...stored.values()].reduce((sum, n) => sum + n - 1, 0)
  console.log(
    `\nattempted ${attempted}, acked ${acked.size}, failed ${failed}, lost ${lost}, duplicates ${duplicates} (re-sent after the kill: at-least-once)`,
  )
  console.log(`delivered via sidecar ${byPath.sidecar}, via direct fallback ${byPath.direct}`)
  if (lost > 0 || acked.size !== attempted) {
    console.log('FAILED: a record was lost or not acknowledged')
    process.exitCode = 1
  } else {
    console.log('OK: attempted = acked, lost = 0')
  }
} finally {
  sidecar?.kill('SIGTERM')
  await cluster.stop()
  rmSync(dir, { recursive: true, force: true })
}
