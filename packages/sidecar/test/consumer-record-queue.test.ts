import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { RecordQueue } from '../src/consumer/record-queue.js'

describe('RecordQueue', () => {
  it('behaves as an array used as a queue (push, shift, at, slice, clear), also past its compaction', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), count: fc.integer({ min: 1, max: 3000 }) }),
      fc.record({ kind: fc.constant('shift' as const), count: fc.integer({ min: 1, max: 3000 }) }),
      fc.record({ kind: fc.constant('clear' as const) }),
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), fc.nat(), fc.nat(), (ops, a, b) => {
        const queue = new RecordQueue<number>()
        const model: number[] = []
        let next = 0
        for (const o of ops) {
          if (o.kind === 'push')
            for (let i = 0; i < o.count; i++) {
              queue.push(next)
              model.push(next++)
            }
          else if (o.kind === 'shift') for (let i = 0; i < o.count; i++) expect(queue.shift()).toBe(model.shift())
          else {
            queue.clear()
            model.length = 0
          }
          expect(queue.length).toBe(model.length)
          expect(queue.at(0)).toBe(model[0])
          const start = model.length === 0 ? 0 : a % model.length
          expect(queue.slice(start, start + b)).toEqual(model.slice(start, start + b))
          expect(queue.at(model.length)).toBeUndefined()
        }
      }),
      { numRuns: 60 },
    )
  })
})
