// CreateTopics (key 19). Spec: CreateTopicsRequest.json / CreateTopicsResponse.json (apache/kafka clients/src/main/resources/common/message).
// Tagged field omitted (our codec skips it): response TopicConfigErrorCode (5+). Response TopicId (7+)
// is beyond our 0-5 range.
import { defineApi } from '../protocol/api.js'
import { ErrorCode } from '../protocol/error-codes.js'
import {
  array,
  boolean,
  field,
  int16,
  int32,
  int8,
  nullableArray,
  nullableString,
  string,
  struct,
} from '../protocol/schema.js'
import { route } from '../server/route.js'
import { attemptTopicOperation } from './shared/topic-operations.js'

export const CreateTopics = defineApi({
  key: 19,
  name: 'CreateTopics',
  minVersion: 0,
  maxVersion: 5,
  flexibleSince: 5,
  request: struct({
    topics: field(
      array(
        struct({
          name: field(string),
          numPartitions: field(int32),
          replicationFactor: field(int16),
          assignments: field(
            array(
              struct({
                partitionIndex: field(int32),
                brokerIds: field(array(int32)),
              }),
            ),
          ),
          configs: field(
            array(
              struct({
                name: field(string),
                value: field(nullableString, '0+', ''),
              }),
            ),
          ),
        }),
      ),
    ),
    timeoutMs: field(int32, '0+', 60000),
    validateOnly: field(boolean, '1+', false),
  }),
  response: struct({
    throttleTimeMs: field(int32, '2+'),
    topics: field(
      array(
        struct({
          name: field(string),
          errorCode: field(int16),
          errorMessage: field(nullableString, '1+', ''),
          numPartitions: field(int32, '5+', -1),
          replicationFactor: field(int16, '5+', -1),
          configs: field(
            nullableArray(
              struct({
                name: field(string, '5+'),
                value: field(nullableString, '5+', ''),
                readOnly: field(boolean, '5+'),
                configSource: field(int8, '5+', -1),
                isSensitive: field(boolean, '5+'),
              }),
            ),
            '5+',
            [],
          ),
        }),
      ),
    ),
  }),
})

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
      const result = attemptTopicOperation(() =>
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
