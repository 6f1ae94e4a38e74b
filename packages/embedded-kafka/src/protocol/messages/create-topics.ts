// CreateTopics (key 19). Spec: CreateTopicsRequest.json / CreateTopicsResponse.json (apache/kafka clients/src/main/resources/common/message).
// Tagged field omitted (our codec skips it): response TopicConfigErrorCode (5+). Response TopicId (7+)
// is beyond our 0-5 range.
import { defineApi } from '../api.js'
import { array, boolean, field, int16, int32, int8, nullableArray, nullableString, string, struct } from '../schema.js'

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
