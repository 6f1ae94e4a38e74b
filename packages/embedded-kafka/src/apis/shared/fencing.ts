import { ErrorCode, type ErrorCodeValue } from '../../protocol/error-codes.js'
import type { RequestContext } from '../../server/route.js'
import { isTransactionCoordinatorFor } from './leadership.js'

/**
 * PRODUCER_FENCED (KIP-588) only exists for clients that announced they know it by version;
 * older ones get INVALID_PRODUCER_EPOCH, as Kafka does. KafkaJS 2.2.4 is such a client.
 */
export function reportFencing(errorCode: ErrorCodeValue, apiVersion: number, fencedSince: number): ErrorCodeValue {
  return errorCode === ErrorCode.PRODUCER_FENCED && apiVersion < fencedSince
    ? ErrorCode.INVALID_PRODUCER_EPOCH
    : errorCode
}

/**
 * The answer of a transaction API whose response is one error code (AddOffsetsToTxn, EndTxn):
 * NOT_COORDINATOR from any broker but the transactional id's coordinator, else what `decide`
 * returns, fencing reported as the request's version knows it.
 */
export function transactionCoordinatorAnswer(
  ctx: RequestContext,
  transactionalId: string,
  fencedSince: number,
  decide: () => ErrorCodeValue,
): { throttleTimeMs: number; errorCode: ErrorCodeValue } {
  if (!isTransactionCoordinatorFor(ctx, transactionalId))
    return { throttleTimeMs: 0, errorCode: ErrorCode.NOT_COORDINATOR }
  return { throttleTimeMs: 0, errorCode: reportFencing(decide(), ctx.apiVersion, fencedSince) }
}
