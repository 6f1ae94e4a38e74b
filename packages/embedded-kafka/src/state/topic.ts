import { randomUUID } from 'node:crypto'
import { PartitionLog } from './partition-log.js'
import { ProducerSequences } from './producer-sequences.js'

/**
 * One partition: its replicas, current leader, log and producer state. Every broker of the
 * process shares the one log, so replicas are always in sync and a failover loses nothing.
 */
export class Partition {
  readonly log: PartitionLog
  readonly sequences = new ProducerSequences()
  /** -1 while no replica is alive (offline partition). */
  leaderId = -1
  /** Bumped on every leadership change, as Kafka's controller does. */
  leaderEpoch = -1

  constructor(
    readonly topic: string,
    readonly index: number,
    /** Preferred replica first: it leads whenever it is alive. */
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
