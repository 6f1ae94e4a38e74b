/**
 * Records sent to a partition the topic does not have. KafkaJS finds no leader for them, leaves
 * them out and resolves the send with the RecordMetadata of the rest, without a word. Both paths
 * of this client resolve the same way, so switching modes changes nothing a caller sees; but a
 * record silently not written is worth a line in the log, and its delivery report says so.
 */
import { status } from '@grpc/grpc-js'
import type { ErrorDetail } from '@kafka-sidecar/proto'
import kafkajs from 'kafkajs'
import type { Logger, RecordMetadata } from 'kafkajs'
import type { OutgoingMessage } from '../producer/messages.js'

export interface AbsentPartition {
  readonly topic: string
  readonly partition: number
  readonly records: number
}

/** Whether a sidecar result says its partition does not exist (NOT_FOUND in a result; see sidecar.proto). */
export function isAbsentPartition(error: ErrorDetail | undefined): boolean {
  return error?.grpcCode === status.NOT_FOUND
}

/** What a delivery report carries for such a record; send() itself does not fail, as in KafkaJS. */
export function absentPartitionError(topic: string, partition: number): Error {
  return new kafkajs.KafkaJSNonRetriableError(`Not written: topic "${topic}" has no partition ${partition}`)
}

export function warnOfAbsentPartitions(log: Logger, absent: readonly AbsentPartition[]): void {
  for (const { topic, partition, records } of absent) {
    log.warn(
      `Records for partition ${partition} of topic "${topic}" were not written: the topic has no such partition (KafkaJS leaves them out and resolves the send without them)`,
      {
        topic,
        partition,
        records,
      },
    )
  }
}

/** One entry per topic-partition, records summed, in first-seen order. */
export function mergeAbsent(entries: Iterable<AbsentPartition>): AbsentPartition[] {
  const merged = new Map<string, AbsentPartition>()
  for (const { topic, partition, records } of entries) {
    const key = `${topic}\u0000${partition}`
    merged.set(key, { topic, partition, records: (merged.get(key)?.records ?? 0) + records })
  }
  return [...merged.values()]
}

/**
 * The records of a direct send that KafkaJS left out: those whose partition has no RecordMetadata
 * although the brokers answered (acks other than 0; with acks 0 KafkaJS returns nothing to tell by).
 */
export function absentInDirectSend(
  outgoing: readonly OutgoingMessage[],
  partitions: ReadonlyArray<number | null>,
  metadata: readonly RecordMetadata[],
  acks: number,
): AbsentPartition[] {
  if (acks === 0) return []
  const written = new Set(metadata.map((m) => `${m.topicName}\u0000${m.partition}`))
  const absent: AbsentPartition[] = []
  outgoing.forEach(({ topic }, index) => {
    const partition = partitions[index]
    if (partition !== null && partition !== undefined && !written.has(`${topic}\u0000${partition}`))
      absent.push({ topic, partition, records: 1 })
  })
  return mergeAbsent(absent)
}
