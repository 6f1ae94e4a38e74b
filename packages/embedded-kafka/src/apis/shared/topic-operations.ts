import { ErrorCode } from '../../protocol/error-codes.js'
import { TopicOperationError } from '../../state/cluster-state.js'

/**
 * Runs a topic operation (CreateTopics, DeleteTopics, CreatePartitions: topic lifecycle, answered
 * by any broker), turning a refusal into the per-topic error fields of the response.
 */
export function attemptTopicOperation(operation: () => void): { errorCode: number; errorMessage: string | null } {
  try {
    operation()
    return { errorCode: ErrorCode.NONE, errorMessage: null }
  } catch (error) {
    if (error instanceof TopicOperationError) return { errorCode: error.errorCode, errorMessage: error.message }
    throw error
  }
}
