/**
 * One application process of the pod: an ordinary KafkaJS consumer (eachMessage, auto-commit,
 * KafkaJS's defaults) imported from `@kafka-sidecar/client`. The code is the same in both modes;
 * only KAFKA_SIDECAR_CONSUMER_MODE (set by the parent) differs. It tells the parent what it
 * processed (phase, sequence number, partition, receive and send time of every record, every
 * 100 ms), its GROUP_JOIN events, and on SIGTERM it disconnects as a well-behaved service does
 * (finish the batch, commit, leave the group), reports the rest and exits.
 */
import { Kafka, logLevel, SidecarConsumer } from '@kafka-sidecar/client'
import { kafkaClientSettings } from '@kafka-sidecar/sidecar'
import { nowMs, parseConsumeValue } from './record-value.js'

export interface ConsumeWorkerConfig {
  readonly workerId: number
  readonly topic: string
  readonly groupId: string
}

/** Records processed since the last report, column by column (structured clone copies typed arrays cheaply). */
export interface ProcessedRecords {
  readonly phases: Uint8Array
  readonly seqs: Uint32Array
  readonly partitions: Uint16Array
  readonly receivedAtMs: Float64Array
  readonly sentAtMs: Float64Array
}

export type ConsumeWorkerMessage =
  | { type: 'ready'; mode: 'direct' | 'sidecar' }
  | { type: 'consuming' }
  | ({ type: 'processed' } & ProcessedRecords)
  | { type: 'group-join'; isLeader: boolean; partitions: number }
  | { type: 'crash'; error: string }
  | { type: 'bye' }

export type ConsumeParentMessage = { type: 'go' } | { type: 'exit' }

const REPORT_EVERY_MS = 100

/** What the handler saw, until the next report. */
class ProcessedLog {
  private phases: number[] = []
  private seqs: number[] = []
  private partitions: number[] = []
  private receivedAt: number[] = []
  private sentAt: number[] = []

  add(phase: number, seq: number, partition: number, receivedAtMs: number, sentAtMs: number): void {
    this.phases.push(phase)
    this.seqs.push(seq)
    this.partitions.push(partition)
    this.receivedAt.push(receivedAtMs)
    this.sentAt.push(sentAtMs)
  }

  take(): ProcessedRecords | null {
    if (this.seqs.length === 0) return null
    const taken = {
      phases: Uint8Array.from(this.phases),
      seqs: Uint32Array.from(this.seqs),
      partitions: Uint16Array.from(this.partitions),
      receivedAtMs: Float64Array.from(this.receivedAt),
      sentAtMs: Float64Array.from(this.sentAt),
    }
    this.phases = []
    this.seqs = []
    this.partitions = []
    this.receivedAt = []
    this.sentAt = []
    return taken
  }
}

function send(message: ConsumeWorkerMessage): Promise<void> {
  return new Promise((resolve) => process.send!(message, undefined, undefined, () => resolve()))
}

async function run(config: ConsumeWorkerConfig): Promise<void> {
  const brokerSettings = await kafkaClientSettings(process.env)
  // KafkaJS logs every commit a rebalance refuses at ERROR; what matters here comes as CRASH.
  const kafka = new Kafka({ clientId: 'compare-consume', ...brokerSettings, logLevel: logLevel.NOTHING })
  const consumer = kafka.consumer({ groupId: config.groupId })
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    const partitions = Object.values(payload.memberAssignment).flat().length
    void send({ type: 'group-join', isLeader: payload.isLeader, partitions })
  })
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    void send({ type: 'crash', error: `${payload.error.name}: ${payload.error.message}` })
  })
  await consumer.connect()
  await send({ type: 'ready', mode: consumer instanceof SidecarConsumer ? 'sidecar' : 'direct' })
  await nextParentMessage()

  const log = new ProcessedLog()
  const report = () => {
    const records = log.take()
    return records ? send({ type: 'processed', ...records }) : Promise.resolve()
  }
  const reporter = setInterval(() => void report(), REPORT_EVERY_MS)
  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    await consumer.disconnect()
    clearInterval(reporter)
    await report()
    await send({ type: 'bye' })
    process.exit(0)
  }
  process.once('SIGTERM', () => void stop())
  process.on('message', (message: ConsumeParentMessage) => {
    if (message.type === 'exit') void stop()
  })

  let consuming = false
  await consumer.subscribe({ topic: config.topic, fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const receivedAtMs = nowMs()
      const value = parseConsumeValue(message.value)
      if (!value) return
      log.add(value.phase, value.seq, partition, receivedAtMs, value.sentAtMs)
      if (!consuming) {
        consuming = true
        void send({ type: 'consuming' })
      }
    },
  })
}

function nextParentMessage(): Promise<ConsumeParentMessage> {
  return new Promise((resolve) => process.once('message', resolve))
}

export async function consumeWorkerMain(): Promise<void> {
  // The parent gone (killed, or a test timing out) leaves no consumer behind in the group.
  process.once('disconnect', () => process.exit(1))
  await run(JSON.parse(process.env.COMPARE_CONSUME_WORKER!) as ConsumeWorkerConfig)
}
