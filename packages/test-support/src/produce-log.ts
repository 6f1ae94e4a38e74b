import type { Logger as EmbeddedLogger } from '@kafka-sidecar/embedded-kafka'

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
