/**
 * Chooses partitions exactly as a KafkaJS 2.2.4 producer in direct mode does, by running
 * KafkaJS's own default partitioner logic (murmur2 of the key bytes modulo the partition count;
 * null keys round-robin over available partitions) on the same metadata. Switching a producer
 * between direct and sidecar mode therefore never moves a key to another partition. The hash is
 * murmur2.ts's 32-bit one, the same values as KafkaJS's 64-bit Long version at a tenth of the cost.
 */
import { createRequire } from 'node:module'
import type { PartitionMetadata } from 'kafkajs'
import type { IncomingRecord } from '../model.js'
import { murmur2 } from './murmur2.js'

const require = createRequire(import.meta.url)

type KafkaJSPartitioner = (args: {
  topic: string
  partitionMetadata: PartitionMetadata[]
  message: { key?: Buffer | null; value: Buffer | null; partition?: number }
}) => number
/** KafkaJS 2.2.4's DefaultPartitioner is this factory applied to its murmur2 (partitioners/default/index.js). */
const createDefaultPartitioner = require('kafkajs/src/producer/partitioners/legacy/partitioner.js') as (
  hash: (key: Buffer | string) => number,
) => () => KafkaJSPartitioner

export class DefaultPartitioning {
  private readonly partitioner = createDefaultPartitioner(murmur2)()

  partitionFor(record: IncomingRecord, partitionMetadata: PartitionMetadata[]): number {
    if (record.partition !== null) return record.partition
    return this.partitioner({
      topic: record.topic,
      partitionMetadata,
      message: { key: record.key, value: record.value },
    })
  }
}
