// DeleteTopics (key 20). Spec: DeleteTopicsRequest.json / DeleteTopicsResponse.json (apache/kafka clients/src/main/resources/common/message).
// Request Topics (6+, names or ids), response TopicId (6+) and ErrorMessage (5+) are beyond our
// 0-4 range; response Name is nullable only from v6, so it is a plain string here. No tagged fields.
import { defineApi } from '../protocol/api.js'
import { array, field, int16, int32, string, struct } from '../protocol/schema.js'
import { route } from '../server/route.js'
import { attemptTopicOperation } from './shared/topic-operations.js'

export const DeleteTopics = defineApi({
  key: 20,
  name: 'DeleteTopics',
  minVersion: 0,
  maxVersion: 4,
  flexibleSince: 4,
  request: struct({
    topicNames: field(array(string), '0-5'),
    timeoutMs: field(int32),
  }),
  response: struct({
    throttleTimeMs: field(int32, '1+'),
    responses: field(
      array(
        struct({
          name: field(string),
          errorCode: field(int16),
        }),
      ),
    ),
  }),
})

export const deleteTopicsRoute = route(DeleteTopics, (ctx, request) => ({
  throttleTimeMs: 0,
  responses: request.topicNames.map((name) => {
    const result = attemptTopicOperation(() => {
      ctx.cluster.deleteTopic(name)
      ctx.groups.forgetTopic(name)
    })
    return { name, ...result }
  }),
}))
