import { randomUUID } from 'node:crypto'
import { PartitionLog } from './partition-log.js'
import { ProducerSequences } from './producer-sequences.js'

/** One partition: its leader (the only broker holding data), reported replicas, log and producer state. */
export class Partition {
  readonly log: PartitionLog
  readonly sequences = new ProducerSequences()

  constructor(
    readonly topic: string,
    readonly index: number,
    readonly leaderId: number,
    /** Brokers reported as replicas; data lives on the leader only (see docs). */
    readonly replicaIds: readonly number[],
    retentionBytes: number,
  ) {
    this.log = new PartitionLog(retentionBytes)
  }
}

export class Topic {
  readonly id: Buffer = Buffer.from(randomUUID().replaceAll('-', ''), 'hex')
  readonly partitions: Partition[] = []

  constructor(
    readonly name: string,
    readonly replicationFactor: number,
  ) {}
}
