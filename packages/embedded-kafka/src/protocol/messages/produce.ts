// Produce (key 0). Spec: ProduceRequest.json / ProduceResponse.json (apache/kafka clients/src/main/resources/common/message).
// Tagged fields omitted (our codec skips them): response CurrentLeader (10+) and NodeEndpoints (10+), both beyond v9.
import { defineApi } from '../api.js'
import { array, field, int16, int32, int64, nullableString, records, string, struct } from '../schema.js'

export const Produce = defineApi({
  key: 0,
  name: 'Produce',
  minVersion: 3,
  maxVersion: 9,
  flexibleSince: 9,
  request: struct({
    transactionalId: field(nullableString, '3+', null),
    acks: field(int16),
    timeoutMs: field(int32),
    topicData: field(
      array(
        struct({
          name: field(string),
          partitionData: field(
            array(
              struct({
                index: field(int32),
                records: field(records),
              }),
            ),
          ),
        }),
      ),
    ),
  }),
  response: struct({
    responses: field(
      array(
        struct({
          name: field(string),
          partitionResponses: field(
            array(
              struct({
                index: field(int32),
                errorCode: field(int16),
                baseOffset: field(int64),
                logAppendTimeMs: field(int64, '2+', -1),
                logStartOffset: field(int64, '5+', -1),
                recordErrors: field(
                  array(
                    struct({
                      batchIndex: field(int32, '8+'),
                      batchIndexErrorMessage: field(nullableString, '8+', null),
                    }),
                  ),
                  '8+',
                ),
                errorMessage: field(nullableString, '8+', null),
              }),
            ),
          ),
        }),
      ),
    ),
    throttleTimeMs: field(int32, '1+', 0),
  }),
})
