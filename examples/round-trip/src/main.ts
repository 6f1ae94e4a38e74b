/**
 * Round trip on the embedded cluster: forks producer processes (each a separate KafkaJS client,
 * as in a pod running several Node workers), produces keyed records, reads them back with a
 * consumer group, checks per-key order, and prints the broker connections each step costs.
 *
 *   pnpm demo [--processes 4] [--records 2000]
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { EmbeddedKafka, type ConnectionStats } from '@kafka-sidecar/embedded-kafka'
import { Kafka, logLevel } from 'kafkajs'

const { values } = parseArgs({
  // pnpm forwards a literal `--` separator; it is not an argument.
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    processes: { type: 'string', default: '4' },
    records: { type: 'string', default: '2000' },
    worker: { type: 'boolean', default: false },
  },
})

/** Worker mode: one KafkaJS producer in its own process, like one Node worker of a pod. */
async function runWorker(): Promise<void> {
  const brokers = process.env.BOOTSTRAP!.split(',')
  const topic = process.env.TOPIC!
  const count = Number(process.env.RECORDS)
  const workerId = process.env.WORKER_ID!
  const kafka = new Kafka({ clientId: `worker-${workerId}`, brokers, logLevel: logLevel.NOTHING })
  const producer = kafka.producer()
  await producer.connect()
  for (let i = 0; i < count; i += 100) {
    const messages = []
    for (let j = i; j < Math.min(i + 100, count); j++)
      messages.push({ key: `worker-${workerId}-key-${j % 10}`, value: JSON.stringify({ workerId, seq: j }) })
    await producer.send({ topic, messages })
  }
  process.send!({ connected: true })
  // Hold the connections open until the parent has counted them.
  await new Promise<void>((resolve) => process.once('message', () => resolve()))
  await producer.disconnect()
}

function table(stats: ConnectionStats[]): string {
  const rows = stats.map(
    (s) =>
      `  broker ${s.brokerId}   current ${String(s.current).padStart(3)}   peak ${String(s.peak).padStart(3)}   total ${String(s.total).padStart(3)}`,
  )
  const current = stats.reduce((sum, s) => sum + s.current, 0)
  return `${rows.join('\n')}\n  all brokers: ${current} open connections`
}

async function main(): Promise<void> {
  const processes = Number(values.processes)
  const recordsPerProcess = Math.ceil(Number(values.records) / processes)
  const cluster = await EmbeddedKafka.start({ brokers: 3 })
  try {
    console.log(`embedded-kafka: 3 brokers at ${cluster.bootstrapServers.join(', ')}`)
    const topic = 'demo-orders'
    await cluster.createTopic({ topic, partitions: 6 })
    console.log(`topic ${topic}: 6 partitions, leaders spread over the 3 brokers\n`)

    console.log(
      `1. ${processes} worker processes each open their own KafkaJS producer and send ${recordsPerProcess} keyed records`,
    )
    const script = fileURLToPath(import.meta.url)
    const workers = Array.from({ length: processes }, (_, i) =>
      fork(script, ['--worker'], {
        execArgv: process.execArgv,
        env: {
          ...process.env,
          BOOTSTRAP: cluster.bootstrapServers.join(','),
          TOPIC: topic,
          RECORDS: String(recordsPerProcess),
          WORKER_ID: String(i),
        },
      }),
    )
    await Promise.all(
      workers.map(
        (w) =>
          new Promise((resolve, reject) => {
            w.once('message', resolve)
            w.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)))
          }),
      ),
    )
    console.log(table(cluster.connectionStats()))
    console.log(`  -> ${processes} processes x 3 brokers: every process connects to every broker it writes to.`)
    console.log('     With one producer per pod (the kafka-sidecar), this would be about 3.\n')
    for (const w of workers) w.send('done')
    await Promise.all(workers.map((w) => new Promise((resolve) => w.once('exit', resolve))))

    console.log('2. a consumer group reads everything back')
    const kafka = new Kafka({
      clientId: 'demo-consumer',
      brokers: cluster.bootstrapServers,
      logLevel: logLevel.NOTHING,
    })
    const consumer = kafka.consumer({ groupId: 'demo-group', maxWaitTimeInMs: 100 })
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    const expected = processes * recordsPerProcess
    const lastSeqByKey = new Map<string, number>()
    let received = 0
    let outOfOrder = 0
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          const { seq } = JSON.parse(message.value!.toString()) as { seq: number }
          const key = message.key!.toString()
          if ((lastSeqByKey.get(key) ?? -1) > seq) outOfOrder++
          lastSeqByKey.set(key, seq)
          if (++received === expected) resolve()
        },
      })
    })
    const started = Date.now()
    await done
    console.log(
      `  received ${received}/${expected} records in ${Date.now() - started} ms, ${lastSeqByKey.size} keys, ${outOfOrder} out of order per key`,
    )
    await consumer.disconnect()

    const offsets = cluster.offsets(topic)
    console.log(`  partition high watermarks: ${offsets.map((o) => `p${o.partition}=${o.highWatermark}`).join(' ')}`)
    const stats = cluster.connectionStats()
    console.log(
      `  peak connections during the run: ${stats.reduce((sum, s) => sum + s.peak, 0)} (sum of per-broker peaks)`,
    )
    if (received !== expected || outOfOrder > 0) {
      process.exitCode = 1
      console.log('FAILED: records missing or out of order')
    } else {
      console.log('\nOK: every record produced was consumed, in order per key.')
    }
  } finally {
    await cluster.stop()
  }
}

if (values.worker) await runWorker()
else await main()
