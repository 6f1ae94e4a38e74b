/**
 * Load for the consumer fault tests: a KafkaJS producer in the test process writing one record to
 * every partition of a topic, again and again, until stopped, through whatever fault the test
 * injects (a broker down included: a failed send is counted and the loop goes on). What counts as
 * produced is what the cluster stored, read back at the end, so a send that failed after writing
 * is accounted for like any other record.
 */
import type { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import { connectedProducer, kafkaFor } from '@kafka-sidecar/test-support'

export interface ContinuousWriter {
  /** Sends that completed, and sends that threw (their records may or may not be stored). */
  readonly sent: () => number
  readonly failed: () => number
  /** Ends the loop after the send in flight; resolves when it has ended. */
  stop(): Promise<void>
}

/** Starts writing at once: a send of one record per partition, then `pauseMs`, and again. */
export async function writeContinuously(
  cluster: EmbeddedKafka,
  topic: string,
  partitions: number,
  pauseMs = 20,
): Promise<ContinuousWriter> {
  const producer = await connectedProducer(
    kafkaFor(cluster, 'load-writer', { retry: { retries: 8, initialRetryTime: 50, maxRetryTime: 500 } }),
  )
  let running = true
  let sent = 0
  let failed = 0
  const loop = (async () => {
    for (let round = 0; running; round++) {
      try {
        await producer.send({
          topic,
          messages: Array.from({ length: partitions }, (_, p) => ({ partition: p, value: `p${p}-${round}` })),
        })
        sent++
      } catch {
        failed++
      }
      await new Promise((resolve) => setTimeout(resolve, pauseMs))
    }
  })()
  return {
    sent: () => sent,
    failed: () => failed,
    stop: async () => {
      running = false
      await loop
    },
  }
}
