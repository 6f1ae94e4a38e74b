/**
 * How many records/s one KafkaJS producer pushes into embedded-kafka: sends of --batch records of
 * --size bytes, acks=-1, --concurrency sends in flight. The cluster runs in its own process (the
 * CLI), as a real broker would, so KafkaJS and the broker each get a core on a 2-core machine.
 *
 *   pnpm bench:embedded-kafka [--records 500000] [--batch 100] [--size 200] [--concurrency 8]
 *                             [--partitions 3] [--brokers 3] [--json result.json]
 */
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Kafka, logLevel } from 'kafkajs'

const { values } = parseArgs({
  // pnpm forwards a literal `--` separator; it is not an argument.
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    records: { type: 'string', default: '500000' },
    batch: { type: 'string', default: '100' },
    size: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '8' },
    partitions: { type: 'string', default: '3' },
    brokers: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '50000' },
    json: { type: 'string' },
  },
})
const records = Number(values.records)
const batch = Number(values.batch)
const size = Number(values.size)
const concurrency = Number(values.concurrency)
const warmup = Number(values.warmup)

/** CPU seconds (user + system) a process has used, from /proc (Linux); null elsewhere. */
function processCpuSeconds(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100 // utime + stime in clock ticks (100/s)
  } catch {
    return null
  }
}

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
const broker = spawn(
  process.execPath,
  ['--import', 'tsx', cli, '--brokers', values.brokers, '--retention-bytes', String(64 * 1024 * 1024)],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
)
const bootstrap = await new Promise<string[]>((resolve, reject) => {
  broker.once('exit', (code) => reject(new Error(`embedded-kafka exited with ${code}`)))
  broker.stdout.once('data', (chunk: Buffer) => resolve(/bootstrap: (\S+)/.exec(chunk.toString())![1]!.split(',')))
})

try {
  const kafka = new Kafka({ clientId: 'bench', brokers: bootstrap, logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  const topic = `bench-${Date.now()}`
  await admin.createTopics({ topics: [{ topic, numPartitions: Number(values.partitions) }] })
  await admin.disconnect()

  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  const value = Buffer.alloc(size, 'x')
  const messages = Array.from({ length: batch }, (_, i) => ({ key: `key-${i}`, value }))

  const run = async (total: number): Promise<number> => {
    let sent = 0
    const started = process.hrtime.bigint()
    const lane = async () => {
      while (sent < total) {
        sent += batch
        await producer.send({ topic, acks: -1, messages })
      }
    }
    await Promise.all(Array.from({ length: concurrency }, lane))
    return Number(process.hrtime.bigint() - started) / 1e9
  }

  await run(warmup)
  const brokerCpuBefore = processCpuSeconds(broker.pid!)
  const clientCpuBefore = process.cpuUsage()
  const seconds = await run(records)
  const clientCpu = process.cpuUsage(clientCpuBefore)
  const brokerCpuAfter = processCpuSeconds(broker.pid!)
  const recordsPerSec = Math.round(records / seconds)
  await producer.disconnect()

  const percentOfCore = (cpuSeconds: number) => Math.round((100 * cpuSeconds) / seconds)
  const clientCpuPercent = percentOfCore((clientCpu.user + clientCpu.system) / 1e6)
  const brokerCpuPercent =
    brokerCpuBefore === null || brokerCpuAfter === null ? null : percentOfCore(brokerCpuAfter - brokerCpuBefore)
  const result = {
    recordsPerSec,
    records,
    seconds: Number(seconds.toFixed(3)),
    batch,
    size,
    concurrency,
    acks: -1,
    brokers: Number(values.brokers),
    partitions: Number(values.partitions),
    clientCpuPercent,
    brokerCpuPercent,
  }
  console.log(`embedded-kafka produce throughput: ${recordsPerSec.toLocaleString('en-US')} records/s`)
  console.log(
    `  ${records} records in sends of ${batch} x ${size} B, concurrency ${concurrency}, acks=-1, ${result.brokers} brokers, ${result.partitions} partitions, ${result.seconds} s`,
  )
  console.log(
    `  CPU (% of one core): KafkaJS producer process ${clientCpuPercent}%, embedded-kafka process ${brokerCpuPercent ?? 'n/a'}%`,
  )
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2))
} finally {
  broker.kill('SIGTERM')
}
