/**
 * The cluster a comparison or soak writes to: an embedded-kafka this program starts (the default),
 * or an external cluster named by KAFKA_BROKERS and the sidecar's TLS/SASL variables, so a team can
 * measure on its own brokers. Both give the same four things: topics, the environment that points
 * the sidecar and the workers at the brokers, broker connections while a mode runs, and the log
 * read back to check delivery.
 */

/** One record as read back from the log: enough to find it (value) and to check order per key. */
export interface LogRecord {
  readonly partition: number
  readonly key: Buffer | null
  readonly value: Buffer | null
}

/** How `peakBrokerConnections` was measured, written into the result. */
export type ConnectionCounting = 'exact (counted by embedded-kafka)' | 'sampled from /proc every 0.5 s'

export interface ClusterUnderTest {
  /** One line for the console: where the brokers are and how clients connect. */
  readonly description: string
  readonly brokerCount: number
  readonly connectionCounting: ConnectionCounting
  /** KAFKA_BROKERS and the KAFKA_SSL* / KAFKA_SASL_* variables for the sidecar and the workers. */
  readonly clientEnv: Readonly<Record<string, string>>
  createTopic(topic: string, partitions: number): Promise<void>
  /**
   * Starts measuring the broker connections of the processes `pids()` names (asked again at every
   * sample, as workers start); `stop()` returns the peak of their sum. `excludeOpenNow`: the
   * connections already open (the program's own producer and admin, which stay open throughout)
   * are not counted; the /proc sampler never counts them, as it only looks at `pids()`.
   */
  watchConnections(pids: () => readonly number[], options?: { excludeOpenNow?: boolean }): { stop(): number }
  /**
   * The consumer group's generation id where the cluster can tell (embedded-kafka), else null:
   * two readings give the Kafka rebalances between them.
   */
  groupGeneration(groupId: string): number | null
  /** Calls `visit` for every record of `topic` written so far. */
  forEachRecord(topic: string, visit: (record: LogRecord) => void): Promise<void>
  /** Deletes the topics it made (unless kept) and stops what it started. */
  close(): Promise<void>
}
