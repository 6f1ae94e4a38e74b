import { createRequire } from 'node:module'
import { status } from '@grpc/grpc-js'
import { describe, expect, it } from 'vitest'
import { ErrorDetail, errorDetail, isPathFailureCode, KafkaErrors } from '../src/index.js'

// KafkaJS's table of the protocol's errors (code, type): the names a client shows its callers.
const kafkajsErrorCodes = createRequire(import.meta.url)('kafkajs/src/protocol/error.js').errorCodes as Array<{
  type: string
  code: number
}>

describe('the contract error vocabulary', () => {
  it('names every Kafka error by the code and name KafkaJS gives it', () => {
    for (const [key, ref] of Object.entries(KafkaErrors)) {
      expect(ref.name).toBe(key)
      expect(kafkajsErrorCodes.find((e) => e.code === ref.code)?.type).toBe(ref.name)
    }
  })

  it('builds a wire Error with every field set, and it survives encoding', () => {
    const detail = errorDetail({
      grpcCode: status.INVALID_ARGUMENT,
      message: 'too big',
      kafka: KafkaErrors.MESSAGE_TOO_LARGE,
    })
    expect(detail).toEqual({
      grpcCode: status.INVALID_ARGUMENT,
      message: 'too big',
      kafkaErrorCode: 10,
      kafkaErrorName: 'MESSAGE_TOO_LARGE',
      retriable: false,
      retryAfterMs: 0,
    })
    expect(ErrorDetail.decode(ErrorDetail.encode(detail).finish())).toEqual(detail)
  })

  it('tells a failed path from a verdict on the records', () => {
    const pathFailures = Object.values(status).filter(
      (code): code is number => typeof code === 'number' && isPathFailureCode(code),
    )
    expect(pathFailures.sort((a, b) => a - b)).toEqual(
      [
        status.CANCELLED,
        status.UNKNOWN,
        status.DEADLINE_EXCEEDED,
        status.ABORTED,
        status.INTERNAL,
        status.UNAVAILABLE,
      ].sort((a, b) => a - b),
    )
    for (const verdict of [
      status.INVALID_ARGUMENT,
      status.NOT_FOUND,
      status.PERMISSION_DENIED,
      status.RESOURCE_EXHAUSTED,
      status.UNAUTHENTICATED,
    ])
      expect(isPathFailureCode(verdict)).toBe(false)
  })
})
