/**
 * What a sidecar consumer says to the sidecar and hears from it: the Consume stream of
 * consumer.proto, as an interface. The consumer's logic (runner, offsets, events) talks only to
 * this; grpc-consume-transport.ts is the one implementation over the wire, and tests drive the
 * consumer through an in-memory one. Messages are the contract's own types, so an implementation
 * only carries them.
 */
import type {
  ProducerSidecarClient,
  Assigned,
  Batch,
  BatchDone,
  CommitOffsets,
  CommitResult,
  DescribeGroupResponse,
  GroupError,
  Joined,
  JoinGroup,
  PartitionsReleased,
  PausePartitions,
  ProcessedOffset,
  ResumePartitions,
  Revoke,
  SeekPartition,
} from '@kafka-sidecar/proto'

/** What the sidecar tells a joined consumer, in stream order. */
export interface ConsumeListener {
  joined(joined: Joined): void
  assigned(assigned: Assigned): void
  revoke(revoke: Revoke): void
  batch(batch: Batch): void
  commitResult(result: CommitResult): void
  groupError(error: GroupError): void
  /**
   * The stream ended. The sidecar has given this consumer's partitions away. With `rejoining` the
   * transport opens a new stream and sends the same join again (after a backoff); without it (after
   * `leave`, or `close`) it stays closed.
   */
  closed(reason: Error | null, rejoining: boolean): void
  /**
   * When the run loop last made progress while an application handler runs (a handler called or
   * returned, an offset resolved, heartbeat() called); null while no handler runs. The
   * transport says `alive` only after progress (or while idle), and opens no new stream while a
   * handler has been stuck for the process timeout, as KafkaJS heartbeats and rejoins only from
   * its runner.
   */
  lastProgress(): number | null
}

export interface ConsumeTransport {
  /** Waits until the sidecar can be reached, at most `timeoutMs`; whether it can. */
  ready(timeoutMs: number): Promise<boolean>
  /** Opens a Consume stream and joins; `listener` hears everything until the transport is closed. */
  join(join: JoinGroup, listener: ConsumeListener): void
  progress(processed: ProcessedOffset): void
  done(done: BatchDone): void
  commit(commit: CommitOffsets): void
  seek(seek: SeekPartition): void
  pause(pause: PausePartitions): void
  resume(resume: ResumePartitions): void
  released(released: PartitionsReleased): void
  /** Tells the sidecar this process is alive (the transport also does on its own timer). */
  alive(): void
  /** Asks to leave (current batches are over), ends the stream; resolves once it ended. No rejoin. */
  leave(): Promise<void>
  describeGroup(groupId: string): Promise<DescribeGroupResponse>
  /** A client of the sidecar's ClusterInfo on the same channel; null when there is no sidecar to ask (tests). */
  clusterClient(): ProducerSidecarClient | null
  /** Ends any stream and releases the channel. */
  close(): void
}
