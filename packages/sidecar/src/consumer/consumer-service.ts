/**
 * The ConsumerSidecar gRPC service: Consume (one ConsumeSession per stream) and DescribeGroup,
 * each behind the token check, on the sidecar's gRPC server.
 */
import type { sendUnaryData, ServerDuplexStream, ServerUnaryCall } from '@grpc/grpc-js'
import type {
  ConsumeEvent,
  ConsumeRequest,
  ConsumerSidecarServer,
  DescribeGroupRequest,
  DescribeGroupResponse,
} from '@kafka-sidecar/proto'
import type { Admin, GroupDescription } from 'kafkajs'
import { fromKafkaJSError, invalidArgument } from '../errors.js'
import type { TokenAuth } from '../grpc/auth.js'
import { toServiceError } from '../grpc/convert.js'
import type { OpenStreams } from '../grpc/open-streams.js'
import { checkDecoded } from '../grpc/request-checks.js'
import { ConsumeSession, type ConsumeSessionDeps } from './consume-session.js'

export interface ConsumerServiceDeps extends ConsumeSessionDeps {
  readonly auth: TokenAuth
  /** Describes a group the sidecar has no member of. */
  readonly admin: Pick<Admin, 'describeGroups'>
}

export function consumerService(deps: ConsumerServiceDeps, streams: OpenStreams): ConsumerSidecarServer {
  return {
    consume: (call) => consume(deps, streams, call),
    describeGroup: (call, callback) => describeGroup(deps, call, callback),
  }
}

function consume(
  deps: ConsumerServiceDeps,
  streams: OpenStreams,
  call: ServerDuplexStream<ConsumeRequest, ConsumeEvent>,
): void {
  try {
    deps.auth.check(call.metadata)
  } catch (error) {
    call.emit('error', toServiceError(error))
    return
  }
  new ConsumeSession(call, deps, streams)
}

function describeGroup(
  deps: ConsumerServiceDeps,
  call: ServerUnaryCall<DescribeGroupRequest, DescribeGroupResponse>,
  callback: sendUnaryData<DescribeGroupResponse>,
): void {
  const { groupId } = call.request
  try {
    deps.auth.check(call.metadata)
    checkDecoded(call.request)
    if (groupId === '') throw invalidArgument('group_id is empty')
  } catch (error) {
    return callback(toServiceError(error))
  }
  const described =
    deps.groups.describe(groupId) ?? deps.admin.describeGroups([groupId]).then(({ groups }) => groups[0]!)
  described.then(
    (group) => callback(null, toResponse(group)),
    (error: unknown) => callback(toServiceError(fromKafkaJSError(error))),
  )
}

function toResponse(group: GroupDescription): DescribeGroupResponse {
  return {
    groupId: group.groupId,
    members: group.members.map((m) => ({
      memberId: m.memberId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      memberMetadata: m.memberMetadata,
      memberAssignment: m.memberAssignment,
    })),
    protocol: group.protocol,
    protocolType: group.protocolType,
    state: group.state,
    // KafkaJS returns the broker's error code too; its type leaves it out.
    errorCode: (group as GroupDescription & { errorCode?: number }).errorCode ?? 0,
  }
}
