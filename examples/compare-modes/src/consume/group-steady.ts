/**
 * When the group is steady: every worker has partitions and every partition has one owner, as
 * the brokers see it (direct: describeGroup is Stable with N members whose assignments cover the
 * P partitions) or as the processes see it (sidecar: their latest GROUP_JOIN events give them P
 * partitions together), for half a second in a row. The live phase waits for it, so that no rebalance of the group
 * forming is under way when latency is measured.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { AssignerProtocol, type Admin } from 'kafkajs'
import type { Mode, WorkerPool } from './worker-pool.js'

const HOLD_MS = 500
const POLL_MS = 100

export interface SteadyCheck {
  readonly mode: Mode
  readonly admin: Admin
  readonly groupId: string
  readonly pool: WorkerPool
  readonly processes: number
  readonly partitions: number
}

export async function untilGroupSteady(check: SteadyCheck, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let steadySince: number | null = null
  let last = ''
  while (Date.now() < deadline) {
    const state = await describe(check)
    last = state.why
    if (state.steady) {
      steadySince ??= Date.now()
      if (Date.now() - steadySince >= HOLD_MS) return
    } else steadySince = null
    await sleep(POLL_MS)
  }
  throw new Error(`the group did not become steady within ${timeoutMs / 1000} s (last seen: ${last})`)
}

async function describe(check: SteadyCheck): Promise<{ steady: boolean; why: string }> {
  const assigned = check.pool.workersWithPartitions()
  if (assigned < check.processes)
    return { steady: false, why: `${assigned} of ${check.processes} workers were given partitions` }
  if (check.mode === 'sidecar') {
    // As the processes see it, from their GROUP_JOIN events: the sidecar's /metrics would ask the
    // brokers for every partition's lag at each poll, ten times a second, work that competed with
    // the backlog being measured.
    const held = check.pool.partitionsHeld()
    return { steady: held === check.partitions, why: `the workers hold ${held} of ${check.partitions} partitions` }
  }
  const group = (await check.admin.describeGroups([check.groupId])).groups[0]
  const owned = (group?.members ?? []).reduce((sum, member) => {
    const assignment = AssignerProtocol.MemberAssignment.decode(member.memberAssignment)
    return sum + Object.values(assignment?.assignment ?? {}).reduce((s, partitions) => s + partitions.length, 0)
  }, 0)
  return {
    steady: group?.state === 'Stable' && group.members.length === check.processes && owned === check.partitions,
    why: `${group?.state}, ${group?.members.length} members, ${owned} partitions assigned`,
  }
}
