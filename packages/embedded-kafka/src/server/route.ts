/**
 * Binds an API definition to the function that answers it. A handler may answer synchronously
 * (most do: the state is in memory) or asynchronously (Fetch long-poll, group rebalances), or
 * return NO_RESPONSE (Produce with acks=0, which the protocol answers with silence), or
 * CLOSE_CONNECTION (an injected fault: the request was handled, its answer is lost), or
 * answerThenClose(response) (a SASL refusal: Kafka sends the answer, then closes).
 */
import type { AnyApi, RequestOf, ResponseOf } from '../protocol/api.js'
import type { Faults } from '../faults/faults.js'
import type { GroupCoordinator } from '../groups/group-coordinator.js'
import type { BrokerAddress, ClusterState } from '../state/cluster-state.js'
import type { TransactionCoordinator } from '../transactions/transaction-coordinator.js'
import type { Logger } from './logger.js'
import type { SaslSession } from './sasl-session.js'

export const NO_RESPONSE = Symbol('no response')
/** The connection closes where this answer would have been written, after the answers before it. */
export const CLOSE_CONNECTION = Symbol('close connection')

const CLOSE_AFTER = Symbol('close after')

/** An answer after which the connection is closed, once it is written. */
export interface ClosingAnswer<R> {
  readonly [CLOSE_AFTER]: R
  readonly reason: string
}

export function answerThenClose<R>(response: R, reason: string): ClosingAnswer<R> {
  return { [CLOSE_AFTER]: response, reason }
}

export function isClosingAnswer(answer: unknown): answer is ClosingAnswer<unknown> {
  return typeof answer === 'object' && answer !== null && CLOSE_AFTER in answer
}

export function closingResponse<R>(answer: ClosingAnswer<R>): R {
  return answer[CLOSE_AFTER]
}

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
  /** The connection's SASL state: SaslHandshake and SaslAuthenticate move it on. */
  readonly sasl: SaslSession
  readonly log: Logger
}

/** What a connection tells about itself to each request's context. */
export type ConnectionFacts = Pick<
  RequestContext,
  'apiVersion' | 'clientId' | 'clientHost' | 'connectionClosed' | 'sasl'
>

export type Handler<A extends AnyApi> = (ctx: RequestContext, request: RequestOf<A>) => Answer<A> | Promise<Answer<A>>

type Answer<A extends AnyApi> =
  ResponseOf<A> | ClosingAnswer<ResponseOf<A>> | typeof NO_RESPONSE | typeof CLOSE_CONNECTION

export interface Route<A extends AnyApi = AnyApi> {
  readonly api: A
  readonly handle: Handler<A>
}

export function route<A extends AnyApi>(api: A, handle: Handler<A>): Route<A> {
  return { api, handle }
}
