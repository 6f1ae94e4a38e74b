// CreatePartitions (key 37). Spec: CreatePartitionsRequest.json / CreatePartitionsResponse.json (apache/kafka clients/src/main/resources/common/message).
// No tagged fields.
import { defineApi } from '../protocol/api.js'
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
} from '../protocol/schema.js'
import { route } from '../server/route.js'
import { attemptTopicOperation } from './shared/topic-operations.js'

export const CreatePartitions = defineApi({
  key: 37,
  name: 'CreatePartitions',
  minVersion: 0,
  maxVersion: 2,
  flexibleSince: 2,
  request: struct({
    topics: field(
      array(
        struct({
          name: field(string),
          count: field(int32),
          // null: let the controller place the new partitions.
          assignments: field(
            nullableArray(
              struct({
                brokerIds: field(array(int32)),
              }),
            ),
            '0+',
            [],
          ),
        }),
      ),
    ),
    timeoutMs: field(int32),
    validateOnly: field(boolean),
  }),
  response: struct({
    throttleTimeMs: field(int32),
    results: field(
      array(
        struct({
          name: field(string),
          errorCode: field(int16),
          errorMessage: field(nullableString, '0+', null),
        }),
      ),
    ),
  }),
})

export const createPartitionsRoute = route(CreatePartitions, (ctx, request) => ({
  throttleTimeMs: 0,
  results: request.topics.map((t) => {
    const grow = () =>
      request.validateOnly
        ? ctx.cluster.validatePartitionIncrease(t.name, t.count)
        : ctx.cluster.createPartitions(t.name, t.count)
    return { name: t.name, ...attemptTopicOperation(grow) }
  }),
}))
