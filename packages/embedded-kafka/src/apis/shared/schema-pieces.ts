/** Schema pieces several APIs share, with the fields and versions Kafka's JSON specs give them. */
import {
  array,
  field,
  int16,
  int32,
  int64,
  nullableString,
  string,
  struct,
  type WireType,
} from '../../protocol/schema.js'

/** Kafka's INT32_MIN marker for authorized-operations fields: not requested (Metadata, DescribeGroups). */
export const AUTHORIZED_OPERATIONS_NOT_REQUESTED = -2147483648

/** Topics[Name, Partitions[...]]: how ListOffsets, OffsetCommit and TxnOffsetCommit nest partitions. */
export function partitionsByTopic<R, W>(partition: WireType<R, W>) {
  return array(
    struct({
      name: field(string),
      partitions: field(array(partition)),
    }),
  )
}

/** The response of OffsetCommit and TxnOffsetCommit: an error code per partition. */
export const partitionErrorsByTopic = partitionsByTopic(
  struct({
    partitionIndex: field(int32),
    errorCode: field(int16),
  }),
)

/** A group member speaking in a generation: Heartbeat and SyncGroup requests open with these. */
export const generationMemberFields = {
  groupId: field(string),
  generationId: field(int32),
  memberId: field(string),
  groupInstanceId: field(nullableString, '3+', null),
}

/** A transactional producer: AddOffsetsToTxn and EndTxn requests open with these. */
export const transactionalProducerFields = {
  transactionalId: field(string),
  producerId: field(int64),
  producerEpoch: field(int16),
}
