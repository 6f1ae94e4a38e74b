/**
 * What a running consumer does with what the sidecar tells it: an assignment is KafkaJS's
 * GROUP_JOIN with this process's own partitions; a batch goes to the run loop (after KafkaJS's
 * FETCH_START and FETCH, which here mean "a batch arrived from the sidecar"); a revoke stops the
 * partitions' batches and gives them up once over (a rebalance's first, with REBALANCING); a lost
 * stream drops every partition at once, because the sidecar has already given them away.
 */
import type { Assigned, Batch, GroupError, Joined, Revoke } from '@kafka-sidecar/proto'
import type { Logger } from 'kafkajs'
import type { ConsumeListener } from './consume-transport.js'
import type { ConsumerEvents } from './consumer-events.js'
import type { GroupSession } from './group-session.js'
import type { RunLoop } from './run-loop.js'
import { SidecarBatch } from './sidecar-batch.js'

/** The sidecar is no broker: FETCH_START and FETCH name it with this node id. */
export const SIDECAR_NODE_ID = '-1'

export interface ListenerContext {
  readonly groupId: string
  readonly events: ConsumerEvents
  readonly log: Logger
  /** The first assignment after a join: run() resolves. */
  assignedOnce(): void
  /** The group member failed for good (GroupError without `restarting`). */
  groupFailed(error: GroupError): void
  /** Whether this session is still the consumer's current one (events of an old one are ignored). */
  isCurrent(): boolean
  /** The stream broke and the transport is joining again: the sidecar is away (the fallback's clock). */
  streamLost(): void
  /** The sidecar answered a join: it is back. */
  streamJoined(): void
}

export function listenTo(session: GroupSession, loop: RunLoop, context: ListenerContext): ConsumeListener {
  const { events, log, groupId } = context
  const logError = (what: string) => (error: unknown) =>
    log.error(what, { groupId, error: error instanceof Error ? error.message : String(error) })
  const whenCurrent =
    <T>(react: (message: T) => void) =>
    (message: T) => {
      if (context.isCurrent()) react(message)
    }
  return {
    joined: whenCurrent((joined: Joined) => {
      context.streamJoined()
      if (joined.memberId) session.memberId = joined.memberId
      session.pipelined = joined.maxBatchesPerPartition > 0
      for (const warning of joined.warnings) log.warn(`The sidecar's group member differs: ${warning}`, { groupId })
      session.repeatPauses()
    }),
    assigned: whenCurrent((assigned: Assigned) => {
      onAssigned(session, assigned, context)
      session.seekPending(logError('Could not commit the seek offset'))
    }),
    revoke: whenCurrent((revoke: Revoke) => {
      if (revoke.rebalance) {
        log.warn('The group is rebalancing, re-joining', { groupId, memberId: session.memberId })
        events.emitFromSidecar('consumer.rebalancing', { groupId, memberId: session.memberId })
        loop.restartRetries()
      }
      for (const owned of session.ownerships.revoke(revoke.partitions))
        if (!owned.busy) void session.release(owned).catch(logError('Could not commit a revoked partition'))
    }),
    batch: whenCurrent((batch: Batch) => onBatch(session, loop, batch, events)),
    lastProgress: () => session.progress.since,
    commitResult: (result) => session.onCommitResult(result),
    groupError: whenCurrent((error: GroupError) => context.groupFailed(error)),
    closed: (reason, rejoining) => {
      session.ownerships.dropAll()
      session.failCommits(reason?.message ?? 'the stream to the sidecar ended')
      if (rejoining && context.isCurrent()) {
        log.warn('Lost the stream to the sidecar: its partitions are given away; joining again', {
          groupId,
          error: reason?.message,
        })
        context.streamLost()
      }
    },
  }
}

function onAssigned(session: GroupSession, assigned: Assigned, context: ListenerContext): void {
  session.ownerships.assign(assigned.partitions)
  if (assigned.memberId) session.memberId = assigned.memberId
  const payload = {
    groupId: context.groupId,
    memberId: session.memberId,
    leaderId: assigned.leaderId,
    isLeader: assigned.isLeader,
    memberAssignment: session.ownerships.memberAssignment(),
    groupProtocol: assigned.groupProtocol,
    duration: assigned.joinDurationMs,
  }
  context.events.emitFromSidecar('consumer.group_join', payload)
  context.log.info('Consumer has joined the group', payload)
  context.assignedOnce()
}

function onBatch(session: GroupSession, loop: RunLoop, wire: Batch, events: ConsumerEvents): void {
  const owned = session.ownerships.current(wire.topic, wire.partition, wire.assignmentId)
  if (!owned) return
  // Sent before the sidecar heard this process's last short `done` or seek: it took it back.
  if (session.pipelined && wire.rewinds !== owned.rewinds) return
  events.emitFromSidecar('consumer.fetch_start', { nodeId: SIDECAR_NODE_ID })
  const batch = new SidecarBatch(wire)
  events.emitFromSidecar('consumer.fetch', { numberOfBatches: 0, duration: 0, nodeId: SIDECAR_NODE_ID })
  // Where this ownership starts is what the partition's previous owner processed: the baseline
  // for uncommittedOffsets() and autoCommitThreshold.
  const first = batch.firstOffset()
  if (owned.committed === null && owned.resolved === null && first !== null) owned.committed = BigInt(first)
  loop.deliver(owned, {
    batchId: wire.batchId,
    batch,
    staleOnArrival: session.arrived(owned, batch),
    rewinds: wire.rewinds,
  })
}
