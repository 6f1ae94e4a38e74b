// Every API the broker speaks, one schema per Kafka message pair (see each file for its spec).
import type { AnyApi } from '../api.js'
import { AddOffsetsToTxn } from './add-offsets-to-txn.js'
import { AddPartitionsToTxn } from './add-partitions-to-txn.js'
import { ApiVersions } from './api-versions.js'
import { CreatePartitions } from './create-partitions.js'
import { CreateTopics } from './create-topics.js'
import { DeleteTopics } from './delete-topics.js'
import { DescribeGroups } from './describe-groups.js'
import { EndTxn } from './end-txn.js'
import { Fetch } from './fetch.js'
import { FindCoordinator } from './find-coordinator.js'
import { Heartbeat } from './heartbeat.js'
import { InitProducerId } from './init-producer-id.js'
import { JoinGroup } from './join-group.js'
import { LeaveGroup } from './leave-group.js'
import { ListGroups } from './list-groups.js'
import { ListOffsets } from './list-offsets.js'
import { Metadata } from './metadata.js'
import { OffsetCommit } from './offset-commit.js'
import { OffsetFetch } from './offset-fetch.js'
import { Produce } from './produce.js'
import { SyncGroup } from './sync-group.js'
import { TxnOffsetCommit } from './txn-offset-commit.js'

export {
  AddOffsetsToTxn,
  AddPartitionsToTxn,
  ApiVersions,
  CreatePartitions,
  CreateTopics,
  DeleteTopics,
  DescribeGroups,
  EndTxn,
  Fetch,
  FindCoordinator,
  Heartbeat,
  InitProducerId,
  JoinGroup,
  LeaveGroup,
  ListGroups,
  ListOffsets,
  Metadata,
  OffsetCommit,
  OffsetFetch,
  Produce,
  SyncGroup,
  TxnOffsetCommit,
}

/** All supported APIs, in api-key order. */
export const ALL_APIS: readonly AnyApi[] = [
  Produce,
  Fetch,
  ListOffsets,
  Metadata,
  OffsetCommit,
  OffsetFetch,
  FindCoordinator,
  JoinGroup,
  Heartbeat,
  LeaveGroup,
  SyncGroup,
  DescribeGroups,
  ListGroups,
  ApiVersions,
  CreateTopics,
  DeleteTopics,
  InitProducerId,
  AddPartitionsToTxn,
  AddOffsetsToTxn,
  EndTxn,
  TxnOffsetCommit,
  CreatePartitions,
]
