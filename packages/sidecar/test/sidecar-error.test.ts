import { status } from '@grpc/grpc-js'
import { KafkaErrors } from '@kafka-sidecar/proto'
import { describe, expect, it } from 'vitest'
import { SidecarError } from '../src/index.js'

describe('SidecarError, the public error class', () => {
  it('gives its wire form with every field, from the contract Kafka error it names', () => {
    const error = new SidecarError({
      grpcCode: status.INVALID_ARGUMENT,
      message: 'bad topic',
      kafka: KafkaErrors.INVALID_TOPIC_EXCEPTION,
    })
    expect(error.toDetail()).toEqual({
      grpcCode: status.INVALID_ARGUMENT,
      message: 'bad topic',
      kafkaErrorCode: 17,
      kafkaErrorName: 'INVALID_TOPIC_EXCEPTION',
      retriable: false,
      retryAfterMs: 0,
    })
  })

  it('still takes kafkaErrorCode and kafkaErrorName, its fields before `kafka` (regression: they were dropped)', () => {
    const error = new SidecarError({
      grpcCode: status.INVALID_ARGUMENT,
      message: 'bad topic',
      kafkaErrorCode: 17,
      kafkaErrorName: 'INVALID_TOPIC_EXCEPTION',
    })
    expect([error.kafkaErrorCode, error.kafkaErrorName]).toEqual([17, 'INVALID_TOPIC_EXCEPTION'])
    expect(error.toDetail()).toMatchObject({ kafkaErrorCode: 17, kafkaErrorName: 'INVALID_TOPIC_EXCEPTION' })
  })
})
