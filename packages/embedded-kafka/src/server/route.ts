/**
 * Binds an API definition to the function that answers it. A handler may answer synchronously
 * (most do: the state is in memory) or asynchronously (Fetch long-poll, group rebalances), or
 * return NO_RESPONSE (Produce with acks=0, which the protocol answers with silence), or
 * CLOSE_CONNECTION (an injected fault: the request was handled, its answer is lost).
 */
import type { AnyApi, RequestOf, ResponseOf } from '../protocol/api.js'
import type { Faults } from '../faults/faults.js'
import type { GroupCoordinator } from '../groups/group-coordinator.js'
import type { BrokerAddress, ClusterState } from '../state/cluster-state.js'
import type { TransactionCoordinator } from '../transactions/transaction-coordinator.js'
import type { Logger } from './logger.js'

export const NO_RESPONSE = Symbol('no response')
/** The connection closes where this answer would have been written, after the answers before it. */
export const CLOSE_CONNECTION = Symbol('close connection')

export interface RequestContext {
  readonly cluster: ClusterState
  readonly groups: GroupCoordinator
  readonly transactions: TransactionCoordinator
  /** Faults a test armed (lost answers, refused producer ids). */
  readonly faults: Faults
  readonly broker: BrokerAddress
  readonly apiVersion: number
  readonly clientId: string | null
  /** The peer address as Kafka reports it in DescribeGroups ("/127.0.0.1"). */
  readonly clientHost: string
  /** Aborted when the connection closes, so long-polls stop waiting for nobody. */
  readonly connectionClosed: AbortSignal
  readonly log: Logger
}

export type Handler<A extends AnyApi> = (ctx: RequestContext, request: RequestOf<A>) => Answer<A> | Promise<Answer<A>>

type Answer<A extends AnyApi> = ResponseOf<A> | typeof NO_RESPONSE | typeof CLOSE_CONNECTION

export interface Route<A extends AnyApi = AnyApi> {
  readonly api: A
  readonly handle: Handler<A>
}

export function route<A extends AnyApi>(api: A, handle: Handler<A>): Route<A> {
  return { api, handle }
}
