/**
 * A send whose second record carried a header named `constructor` made the sidecar fail midway
 * (INTERNAL) after queueing the first record; the client fell back and the first record was in
 * Kafka twice (issue 12). In sidecar mode such a send is written once, as direct KafkaJS writes it.
 */
import type { IHeaders, Message } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { randomTopic, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import { recordBytes } from './kafkajs-reference.js'
import { connectedProducer } from './helpers.js'

/** Parsed from JSON as an application would: every name an own property, `__proto__` included. */
const headers = (json: string) => JSON.parse(json) as IHeaders

const MESSAGES: Message[] = [
  { key: 'first', value: 'no headers' },
  {
    key: 'second',
    value: 'prototype names',
    headers: headers('{"constructor":"c","toString":["t1","t2"],"__proto__":"p","hasOwnProperty":"h","ok":"1"}'),
  },
]

describe('header names that are Object.prototype keys, through the client', () => {
  it('sidecar mode writes the send exactly once, without falling back, byte for byte as direct mode', async () => {
    const cluster = await startCluster()
    const [ours, theirs] = [randomTopic('sidecar'), randomTopic('direct')]
    await cluster.createTopic({ topic: ours, partitions: 1 })
    await cluster.createTopic({ topic: theirs, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)
    const viaSidecar = await connectedProducer({ cluster, mode: 'sidecar', address: sidecar.address })
    const direct = await connectedProducer({ cluster, mode: 'direct' })
    const fallbacks: unknown[] = []
    viaSidecar.on(viaSidecar.events.FALLBACK, (event) => void fallbacks.push(event.payload))

    const metadata = await viaSidecar.send({ topic: ours, messages: MESSAGES })
    await direct.send({ topic: theirs, messages: MESSAGES })

    expect(fallbacks).toEqual([])
    expect(viaSidecar.directConnected).toBe(false)
    expect(metadata).toMatchObject([{ topicName: ours, partition: 0, baseOffset: '0' }])
    const got = await cluster.records(ours)
    expect(got.map((r) => r.key!.toString())).toEqual(['first', 'second'])
    expect(got.map((r) => recordBytes(r))).toEqual((await cluster.records(theirs)).map((r) => recordBytes(r)))
  })
})
