/**
 * Consumer group APIs. Each one first checks that this broker coordinates the group
 * (NOT_COORDINATOR otherwise, so clients re-run FindCoordinator), then defers to the
 * GroupCoordinator's state machine.
 */
import { ErrorCode } from '../protocol/error-codes.js'
import { DescribeGroups } from '../protocol/messages/describe-groups.js'
import { Heartbeat } from '../protocol/messages/heartbeat.js'
import { JoinGroup } from '../protocol/messages/join-group.js'
import { LeaveGroup } from '../protocol/messages/leave-group.js'
import { ListGroups } from '../protocol/messages/list-groups.js'
import { OffsetCommit } from '../protocol/messages/offset-commit.js'
import { OffsetFetch } from '../protocol/messages/offset-fetch.js'
import { SyncGroup } from '../protocol/messages/sync-group.js'
import type { JoinOutcome } from '../groups/group.js'
import { route, type RequestContext } from '../server/route.js'
import { isCoordinatorFor } from './leadership.js'

/** Authorized operations not requested (Kafka's INT32_MIN marker). */
const OPERATIONS_NOT_REQUESTED = -2147483648
/** First JoinGroup version where an unknown member must come back with an assigned id (KIP-394). */
const MEMBER_ID_REQUIRED_SINCE = 4
/** First JoinGroup/SyncGroup versions where protocol type/name are nullable and echoed. */
const NULLABLE_PROTOCOL_SINCE = 7

function joinResponse(ctx: RequestContext, outcome: JoinOutcome) {
  const nullable = ctx.apiVersion >= NULLABLE_PROTOCOL_SINCE
  return {
    throttleTimeMs: 0,
    errorCode: outcome.errorCode,
    generationId: outcome.generationId,
    protocolType: outcome.protocolType,
    // Before v7 the protocol name is a non-nullable string.
    protocolName: nullable ? outcome.protocolName : (outcome.protocolName ?? ''),
    leader: outcome.leaderId,
    memberId: outcome.memberId,
    members: outcome.members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: m.metadata,
    })),
  }
}

export const joinGroupRoute = route(JoinGroup, (ctx, request) => {
  if (!isCoordinatorFor(ctx, request.groupId)) {
    return joinResponse(ctx, {
      errorCode: ErrorCode.NOT_COORDINATOR,
      generationId: -1,
      protocolType: null,
      protocolName: null,
      leaderId: '',
      memberId: request.memberId,
      members: [],
    })
  }
  const outcome = ctx.groups.join({
    groupId: request.groupId,
    memberId: request.memberId,
    groupInstanceId: request.groupInstanceId,
    clientId: ctx.clientId ?? '',
    clientHost: ctx.clientHost,
    sessionTimeoutMs: request.sessionTimeoutMs,
    rebalanceTimeoutMs: request.rebalanceTimeoutMs,
    protocolType: request.protocolType,
    protocols: request.protocols,
    requireKnownMemberId: ctx.apiVersion >= MEMBER_ID_REQUIRED_SINCE,
  })
  return outcome instanceof Promise ? outcome.then((o) => joinResponse(ctx, o)) : joinResponse(ctx, outcome)
})

export const syncGroupRoute = route(SyncGroup, (ctx, request) => {
  const group = ctx.groups.group(request.groupId)
  const answer = (errorCode: number, assignment: Buffer) => ({
    throttleTimeMs: 0,
    errorCode,
    protocolType: group?.protocolType ?? null,
    protocolName: group?.protocolName ?? null,
    assignment,
  })
  if (!isCoordinatorFor(ctx, request.groupId)) return answer(ErrorCode.NOT_COORDINATOR, Buffer.alloc(0))
  const outcome = ctx.groups.sync(request.groupId, request.generationId, request.memberId, request.assignments)
  return outcome instanceof Promise
    ? outcome.then((o) => answer(o.errorCode, o.assignment))
    : answer(outcome.errorCode, outcome.assignment)
})

export const heartbeatRoute = route(Heartbeat, (ctx, request) => ({
  throttleTimeMs: 0,
  errorCode: isCoordinatorFor(ctx, request.groupId)
    ? ctx.groups.heartbeat(request.groupId, request.generationId, request.memberId)
    : ErrorCode.NOT_COORDINATOR,
}))

export const leaveGroupRoute = route(LeaveGroup, (ctx, request) => {
  // v0-v2 name one member; v3+ a batch of members.
  const memberIds = ctx.apiVersion >= 3 ? request.members.map((m) => m.memberId) : [request.memberId]
  if (!isCoordinatorFor(ctx, request.groupId))
    return { throttleTimeMs: 0, errorCode: ErrorCode.NOT_COORDINATOR, members: [] }
  const result = ctx.groups.leave(request.groupId, memberIds)
  return {
    throttleTimeMs: 0,
    errorCode: result.errorCode,
    members: result.members.map((m) => ({ memberId: m.memberId, groupInstanceId: null, errorCode: m.errorCode })),
  }
})

export const offsetCommitRoute = route(OffsetCommit, (ctx, request) => {
  const groupError = isCoordinatorFor(ctx, request.groupId)
    ? ctx.groups.commitCheck(request.groupId, request.generationIdOrMemberEpoch, request.memberId)
    : ErrorCode.NOT_COORDINATOR
  return {
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((p) => {
        if (groupError !== ErrorCode.NONE) return { partitionIndex: p.partitionIndex, errorCode: groupError }
        if (!ctx.cluster.partition(topic.name, p.partitionIndex))
          return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }
        ctx.groups.commit(request.groupId, topic.name, p.partitionIndex, {
          offset: p.committedOffset,
          leaderEpoch: p.committedLeaderEpoch,
          metadata: p.committedMetadata,
        })
        return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE }
      }),
    })),
  }
})

export const offsetFetchRoute = route(OffsetFetch, (ctx, request) => {
  if (!isCoordinatorFor(ctx, request.groupId)) {
    // v1 has no top-level error code: report it on every partition asked for.
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NOT_COORDINATOR,
      topics: (request.topics ?? []).map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((partitionIndex) => ({
          partitionIndex,
          committedOffset: -1,
          metadata: '',
          errorCode: ErrorCode.NOT_COORDINATOR,
        })),
      })),
    }
  }
  const committed = ctx.groups.committedTopics(request.groupId)
  const wanted =
    request.topics ??
    [...committed.entries()].map(([name, partitions]) => ({ name, partitionIndexes: [...partitions.keys()] }))
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    topics: wanted.map((t) => ({
      name: t.name,
      partitions: t.partitionIndexes.map((partitionIndex) => {
        // requireStable (v7, KIP-447): an offset an open transaction may still change is not answered.
        if (
          request.requireStable &&
          ctx.groups.hasPendingTransactionalOffset(request.groupId, t.name, partitionIndex)
        ) {
          return {
            partitionIndex,
            committedOffset: -1,
            committedLeaderEpoch: -1,
            metadata: '',
            errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT,
          }
        }
        const offset = committed.get(t.name)?.get(partitionIndex)
        return {
          partitionIndex,
          committedOffset: offset?.offset ?? -1,
          committedLeaderEpoch: offset?.leaderEpoch ?? -1,
          metadata: offset?.metadata ?? '',
          errorCode: ErrorCode.NONE,
        }
      }),
    })),
  }
})

export const describeGroupsRoute = route(DescribeGroups, (ctx, request) => ({
  throttleTimeMs: 0,
  groups: request.groups.map((groupId) =>
    isCoordinatorFor(ctx, groupId)
      ? { ...ctx.groups.describe(groupId), authorizedOperations: OPERATIONS_NOT_REQUESTED }
      : {
          errorCode: ErrorCode.NOT_COORDINATOR,
          groupId,
          groupState: '',
          protocolType: '',
          protocolData: '',
          members: [],
          authorizedOperations: OPERATIONS_NOT_REQUESTED,
        },
  ),
}))

export const listGroupsRoute = route(ListGroups, (ctx, request) => ({
  throttleTimeMs: 0,
  errorCode: ErrorCode.NONE,
  // Each broker lists the groups it coordinates, as Kafka does; admin clients ask every broker.
  groups: ctx.groups
    .list()
    .filter((g) => isCoordinatorFor(ctx, g.groupId))
    .filter((g) => request.statesFilter.length === 0 || request.statesFilter.includes(g.groupState)),
}))
