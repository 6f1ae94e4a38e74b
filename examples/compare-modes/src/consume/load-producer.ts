/**
 * The parent's own producer (plain KafkaJS: it plays the other services that write to the topic,
 * not the application under test): the backlog as fast as it goes, then records at a fixed rate,
 * each with its send time in the value. Null keys spread records over every partition.
 */
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs'
import { kafkaClientSettings } from '@kafka-sidecar/sidecar'
import { consumeValue, nowMs, type PhaseCode } from './record-value.js'

const BACKLOG_SEND = 1_000
const BACKLOG_IN_FLIGHT = 4
const TICK_MS = 10

export class LoadProducer {
  private constructor(
    private readonly producer: Producer,
    private readonly valueBytes: number,
  ) {}

  static async connect(clientEnv: Readonly<Record<string, string>>, valueBytes: number): Promise<LoadProducer> {
    const kafka = new Kafka({
      clientId: 'compare-consume-load',
      ...(await kafkaClientSettings(clientEnv)),
      logLevel: logLevel.ERROR,
    })
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    return new LoadProducer(producer, valueBytes)
  }

  /** `count` records of the backlog phase, sends of 1,000, four in flight. */
  async backlog(topic: string, count: number): Promise<void> {
    let next = 0
    const lane = async () => {
      while (next < count) {
        const first = next
        next = Math.min(count, next + BACKLOG_SEND)
        const sentAt = nowMs()
        const messages = []
        for (let seq = first; seq < next; seq++) messages.push({ value: consumeValue(0, seq, sentAt, this.valueBytes) })
        await this.producer.send({ topic, messages })
      }
    }
    await Promise.all(Array.from({ length: BACKLOG_IN_FLIGHT }, lane))
  }

  /**
   * Writes `rate` records a second to `topic` until `stop()`, which resolves with how many were
   * written once every send is acknowledged. A send that fails fails the run: this producer is
   * the measuring stick, not what is measured.
   */
  atRate(topic: string, phase: PhaseCode, rate: number): { sent(): number; stop(): Promise<number> } {
    const started = nowMs()
    let sent = 0
    let stopped = false
    let failure: unknown = null
    const inFlight = new Set<Promise<unknown>>()
    const tick = () => {
      if (stopped) return
      const due = Math.floor(((nowMs() - started) / 1000) * rate) - sent
      if (due > 0) {
        const sentAt = nowMs()
        const messages = []
        for (let i = 0; i < due; i++) messages.push({ value: consumeValue(phase, sent + i, sentAt, this.valueBytes) })
        sent += due
        const sending = this.producer.send({ topic, messages }).catch((error: unknown) => void (failure ??= error))
        inFlight.add(sending)
        void sending.finally(() => inFlight.delete(sending))
      }
      setTimeout(tick, TICK_MS)
    }
    tick()
    return {
      sent: () => sent,
      stop: async () => {
        stopped = true
        await Promise.all(inFlight)
        if (failure) throw new Error(`the load producer's send failed: ${String(failure)}`, { cause: failure })
        return sent
      },
    }
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect()
  }
}
