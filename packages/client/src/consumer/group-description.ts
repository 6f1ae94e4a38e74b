/**
 * Group-level translations between KafkaJS's consumer and the contract: the KafkaJS consumer
 * options the sidecar's group member is made with, and its describeGroup() answer as KafkaJS's
 * GroupDescription.
 */
import type { DescribeGroupResponse, GroupSettings } from '@kafka-sidecar/proto'
import type { ConsumerConfig, GroupDescription } from 'kafkajs'

/** Only what the application set: the sidecar takes KafkaJS's defaults for the rest. */
export function groupSettings(config: ConsumerConfig): GroupSettings {
  return {
    sessionTimeoutMs: config.sessionTimeout,
    rebalanceTimeoutMs: config.rebalanceTimeout,
    heartbeatIntervalMs: config.heartbeatInterval,
    maxBytesPerPartition: config.maxBytesPerPartition,
    minBytes: config.minBytes,
    maxBytes: config.maxBytes,
    maxWaitTimeMs: config.maxWaitTimeInMs,
    readUncommitted: config.readUncommitted,
    rackId: config.rackId,
    allowAutoTopicCreation: config.allowAutoTopicCreation,
    metadataMaxAgeMs: config.metadataMaxAge,
  }
}

/** In KafkaJS's key order (its DescribeGroups decoder's), member metadata and assignment as Buffers. */
export function groupDescription(response: DescribeGroupResponse): GroupDescription {
  return {
    errorCode: response.errorCode,
    groupId: response.groupId,
    state: response.state,
    protocolType: response.protocolType,
    protocol: response.protocol,
    members: response.members.map((member) => ({
      memberId: member.memberId,
      clientId: member.clientId,
      clientHost: member.clientHost,
      memberMetadata: Buffer.from(member.memberMetadata),
      memberAssignment: Buffer.from(member.memberAssignment),
    })),
  } as GroupDescription
}
