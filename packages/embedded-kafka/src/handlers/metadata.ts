import { ErrorCode } from '../protocol/error-codes.js'
import { Metadata } from '../protocol/messages/metadata.js'
import { route, type RequestContext } from '../server/route.js'
import { topicNameProblem } from '../state/topic-name.js'
import type { Topic } from '../state/topic.js'

/** Kafka's "not requested" marker for authorized-operations fields. */
const OPERATIONS_NOT_REQUESTED = -2147483648

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
    topicAuthorizedOperations: OPERATIONS_NOT_REQUESTED,
  }
}

function topicError(name: string, errorCode: number) {
  return { errorCode, name, isInternal: false, partitions: [], topicAuthorizedOperations: OPERATIONS_NOT_REQUESTED }
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
    clusterAuthorizedOperations: OPERATIONS_NOT_REQUESTED,
  }
})
