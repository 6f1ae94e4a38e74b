/** The answers a failed sendBatch is settled from, when they arrive out of attempt order. */
import { describe, expect, it } from 'vitest'
import { ProduceAnswers, type DecodedProduceResponse } from '../src/kafka/produce-answers.js'

const answer = (partition: number, errorCode: number): DecodedProduceResponse => ({
  topics: [{ topicName: 't', partitions: [{ partition, errorCode, baseOffset: errorCode === 0 ? '7' : '-1' }] }],
})

describe('ProduceAnswers', () => {
  it('keeps a partition written: a later refusal (it was sent again before its answer came) does not undo it', () => {
    const answers = new ProduceAnswers()
    answers.resend('t', 0, 1)
    answers.note(answer(0, 0), 0)
    answers.note(answer(0, 6), 1)
    answers.resend('t', 0, 2)
    expect(answers.of('t', 0)).toMatchObject({ errorCode: 0, baseOffset: '7' })
  })

  it("ignores an older attempt's late answer for a partition sent again", () => {
    const answers = new ProduceAnswers()
    answers.note(answer(0, 6), 0)
    answers.resend('t', 0, 1)
    expect(answers.of('t', 0)).toBeUndefined()
    answers.note(answer(0, 6), 0)
    expect(answers.of('t', 0)).toBeUndefined()
    answers.note(answer(0, 10), 1)
    expect(answers.of('t', 0)).toMatchObject({ errorCode: 10 })
  })

  it('takes every answer of a sender that does not number its attempts (KafkaJS resends whole requests), written still staying written', () => {
    const answers = new ProduceAnswers()
    answers.note(answer(1, 6))
    answers.note(answer(1, 19))
    expect(answers.of('t', 1)).toMatchObject({ errorCode: 19 })
    answers.note(answer(1, 0))
    answers.note(answer(1, 6))
    expect(answers.of('t', 1)).toMatchObject({ errorCode: 0 })
  })
})
