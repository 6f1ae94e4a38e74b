/**
 * The dead-letter option of kafka.consumer(): its defaults, its errors naming the option, the
 * backoff it makes, and the record it writes (headers of any error text within their bounds).
 */
import fc from 'fast-check'
import type { KafkaMessage } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { backoffBefore, resolveDeadLetter } from '../../src/consumer/dead-letter-options.js'
import {
  deadLetterMessage,
  describeError,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_ERROR_NAME_BYTES,
  truncateUtf8,
} from '../../src/consumer/dead-letter-record.js'
import { DEAD_LETTER_HEADERS, Kafka, KafkaJSNonRetriableError, logLevel } from '../../src/index.js'

const kafka = () => new Kafka({ clientId: 'dlq-options', brokers: ['127.0.0.1:9'], logLevel: logLevel.NOTHING })

describe('deadLetter options', () => {
  it('defaults: 3 attempts, backoff 300 ms doubling up to 30 s; unset means no dead-lettering', () => {
    expect(resolveDeadLetter(undefined)).toBeNull()
    expect(resolveDeadLetter({ topic: 'orders.dlq' })).toEqual({
      topic: 'orders.dlq',
      attempts: 3,
      backoff: { initialMs: 300, maxMs: 30_000, multiplier: 2 },
    })
    // A long initialMs alone is its own ceiling, not refused for a maxMs nobody wrote.
    expect(resolveDeadLetter({ topic: 't', backoff: { initialMs: 60_000 } })!.backoff.maxMs).toBe(60_000)
  })

  it.each([
    [{ attempts: 3 }, 'deadLetter.topic must be a Kafka topic name'],
    [{ topic: '' }, 'deadLetter.topic must be a Kafka topic name'],
    [{ topic: 'no spaces' }, 'deadLetter.topic must be a Kafka topic name'],
    [{ topic: 't', attempts: 0 }, 'deadLetter.attempts must be a positive integer, got 0'],
    [{ topic: 't', attempts: 1.5 }, 'deadLetter.attempts must be a positive integer, got 1.5'],
    [{ topic: 't', backoff: { initialMs: -1 } }, 'deadLetter.backoff.initialMs must be a non-negative integer, got -1'],
    [{ topic: 't', backoff: { maxMs: -5 } }, 'deadLetter.backoff.maxMs must be a non-negative integer, got -5'],
    [
      { topic: 't', backoff: { initialMs: 500, maxMs: 100 } },
      'deadLetter.backoff.maxMs must be at least deadLetter.backoff.initialMs (500), got 100',
    ],
    [{ topic: 't', backoff: { multiplier: 0.5 } }, 'deadLetter.backoff.multiplier must be a number of at least 1'],
    [{ topic: 't', backoff: 5 }, 'deadLetter.backoff must be an object, got 5'],
    [{ topic: 't', attempt: 2 }, 'unknown option deadLetter.attempt (known: topic, attempts, backoff)'],
    [{ topic: 't', backoff: { initial: 2 } }, 'unknown option deadLetter.backoff.initial'],
    ['orders.dlq', 'deadLetter must be an object'],
    [null, 'deadLetter must be an object'],
  ])('kafka.consumer({ deadLetter: %j }) throws naming the option', (deadLetter, message) => {
    const create = () => kafka().consumer({ groupId: 'g', deadLetter: deadLetter as never })
    expect(create).toThrow(KafkaJSNonRetriableError)
    expect(create).toThrow(message)
  })

  it('the backoff grows by the multiplier from initialMs and stops at maxMs', () => {
    const backoff = { initialMs: 100, maxMs: 1_000, multiplier: 3 }
    expect([2, 3, 4, 5, 6].map((next) => backoffBefore(next, backoff))).toEqual([100, 300, 900, 1_000, 1_000])
    expect(backoffBefore(2, { initialMs: 0, maxMs: 0, multiplier: 1 })).toBe(0)
  })
})

function consumed(fields: Partial<KafkaMessage> = {}): KafkaMessage {
  return {
    key: Buffer.from('k'),
    value: Buffer.from('v'),
    timestamp: '1700000000000',
    attributes: 0,
    offset: '41',
    headers: {},
    ...fields,
  } as KafkaMessage
}

/** The bytes of the UTF-8 character whose first byte is `lead`. */
function utf8Length(lead: number): number {
  if (lead < 0x80) return 1
  if (lead >= 0xf0) return 4
  return lead >= 0xe0 ? 3 : 2
}

describe('the dead-letter record', () => {
  it('keeps key, value and headers (repeated and null ones included) and adds the dlq headers', () => {
    const message = consumed({
      headers: { trace: Buffer.from('abc'), tag: [Buffer.from('a'), Buffer.from('b')], empty: null as never },
    })
    const error = new TypeError('bad amount')
    const out = deadLetterMessage({ groupId: 'g', topic: 'orders', partition: 2, message, error, attempts: 3 })
    expect(out.key).toEqual(Buffer.from('k'))
    expect(out.value).toEqual(Buffer.from('v'))
    expect(out.headers).toEqual({
      trace: Buffer.from('abc'),
      tag: [Buffer.from('a'), Buffer.from('b')],
      // KafkaJS's producer cannot write a header without a value: it gets an empty one.
      empty: Buffer.alloc(0),
      [DEAD_LETTER_HEADERS.topic]: 'orders',
      [DEAD_LETTER_HEADERS.partition]: '2',
      [DEAD_LETTER_HEADERS.offset]: '41',
      [DEAD_LETTER_HEADERS.timestamp]: '1700000000000',
      [DEAD_LETTER_HEADERS.groupId]: 'g',
      [DEAD_LETTER_HEADERS.errorName]: 'TypeError',
      [DEAD_LETTER_HEADERS.errorMessage]: 'bad amount',
      [DEAD_LETTER_HEADERS.attempts]: '3',
    })
  })

  it("replaces the record's own dlq headers (a replayed record carries its latest failure) and keeps a header named __proto__", () => {
    const headers = JSON.parse('{"__proto__": "x", "kafka-sidecar-dlq-attempts": "9"}') as KafkaMessage['headers']
    const out = deadLetterMessage({
      groupId: 'g',
      topic: 't',
      partition: 0,
      message: consumed({ headers }),
      error: 'nope',
      attempts: 1,
    })
    expect(Object.hasOwn(out.headers!, '__proto__')).toBe(true)
    expect(out.headers![DEAD_LETTER_HEADERS.attempts]).toBe('1')
  })

  it('names what was thrown, Error or not', () => {
    expect(describeError(new RangeError('r'))).toEqual({ name: 'RangeError', message: 'r' })
    expect(describeError('plain text')).toEqual({ name: 'Error', message: 'plain text' })
    expect(describeError({ name: 'Custom', message: 'm' })).toEqual({ name: 'Custom', message: 'm' })
    expect(describeError(undefined)).toEqual({ name: 'Error', message: 'undefined' })
  })

  it('any error text becomes a header of valid UTF-8 within its bound, a prefix of the text, whole when it fits', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 1500 }), fc.integer({ min: 0, max: 3000 }), (text, max) => {
        const out = truncateUtf8(text, max)
        const bytes = Buffer.from(out, 'utf8')
        expect(bytes.length).toBeLessThanOrEqual(max)
        expect(Buffer.from(text, 'utf8').subarray(0, bytes.length)).toEqual(bytes)
        if (Buffer.byteLength(text) <= max) expect(out).toBe(text)
        // Cut at a character's start, and one more character would not have fit.
        else expect(bytes.length + utf8Length(Buffer.from(text, 'utf8')[bytes.length]!)).toBeGreaterThan(max)
      }),
    )
  })

  it('bounds the error name and message of any thrown value, lone surrogates included', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 5000 }),
        fc.string({ unit: 'binary', maxLength: 600 }),
        (message, name) => {
          const error = Object.assign(new Error(message), { name })
          const out = deadLetterMessage({
            groupId: 'g',
            topic: 't',
            partition: 0,
            message: consumed(),
            error,
            attempts: 1,
          })
          const headers = out.headers as Record<string, string>
          expect(Buffer.byteLength(headers[DEAD_LETTER_HEADERS.errorMessage]!)).toBeLessThanOrEqual(
            MAX_ERROR_MESSAGE_BYTES,
          )
          expect(Buffer.byteLength(headers[DEAD_LETTER_HEADERS.errorName]!)).toBeLessThanOrEqual(MAX_ERROR_NAME_BYTES)
          // What is written reads back as written: no broken character at the cut.
          const written = headers[DEAD_LETTER_HEADERS.errorMessage]!
          expect(Buffer.from(written, 'utf8').toString('utf8')).toBe(written)
        },
      ),
    )
  })
})
