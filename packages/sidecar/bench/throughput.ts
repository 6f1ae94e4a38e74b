/**
 * Records/s through the sidecar vs a direct KafkaJS producer, on the same embedded cluster in the
 * same run. Each process is separate, as in a pod: the cluster (embedded-kafka CLI), the sidecar
 * (kafka-sidecar CLI), and this client process. One client streams requests of --batch records of
 * --size bytes with --concurrency requests in flight, waiting for delivery (KafkaJS send()).
 *
 * Both sides run with Node's defaults; BENCH_SIDECAR_NODE_ARGS adds flags to the sidecar (the
 * container image's --max-old-space-size=256 trades peak throughput for a flat RSS).
 *
 * --idempotent adds two modes to every round: the same sends from an idempotent KafkaJS producer,
 * and through the sidecar with EmitRequest.idempotent (its idempotent producer), to measure what
 * idempotence costs on each path.
 *
 * --timestamps sets each record's timestamp_ms to Date.now() at the request, as the client does
 * for messages without a timestamp (the sidecar then passes one per record to KafkaJS).
 *
 *   pnpm bench:sidecar [--records 300000] [--batch 100] [--size 200] [--concurrency 8] [--rounds 3] [--idempotent] [--timestamps] [--json out.json]
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { credentials } from '@grpc/grpc-js'
import { Acks, Compression, ProducerSidecarClient, type EmitAck, type EmitRequest } from '@kafka-sidecar/proto'
import { Kafka, logLevel } from 'kafkajs'

const { values } = parseArgs({
  // pnpm forwards a literal `--` separator; it is not an argument.
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    records: { type: 'string', default: '300000' },
    batch: { type: 'string', default: '100' },
    size: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '8' },
    partitions: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '30000' },
    rounds: { type: 'string', default: '3' },
    idempotent: { type: 'boolean', default: false },
    timestamps: { type: 'boolean', default: false },
    json: { type: 'string' },
  },
})
const total = Number(values.records)
const batch = Number(values.batch)
const size = Number(values.size)
const concurrency = Number(values.concurrency)
const warmup = Number(values.warmup)

const rounds = Number(values.rounds)
const root = fileURLToPath(new URL('../../..', import.meta.url))

function startProcess(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  nodeArgs: string[] = [],
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  // The built CLIs (pnpm build), as production runs them: no TypeScript loader in the measurement.
  const child = spawn(process.execPath, [...nodeArgs, join(root, script), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    let out = ''
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)))
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = ready.exec(out)
      if (match) resolve({ child, match })
    })
  })
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'))
  return Math.round(Number(line!.split(/\s+/)[1]) / 1024)
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100 // utime, stime in clock ticks (USER_HZ 100)
}

/** Each process's share of one core while `run` ran, in percent. */
async function cpuShares<T>(
  pids: Record<string, number>,
  run: () => Promise<T>,
): Promise<{ result: T; cpu: Record<string, number> }> {
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]))
  const started = process.hrtime.bigint()
  const result = await run()
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const cpu = Object.fromEntries(
    Object.entries(pids).map(([name, pid]) => [name, Math.round((100 * (cpuSeconds(pid) - before[name]!)) / seconds)]),
  )
  return { result, cpu }
}

/** Runs `total` records through `send` with `concurrency` lanes; returns records/s. */
async function drive(send: () => Promise<void>, count: number): Promise<number> {
  let sent = 0
  const started = process.hrtime.bigint()
  const lane = async () => {
    while (sent < count) {
      sent += batch
      await send()
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
  return count / (Number(process.hrtime.bigint() - started) / 1e9)
}

const dir = mkdtempSync(join(tmpdir(), 'kafka-sidecar-bench-'))
const children: ChildProcess[] = []
try {
  const broker = await startProcess(
    'packages/embedded-kafka/dist/cli.js',
    ['--brokers', '3', '--retention-bytes', String(64 * 1024 * 1024)],
    {},
    /bootstrap: (\S+)/,
  )
  children.push(broker.child)
  const brokers = broker.match[1]!
  const kafka = new Kafka({ clientId: 'bench', brokers: brokers.split(','), logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  const directTopic = `bench-direct-${Date.now()}`
  const sidecarTopic = `bench-sidecar-${Date.now()}`
  await admin.createTopics({
    topics: [directTopic, sidecarTopic].map((topic) => ({ topic, numPartitions: Number(values.partitions) })),
  })
  await admin.disconnect()

  const value = Buffer.alloc(size, 'x')
  const keys = Array.from({ length: batch }, (_, i) => Buffer.from(`key-${i}`))

  // Both paths stay up for the whole run; rounds alternate direct and sidecar so that a change in
  // machine load hits both alike, and each mode reports its median round.
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  const messages = keys.map((key) => ({ key, value }))
  const directSend = async () => void (await producer.send({ topic: directTopic, acks: -1, messages }))

  const socket = join(dir, 'sidecar.sock')
  const sidecar = await startProcess(
    'packages/sidecar/dist/cli.js',
    [],
    {
      KAFKA_BROKERS: brokers,
      KAFKA_SIDECAR_LISTEN: `unix://${socket}`,
      KAFKA_SIDECAR_HTTP: '127.0.0.1:0',
      KAFKA_SIDECAR_LOG_LEVEL: 'warn',
    },
    /http: \S+\n/,
    // Node's defaults, as the direct producer here runs with; BENCH_SIDECAR_NODE_ARGS may add
    // flags, e.g. the image's "--max-old-space-size=256", or "--cpu-prof --cpu-prof-dir=/tmp/prof".
    (process.env.BENCH_SIDECAR_NODE_ARGS ?? '').split(' ').filter(Boolean),
  )
  children.push(sidecar.child)
  const client = new ProducerSidecarClient(`unix:${socket}`, credentials.createInsecure())
  const stream = client.emitStream()
  const waiting = new Map<number, (ack: EmitAck) => void>()
  stream.on('data', (ack: EmitAck) => {
    waiting.get(ack.requestId)?.(ack)
    waiting.delete(ack.requestId)
  })
  const instanceId = randomUUID()
  let requestId = 0
  const records = keys.map((key) => ({ key, value, headers: [] }))
  const stamped = (unstamped: typeof records) => {
    const now = Date.now()
    return unstamped.map((record) => ({ ...record, timestampMs: now }))
  }
  const sidecarSendOf = (idempotent: boolean) => async () => {
    const request: EmitRequest = {
      requestId: ++requestId,
      clientId: 'bench',
      appName: 'bench',
      instanceId,
      acks: Acks.ACKS_ALL,
      timeoutMs: 30_000,
      compression: Compression.COMPRESSION_NONE,
      awaitDelivery: true,
      topics: [{ topic: sidecarTopic, records: values.timestamps ? stamped(records) : records }],
      idempotent,
    }
    const ack = await new Promise<EmitAck>((resolve) => {
      waiting.set(request.requestId, resolve)
      stream.write(request)
    })
    if (!ack.received || ack.results.some((r) => r.error))
      throw new Error(`request ${ack.requestId} failed: ${JSON.stringify(ack.error ?? ack.results)}`)
  }

  const sidecarSend = sidecarSendOf(false)
  const modes: Array<{
    name: string
    send: () => Promise<void>
    rounds: number[]
    cpu: Array<Record<string, number>>
  }> = [
    { name: 'direct', send: directSend, rounds: [], cpu: [] },
    { name: 'sidecar', send: sidecarSend, rounds: [], cpu: [] },
  ]
  const idempotentProducer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true })
  if (values.idempotent) {
    await idempotentProducer.connect()
    const send = async () => void (await idempotentProducer.send({ topic: directTopic, acks: -1, messages }))
    modes.push(
      { name: 'direct idempotent', send, rounds: [], cpu: [] },
      { name: 'sidecar idempotent', send: sidecarSendOf(true), rounds: [], cpu: [] },
    )
  }

  for (const mode of modes) await drive(mode.send, warmup)
  let peakRss = rssMb(sidecar.child.pid!)
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMb(sidecar.child.pid!))), 200)
  // CPU per process (% of one core) in each round: where the time goes, on a machine where the
  // cluster, the sidecar and the client share the cores.
  const pids = { client: process.pid, sidecar: sidecar.child.pid!, cluster: broker.child.pid! }
  const show = (shares: Record<string, number>) =>
    Object.entries(shares)
      .map(([name, pct]) => `${name} ${pct}%`)
      .join(', ')
  for (let round = 1; round <= rounds; round++) {
    const line: string[] = []
    for (const mode of modes) {
      const measured = await cpuShares(pids, () => drive(mode.send, total))
      mode.rounds.push(measured.result)
      mode.cpu.push(measured.cpu)
      line.push(`${mode.name} ${Math.round(measured.result)} records/s (cpu: ${show(measured.cpu)})`)
    }
    console.log(`round ${round}/${rounds}: ${line.join('; ')}`)
  }
  clearInterval(sampler)
  stream.end()
  client.close()
  await producer.disconnect()
  if (values.idempotent) await idempotentProducer.disconnect()
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const [directMode, sidecarMode, idempotentDirect, idempotentSidecar] = modes
  const direct = median(directMode!.rounds)
  const viaSidecar = median(sidecarMode!.rounds)

  const result = {
    config: {
      records: total,
      batch,
      size,
      concurrency,
      partitions: Number(values.partitions),
      acks: -1,
      rounds,
      idempotent: values.idempotent,
      timestamps: values.timestamps,
    },
    directRounds: directMode!.rounds.map(Math.round),
    sidecarRounds: sidecarMode!.rounds.map(Math.round),
    directRecordsPerSec: Math.round(direct),
    sidecarRecordsPerSec: Math.round(viaSidecar),
    ratio: Number((viaSidecar / direct).toFixed(3)),
    sidecarPeakRssMb: peakRss,
    cpuPercentOfOneCore: { direct: directMode!.cpu, sidecar: sidecarMode!.cpu },
    ...(idempotentDirect && idempotentSidecar
      ? { idempotent: idempotentResult(idempotentDirect, idempotentSidecar, direct, viaSidecar, median) }
      : {}),
  }
  console.log(`direct KafkaJS : ${result.directRecordsPerSec.toLocaleString('en-US')} records/s (median of ${rounds})`)
  console.log(
    `via sidecar    : ${result.sidecarRecordsPerSec.toLocaleString('en-US')} records/s (median of ${rounds}), ${result.ratio}x direct`,
  )
  console.log(`sidecar RSS    : ${peakRss} MB peak during the run`)
  if (result.idempotent) {
    const i = result.idempotent
    console.log(
      `direct, idempotent : ${i.directRecordsPerSec.toLocaleString('en-US')} records/s, ${i.directVsPlain}x plain direct`,
    )
    console.log(
      `sidecar, idempotent: ${i.sidecarRecordsPerSec.toLocaleString('en-US')} records/s, ${i.sidecarVsPlain}x plain sidecar, ${i.ratio}x idempotent direct`,
    )
  }
  console.log(
    `  ${total} records per mode, requests of ${batch} x ${size} B${values.timestamps ? ' (timestamped)' : ''}, ${concurrency} in flight, acks=-1, 3 brokers, ${values.partitions} partitions`,
  )
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2))
} finally {
  for (const child of children) child.kill('SIGTERM')
  rmSync(dir, { recursive: true, force: true })
}

/** The idempotent modes' medians, each against its plain mode of the same run. */
function idempotentResult(
  direct: { rounds: number[]; cpu: Array<Record<string, number>> },
  sidecar: { rounds: number[]; cpu: Array<Record<string, number>> },
  plainDirect: number,
  plainSidecar: number,
  median: (xs: number[]) => number,
) {
  const d = median(direct.rounds)
  const s = median(sidecar.rounds)
  return {
    directRounds: direct.rounds.map(Math.round),
    sidecarRounds: sidecar.rounds.map(Math.round),
    directRecordsPerSec: Math.round(d),
    sidecarRecordsPerSec: Math.round(s),
    directVsPlain: Number((d / plainDirect).toFixed(3)),
    sidecarVsPlain: Number((s / plainSidecar).toFixed(3)),
    ratio: Number((s / d).toFixed(3)),
    cpuPercentOfOneCore: { direct: direct.cpu, sidecar: sidecar.cpu },
  }
}
