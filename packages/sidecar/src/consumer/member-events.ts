/** The events a group member sends its processes, built from its feeds and its last Kafka join. */
import type { ConsumeEvent, OwnedPartition } from '@kafka-sidecar/proto'
import type { SidecarError } from '../errors.js'
import type { GroupJoin } from './kafka-group-consumer.js'
import type { DeliveredBatch, PartitionFeed } from './partition-feed.js'

/** The ownership a feed is under now. */
export function owned(feed: PartitionFeed): OwnedPartition {
  return { topic: feed.topic, partition: feed.partition, assignmentId: feed.owner!.assignmentId }
}

export function batchEvent(feed: PartitionFeed, batch: DeliveredBatch): ConsumeEvent {
  const { batchId, highWatermark, records, lastOffset, redelivered, rewinds } = batch
  const { topic, partition } = feed
  return {
    event: {
      $case: 'batch',
      value: {
        batchId,
        topic,
        partition,
        assignmentId: feed.owner!.assignmentId,
        highWatermark,
        records: [...records],
        lastOffset,
        redelivered,
        rewinds,
      },
    },
  }
}

export function revokeEvent(feeds: readonly PartitionFeed[], rebalance: boolean): ConsumeEvent {
  return { event: { $case: 'revoke', value: { partitions: feeds.map(owned), rebalance } } }
}

/** A process's partitions now; after a Kafka rebalance with the join's duration. */
export function assignedEvent(
  partitions: OwnedPartition[],
  join: GroupJoin | null,
  afterRebalance: boolean,
): ConsumeEvent {
  return {
    event: {
      $case: 'assigned',
      value: {
        partitions,
        memberId: join?.memberId ?? '',
        leaderId: join?.leaderId ?? '',
        isLeader: join?.isLeader ?? false,
        groupProtocol: join?.groupProtocol ?? '',
        joinDurationMs: afterRebalance ? (join?.duration ?? 0) : 0,
        afterRebalance,
      },
    },
  }
}

export function groupErrorEvent(error: SidecarError, restarting: boolean): ConsumeEvent {
  return { event: { $case: 'groupError', value: { error: error.toDetail(), restarting } } }
}
