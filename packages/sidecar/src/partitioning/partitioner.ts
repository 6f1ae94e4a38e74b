/**
 * Chooses partitions exactly as a KafkaJS 2.2.4 producer in direct mode does, by running
 * KafkaJS's own DefaultPartitioner (Java-compatible murmur2 over the key bytes; null keys
 * round-robin over available partitions) on the same metadata. Switching a producer between
 * direct and sidecar mode therefore never moves a key to another partition.
 */
import { Partitioners, type PartitionMetadata } from 'kafkajs'
import type { IncomingRecord } from '../model.js'

export class DefaultPartitioning {
  private readonly partitioner = Partitioners.DefaultPartitioner()

  partitionFor(record: IncomingRecord, partitionMetadata: PartitionMetadata[]): number {
    if (record.partition !== null) return record.partition
    return this.partitioner({
      topic: record.topic,
      partitionMetadata,
      message: { key: record.key, value: record.value },
    })
  }
}
