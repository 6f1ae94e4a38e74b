/**
 * The coalescer's order keeping around refusals, driven through a scripted transport so each
 * interleaving is exact: which message is refused, which come back ABORTED, when the stream
 * breaks. (The same behaviour against a real sidecar: backpressure.test.ts, business-errors.test.ts.)
 */
import { status } from '@grpc/grpc-js'
import { isPathFailureCode, PATH_FAILURE_CODES, type EmitAck, type EmitRequest } from '@kafka-sidecar/proto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { recordBytes } from '../src/transport/sidecar-record.js'
import { Coalescer, type EmitTransport } from '../src/transport/coalescer.js'
import type { EmitPart } from '../src/transport/emit-part.js'
import { SidecarRefusal, SidecarUnavailableError } from '../src/transport/sidecar-errors.js'

interface Written {
  readonly request: EmitRequest
  readonly values: string[]
  answer(ack: Partial<EmitAck>): void
  fail(error: Error): void
}

/** A transport whose every write waits for the test to answer it. */
class ScriptedTransport implements EmitTransport {
  readonly written: Written[] = []
  private id = 0
  nextRequestId(): number {
    return ++this.id
  }
  send(request: EmitRequest): Promise<EmitAck> {
    return new Promise((resolve, reject) => {
      this.written.push({
        request,
        values: request.topics.flatMap((t) => t.records.map((r) => Buffer.from(r.value!).toString())),
        answer: (ack) => resolve({ requestId: request.requestId, received: true, results: [], ...ack }),
        fail: reject,
      })
    })
  }
}

function part(value: string, timeoutMs = 30_000, idempotent = false): EmitPart {
  const message = { value }
  return {
    acks: 1,
    timeoutMs,
    compression: 0,
    allowAutoTopicCreation: undefined,
    idempotent,
    topics: [{ topic: 't', records: [{ value: Buffer.from(value), headers: [] }] }],
    outgoing: [{ topic: 't', message }],
    bytes: value.length,
  }
}

const refusal = (grpcCode: number, retryAfterMs = 0) => ({
  received: false,
  error: {
    grpcCode,
    message: `refused ${status[grpcCode]}`,
    kafkaErrorCode: 0,
    kafkaErrorName: '',
    retriable: true,
    retryAfterMs,
  },
})

function setup(retryBudgetMs = 30_000) {
  const transport = new ScriptedTransport()
  const coalescer = new Coalescer(
    transport,
    { clientId: 'c', appName: 'a', instanceId: 'i' },
    { maxRecords: 1_000, maxBytes: 1_000_000, deadlineMarginMs: 1_000, retryBudgetMs },
    { onRequest() {}, onAck() {}, onAbandoned() {} },
  )
  const outcomes = new Map<string, string>()
  const submit = (value: string, timeoutMs?: number) =>
    coalescer.submit(part(value, timeoutMs)).then(
      () => void outcomes.set(value, 'ok'),
      (error: Error) =>
        void outcomes.set(
          value,
          error instanceof SidecarUnavailableError
            ? 'path failed'
            : error instanceof SidecarRefusal
              ? `refused ${status[error.detail.grpcCode]}`
              : error.message,
        ),
    )
  /** Lets setImmediate flushes (real) and promise reactions run; time moves only when a test says. */
  const settle = async () => {
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve))
  }
  return { transport, coalescer, outcomes, submit, settle }
}

afterEach(() => {
  vi.useRealTimers()
})

describe('coalescer: order around refusals', () => {
  it('after a full-queue refusal, holds new sends and rewrites refused, aborted and new ones in send order under the next epoch', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const { transport, outcomes, submit, settle } = setup()
    void submit('a')
    await settle()
    void submit('b')
    await settle()
    void submit('c')
    await settle()
    expect(transport.written.map((w) => [w.values, w.request.orderEpoch])).toEqual([
      [['a'], 1],
      [['b'], 1],
      [['c'], 1],
    ])

    transport.written[1]!.answer(refusal(status.RESOURCE_EXHAUSTED, 200)) // b: full
    await settle()
    void submit('d') // new: held behind the refusal
    await settle()
    transport.written[2]!.answer(refusal(status.ABORTED)) // c: pipelined behind b
    await settle()
    expect(transport.written).toHaveLength(3) // nothing written during the wait
    await vi.advanceTimersByTimeAsync(200)
    await settle()
    // b alone (refused for room: single sends fill what room opens), then c and d merged, in order.
    expect(transport.written.slice(3).map((w) => [w.values, w.request.orderEpoch])).toEqual([
      [['b'], 2],
      [['c', 'd'], 2],
    ])
    for (const w of transport.written.slice(3)) w.answer({})
    transport.written[0]!.answer({})
    await settle()
    expect(Object.fromEntries(outcomes)).toEqual({ a: 'ok', b: 'ok', c: 'ok', d: 'ok' })
  })

  it('a stream that breaks during a halt fails every send held or waiting, so none is written ahead of the earlier one resent directly', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const { transport, outcomes, submit, settle } = setup()
    void submit('f0')
    await settle()
    void submit('f1')
    await settle()
    void submit('f2')
    await settle()
    transport.written[1]!.answer(refusal(status.RESOURCE_EXHAUSTED, 2_000)) // f1 full: a halt of 2 s
    await settle()
    void submit('n')
    await settle()
    // The stream breaks: f0 (accepted, awaiting delivery) and f2 (not yet answered) fail with it.
    const broken = new SidecarUnavailableError('sidecar stream failed: connection reset', status.UNAVAILABLE, true)
    transport.written[0]!.fail(broken)
    transport.written[2]!.fail(broken)
    await settle()
    await vi.advanceTimersByTimeAsync(3_000)
    expect(transport.written).toHaveLength(3) // f1 and n never written through the sidecar again
    expect(Object.fromEntries(outcomes)).toEqual({
      f0: 'path failed',
      f1: 'path failed',
      f2: 'path failed',
      n: 'path failed',
    })
  })

  it("a stream refused for the producer's credentials fails the sends waiting behind it with that refusal, not as a path failure", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const { transport, outcomes, submit, settle } = setup()
    void submit('a')
    await settle()
    void submit('b')
    await settle()
    transport.written[1]!.answer(refusal(status.RESOURCE_EXHAUSTED, 2_000)) // a halt: what comes next waits
    await settle()
    void submit('n')
    await settle()
    const unauthenticated = new SidecarRefusal({
      grpcCode: status.UNAUTHENTICATED,
      message: 'sidecar refused this producer (UNAUTHENTICATED): invalid token',
      kafkaErrorCode: 0,
      kafkaErrorName: '',
      retriable: false,
      retryAfterMs: 0,
    })
    transport.written[0]!.fail(unauthenticated)
    await settle()
    await vi.advanceTimersByTimeAsync(3_000)
    // A path failure would count against the sidecar (the breaker opens) and send them directly.
    expect(Object.fromEntries(outcomes)).toEqual({
      a: 'refused UNAUTHENTICATED',
      b: 'refused UNAUTHENTICATED',
      n: 'refused UNAUTHENTICATED',
    })
  })

  it('a send aborted behind a full sidecar past its retry budget fails as the full sidecar, instead of going round again', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const { transport, outcomes, submit, settle } = setup(1_000)
    void submit('early')
    await settle()
    void submit('late')
    await settle()
    await vi.advanceTimersByTimeAsync(900)
    void submit('last')
    await settle()
    await vi.advanceTimersByTimeAsync(150) // the budgets of early and late pass while all three are in flight
    transport.written[0]!.answer(refusal(status.RESOURCE_EXHAUSTED, 500))
    transport.written[1]!.answer(refusal(status.ABORTED))
    transport.written[2]!.answer(refusal(status.ABORTED))
    await settle()
    expect(outcomes.get('early')).toBe('refused RESOURCE_EXHAUSTED')
    expect(outcomes.get('late')).toBe('refused RESOURCE_EXHAUSTED')
    await vi.advanceTimersByTimeAsync(500)
    await settle()
    expect(transport.written.slice(3).map((w) => w.values)).toEqual([['last']])
  })

  it('the retry budget, not the send timeout, bounds retries of a full sidecar: timeout 1 still retries', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const { transport, outcomes, submit, settle } = setup(30_000)
    void submit('t1', 1)
    await settle()
    await vi.advanceTimersByTimeAsync(50)
    transport.written[0]!.answer(refusal(status.RESOURCE_EXHAUSTED, 100))
    await settle()
    await vi.advanceTimersByTimeAsync(100)
    await settle()
    expect(transport.written.map((w) => w.values)).toEqual([['t1'], ['t1']])
    transport.written[1]!.answer({})
    await settle()
    expect(outcomes.get('t1')).toBe('ok')
  })

  it('a path refusal (UNAVAILABLE) fails the refused message, what was aborted behind it and what waited', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const { transport, outcomes, submit, settle } = setup()
    void submit('x')
    await settle()
    void submit('y')
    await settle()
    transport.written[0]!.answer(refusal(status.UNAVAILABLE))
    await settle()
    void submit('z')
    await settle()
    transport.written[1]!.answer(refusal(status.ABORTED))
    await settle()
    expect(transport.written).toHaveLength(2)
    expect(Object.fromEntries(outcomes)).toEqual({ x: 'path failed', y: 'path failed', z: 'path failed' })
    // Once the aborted message is back the halt is over: later sends are written again.
    void submit('later')
    await settle()
    expect(transport.written.slice(2).map((w) => [w.values, w.request.orderEpoch])).toEqual([[['later'], 2]])
  })

  it("reads a refusal's gRPC code as the contract does: a path-failure code fails the send to go direct, any other is the verdict on its records", async () => {
    // ABORTED (written behind a refusal) and RESOURCE_EXHAUSTED (wait, then write again) hold
    // the stream instead; the tests above follow them. The sidecar's side of the same table:
    // packages/sidecar/test/refusal-kinds.test.ts.
    const codes = Object.values(status).filter(
      (code): code is number =>
        typeof code === 'number' && code !== status.OK && code !== status.ABORTED && code !== status.RESOURCE_EXHAUSTED,
    )
    const seen: Record<string, string> = {}
    const expected: Record<string, string> = {}
    for (const code of codes) {
      const { transport, outcomes, submit, settle } = setup()
      void submit('x')
      await settle()
      transport.written[0]!.answer(refusal(code))
      await settle()
      seen[status[code]!] = outcomes.get('x')!
      expected[status[code]!] = isPathFailureCode(code) ? 'path failed' : `refused ${status[code]}`
    }
    expect(seen).toEqual(expected)
    expect(Object.values(seen).filter((outcome) => outcome === 'path failed')).toHaveLength(PATH_FAILURE_CODES.size - 1)
  })

  it('failWaiting (disconnect) fails held sends and ends the halt, so nothing is written afterwards', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const { transport, coalescer, outcomes, submit, settle } = setup()
    void submit('p')
    await settle()
    transport.written[0]!.answer(refusal(status.RESOURCE_EXHAUSTED, 1_000))
    await settle()
    void submit('q')
    await settle()
    coalescer.failWaiting(new Error('disconnected'))
    await settle()
    await vi.advanceTimersByTimeAsync(2_000)
    expect(transport.written).toHaveLength(1)
    expect(Object.fromEntries(outcomes)).toEqual({ p: 'disconnected', q: 'disconnected' })
  })
})

describe('coalescer: merging', () => {
  it('never merges sends of different idempotence into one message, and says which is which', async () => {
    const { transport, coalescer, settle } = setup()
    for (const [value, idempotent] of [
      ['a', true],
      ['b', true],
      ['c', false],
      ['d', true],
    ] as const)
      void coalescer.submit(part(value, 30_000, idempotent))
    await settle()
    expect(transport.written.map((w) => [w.values, w.request.idempotent])).toEqual([
      [['a', 'b'], true],
      [['c'], false],
      [['d'], true],
    ])
  })
})

describe('coalescer: sends larger than one request', () => {
  const manyRecords = (count: number, value = 'v'): EmitPart => {
    const records = Array.from({ length: count }, () => ({ value: Buffer.from(value), headers: [] }))
    const outgoing = records.map(() => ({ topic: 't', message: { value } }))
    return {
      acks: 1,
      timeoutMs: 30_000,
      compression: 0,
      allowAutoTopicCreation: undefined,
      idempotent: false,
      topics: [{ topic: 't', records }],
      outgoing,
      bytes: records.reduce((n, r) => n + recordBytes(r), 0),
    }
  }
  const written = (transport: ScriptedTransport) =>
    transport.written.map((w) => w.request.topics.reduce((n, t) => n + t.records.length, 0))
  const settle = async () => {
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve))
  }

  it('a send of 25,000 records is written as requests of 10,000, 10,000 and 5,000 in order; its results cover every record', async () => {
    const { transport, coalescer } = setup()
    const outcome = coalescer.submit(manyRecords(25_000))
    await settle()
    expect(written(transport)).toEqual([10_000, 10_000, 5_000])
    transport.written.forEach((w, i) => {
      const n = written(transport)[i]!
      w.answer({
        results: [
          {
            topic: 't',
            partition: 0,
            baseOffset: i * 10_000,
            logAppendTimeMs: -1,
            logStartOffset: 0,
            recordIndexes: Array.from({ length: n }, (_, j) => j),
            leaderId: 1,
          },
        ],
      })
    })
    const { results } = await outcome
    expect(results.map((r) => [r.baseOffset, r.localIndexes[0], r.localIndexes.length])).toEqual([
      [0, 0, 10_000],
      [10_000, 10_000, 10_000],
      [20_000, 20_000, 5_000],
    ])
  })

  it('when a piece is refused, the send fails with that refusal once every piece settled, and pieces not yet written are not written', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const { transport, coalescer } = setup()
    const outcome = coalescer.submit(manyRecords(25_000)).catch((error: unknown) => error)
    await settle()
    transport.written[0]!.answer({})
    transport.written[1]!.answer(refusal(status.INVALID_ARGUMENT))
    transport.written[2]!.answer(refusal(status.ABORTED))
    await settle()
    await vi.advanceTimersByTimeAsync(1_000)
    expect(await outcome).toBeInstanceOf(SidecarRefusal)
    expect(((await outcome) as SidecarRefusal).detail.grpcCode).toBe(status.INVALID_ARGUMENT)
    expect(transport.written).toHaveLength(3)
  })

  it('a record larger than any request fails its send with MESSAGE_TOO_LARGE, unwritten', async () => {
    const { transport, coalescer } = setup()
    const error = await coalescer.submit(manyRecords(1, 'x'.repeat(17 * 1024 * 1024))).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SidecarRefusal)
    expect((error as SidecarRefusal).detail).toMatchObject({ kafkaErrorName: 'MESSAGE_TOO_LARGE', retriable: false })
    expect(transport.written).toHaveLength(0)
  })
})
