/**
 * Kafka's protocol errors as KafkaJS knows them: its table is the one the brokers' answers are
 * read with, so a code the sidecar passes on gets the name and the error object a direct KafkaJS
 * producer would have shown for it. The Kafka errors the sidecar answers with by itself are the
 * contract's (`KafkaErrors` in @kafka-sidecar/proto), checked against this table by a test.
 */
import { createRequire } from 'node:module'
import type { KafkaErrorRef } from '@kafka-sidecar/proto'

const require = createRequire(import.meta.url)
const { createErrorFromCode, errorCodes } = require('kafkajs/src/protocol/error.js') as {
  createErrorFromCode: (code: number) => Error
  errorCodes: ReadonlyArray<{ type: string; code: number }>
}

const NAMES = new Map(errorCodes.map(({ code, type }) => [code, type]))

/** The Kafka error a broker answered with, by code and name; undefined for NONE (0). */
export function kafkaError(code: number): KafkaErrorRef | undefined {
  if (code === 0) return undefined
  return { code, name: NAMES.get(code) ?? '' }
}

/** KafkaJS's own error object for a broker's error code, as its producer would have thrown it. */
export function kafkaProtocolError(code: number): Error {
  return createErrorFromCode(code)
}
