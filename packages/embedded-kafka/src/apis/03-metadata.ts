// Metadata (key 3). Spec: MetadataRequest.json / MetadataResponse.json (apache/kafka clients/src/main/resources/common/message).
// No tagged fields in these messages.
import { defineApi } from '../protocol/api.js'
import { ErrorCode } from '../protocol/error-codes.js'
import {
  array,
  boolean,
  field,
  int16,
  int32,
  nullableArray,
  nullableString,
  string,
  struct,
  uuid,
} from '../protocol/schema.js'
import { route, type RequestContext } from '../server/route.js'
import { topicNameProblem } from '../state/topic-name.js'
import type { Topic } from '../state/topic.js'
import { AUTHORIZED_OPERATIONS_NOT_REQUESTED } from './shared/schema-pieces.js'

export const Metadata = defineApi({
  key: 3,
  name: 'Metadata',
  minVersion: 0,
  maxVersion: 12,
  flexibleSince: 9,
  request: struct({
    // null (v1+) asks for every topic; v0 uses an empty array for that.
    topics: field(
      nullableArray(
        struct({
          topicId: field(uuid, '10+'),
          name: field(nullableString, '0+', ''),
        }),
      ),
      '0+',
      [],
    ),
    allowAutoTopicCreation: field(boolean, '4+', true),
    includeClusterAuthorizedOperations: field(boolean, '8-10'),
    includeTopicAuthorizedOperations: field(boolean, '8+'),
  }),
  response: struct({
    throttleTimeMs: field(int32, '3+'),
    brokers: field(
      array(
        struct({
          nodeId: field(int32),
          host: field(string),
          port: field(int32),
          rack: field(nullableString, '1+', null),
        }),
      ),
    ),
    clusterId: field(nullableString, '2+', null),
    controllerId: field(int32, '1+', -1),
    topics: field(
      array(
        struct({
          errorCode: field(int16),
          name: field(nullableString, '0+', ''),
          topicId: field(uuid, '10+'),
          isInternal: field(boolean, '1+', false),
          partitions: field(
            array(
              struct({
                errorCode: field(int16),
                partitionIndex: field(int32),
                leaderId: field(int32),
                leaderEpoch: field(int32, '7+', -1),
                replicaNodes: field(array(int32)),
                isrNodes: field(array(int32)),
                offlineReplicas: field(array(int32), '5+'),
              }),
            ),
          ),
          topicAuthorizedOperations: field(int32, '8+', AUTHORIZED_OPERATIONS_NOT_REQUESTED),
        }),
      ),
    ),
    clusterAuthorizedOperations: field(int32, '8-10', AUTHORIZED_OPERATIONS_NOT_REQUESTED),
  }),
})

function describeTopic(ctx: RequestContext, topic: Topic) {
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.id,
    isInternal: false,
    partitions: topic.partitions.map((p) => {
      return {
        errorCode: p.leaderId === -1 ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE,
        partitionIndex: p.index,
        leaderId: p.leaderId,
        leaderEpoch: p.leaderEpoch,
        replicaNodes: [...p.replicaIds],
        isrNodes: p.replicaIds.filter((id) => ctx.cluster.isAlive(id)),
        offlineReplicas: p.replicaIds.filter((id) => !ctx.cluster.isAlive(id)),
      }
    }),
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_NOT_REQUESTED,
  }
}

function topicError(name: string, errorCode: number) {
  return {
    errorCode,
    name,
    isInternal: false,
    partitions: [],
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_NOT_REQUESTED,
  }
}

export const metadataRoute = route(Metadata, (ctx, request) => {
  const { cluster } = ctx
  // v0 asks for every topic with an empty list; later versions with null.
  const everything = request.topics === null || (ctx.apiVersion === 0 && request.topics.length === 0)
  // v0-v3 have no allowAutoTopicCreation field: the broker's setting alone decides.
  const allowAutoCreate = ctx.apiVersion < 4 ? true : request.allowAutoTopicCreation
  const topics = everything
    ? [...cluster.topics.values()].map((t) => describeTopic(ctx, t))
    : request.topics!.map(({ name, topicId }) => {
        if (name === null) {
          const byId = [...cluster.topics.values()].find((t) => t.id.equals(topicId))
          return byId
            ? describeTopic(ctx, byId)
            : { ...topicError('', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION), name: null, topicId }
        }
        if (topicNameProblem(name)) return topicError(name, ErrorCode.INVALID_TOPIC_EXCEPTION)
        const topic = cluster.topicForMetadata(name, allowAutoCreate)
        return topic ? describeTopic(ctx, topic) : topicError(name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
      })
  return {
    throttleTimeMs: 0,
    brokers: cluster.liveBrokers().map((b) => ({ nodeId: b.id, host: b.host, port: b.port, rack: null })),
    clusterId: cluster.clusterId,
    controllerId: cluster.controllerId(),
    topics,
    clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_NOT_REQUESTED,
  }
})
