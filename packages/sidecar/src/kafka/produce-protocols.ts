/**
 * KafkaJS's Produce request and response decoder per negotiated version and acks, made once.
 * KafkaJS's version builders `require` their two modules on every call (15 µs a request on the
 * benchmark machine's serial sends); the sender only needs what does not change per request.
 */
import type { ProduceTopicData } from './produce-request-encoder.js'

export interface ProtocolRequest {
  readonly apiKey: number
  readonly apiVersion: number
  readonly apiName: string
  expectResponse(): boolean
  encode(): Promise<unknown>
}
export interface ProtocolResponse {
  decode(payload: Buffer): Promise<unknown>
  parse(decoded: unknown): Promise<unknown>
}
export type ProduceArgs = {
  acks: number
  timeout: number
  compression: number
  topicData: readonly ProduceTopicData[]
}
/** What a KafkaJS 2.2.4 broker's lookupRequest returns for Produce: one version's builder. */
export type ProduceBuilder = (args: ProduceArgs) => { request: ProtocolRequest; response: ProtocolResponse }

/**
 * KafkaJS's Produce request (its api key, version, name and whether it expects an answer) and
 * response decoder per negotiated version and acks, made once: KafkaJS's version builders
 * `require` their two modules on every call, 15 µs a request on the benchmark machine. Made with
 * no records, so the cache holds none; the body sent is always ours (or, below v3, KafkaJS's own
 * from a fresh call).
 */
export class ProduceProtocols {
  private readonly made = new WeakMap<
    ProduceBuilder,
    Map<number, { request: ProtocolRequest; decodeOnly: ProtocolResponse }>
  >()

  of(builder: ProduceBuilder, acks: number): { request: ProtocolRequest; decodeOnly: ProtocolResponse } {
    let byAcks = this.made.get(builder)
    if (!byAcks) this.made.set(builder, (byAcks = new Map()))
    let protocol = byAcks.get(acks)
    if (!protocol) {
      const { request, response } = builder({ acks, timeout: 0, compression: 0, topicData: [] })
      // Decoded by KafkaJS, not parsed: its parser throws for the whole response on the first
      // refused partition; produce-outcomes.ts reads each partition instead.
      const decodeOnly: ProtocolResponse = { decode: (payload) => response.decode(payload), parse: async (d) => d }
      byAcks.set(acks, (protocol = { request, decodeOnly }))
    }
    return protocol
  }
}
