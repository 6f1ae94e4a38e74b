/** CreateTopics, DeleteTopics, CreatePartitions: topic lifecycle, answered by any broker. */
import { ErrorCode } from '../protocol/error-codes.js'
import { CreatePartitions } from '../protocol/messages/create-partitions.js'
import { CreateTopics } from '../protocol/messages/create-topics.js'
import { DeleteTopics } from '../protocol/messages/delete-topics.js'
import { route } from '../server/route.js'
import { TopicOperationError } from '../state/cluster-state.js'

/** Runs a topic operation, turning a refusal into the per-topic error fields of the response. */
function attempt(operation: () => void): { errorCode: number; errorMessage: string | null } {
  try {
    operation()
    return { errorCode: ErrorCode.NONE, errorMessage: null }
  } catch (error) {
    if (error instanceof TopicOperationError) return { errorCode: error.errorCode, errorMessage: error.message }
    throw error
  }
}

export const createTopicsRoute = route(CreateTopics, (ctx, request) => {
  const seen = new Map<string, number>()
  for (const t of request.topics) seen.set(t.name, (seen.get(t.name) ?? 0) + 1)
  return {
    throttleTimeMs: 0,
    topics: request.topics.map((t) => {
      if (seen.get(t.name)! > 1)
        return {
          name: t.name,
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: `Create topics request from client has a duplicate topic ${t.name}.`,
        }
      const partitions =
        t.assignments.length > 0
          ? t.assignments.length
          : t.numPartitions === -1
            ? ctx.cluster.settings.defaultPartitions
            : t.numPartitions
      const replicationFactor =
        t.assignments.length > 0
          ? t.assignments[0]!.brokerIds.length
          : t.replicationFactor === -1
            ? ctx.cluster.settings.defaultReplicationFactor
            : t.replicationFactor
      const result = attempt(() =>
        request.validateOnly
          ? ctx.cluster.validateNewTopic(t.name, partitions, replicationFactor)
          : ctx.cluster.createTopic(t.name, partitions, replicationFactor),
      )
      const topic = ctx.cluster.topics.get(t.name)
      return {
        name: t.name,
        topicId: topic?.id,
        ...result,
        numPartitions: result.errorCode === ErrorCode.NONE ? partitions : -1,
        replicationFactor: result.errorCode === ErrorCode.NONE ? replicationFactor : -1,
        configs: [],
      }
    }),
  }
})

export const deleteTopicsRoute = route(DeleteTopics, (ctx, request) => ({
  throttleTimeMs: 0,
  responses: request.topicNames.map((name) => {
    const result = attempt(() => {
      ctx.cluster.deleteTopic(name)
      ctx.groups.forgetTopic(name)
    })
    return { name, ...result }
  }),
}))

export const createPartitionsRoute = route(CreatePartitions, (ctx, request) => ({
  throttleTimeMs: 0,
  results: request.topics.map((t) => {
    const grow = () =>
      request.validateOnly
        ? ctx.cluster.validatePartitionIncrease(t.name, t.count)
        : ctx.cluster.createPartitions(t.name, t.count)
    return { name: t.name, ...attempt(grow) }
  }),
}))
