// Metadata (key 3). Spec: MetadataRequest.json / MetadataResponse.json (apache/kafka clients/src/main/resources/common/message).
// No tagged fields in these messages.
import { defineApi } from '../api.js'
import { array, boolean, field, int16, int32, nullableArray, nullableString, string, struct, uuid } from '../schema.js'

/** Kafka's "no authorized operations requested" sentinel (INT32_MIN). */
const AUTHORIZED_OPERATIONS_UNSET = -2147483648

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
          topicAuthorizedOperations: field(int32, '8+', AUTHORIZED_OPERATIONS_UNSET),
        }),
      ),
    ),
    clusterAuthorizedOperations: field(int32, '8-10', AUTHORIZED_OPERATIONS_UNSET),
  }),
})
