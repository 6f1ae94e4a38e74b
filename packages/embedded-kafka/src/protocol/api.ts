/**
 * An API as the broker sees it: a key, the versions we accept, where flexible encoding starts,
 * and the request/response schemas. Version ranges follow the Kafka protocol spec; we accept the
 * older versions modern brokers still accept, and stop before versions whose semantics we do not
 * implement (topic ids in Fetch, KIP-848 groups), so negotiation lands on something we honour.
 */
import type { Decoded, Encodable, WireType } from './schema.js'

export interface ApiDefinition<Req extends WireType<unknown, unknown>, Res extends WireType<unknown, unknown>> {
  readonly key: number
  readonly name: string
  readonly minVersion: number
  readonly maxVersion: number
  /** First flexible (KIP-482) version; Infinity when none we support is flexible. */
  readonly flexibleSince: number
  readonly request: Req
  readonly response: Res
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyApi = ApiDefinition<WireType<any, any>, WireType<any, any>>
export type RequestOf<A extends AnyApi> = Decoded<A['request']>
export type ResponseOf<A extends AnyApi> = Encodable<A['response']>

export function defineApi<Req extends WireType<unknown, unknown>, Res extends WireType<unknown, unknown>>(
  api: ApiDefinition<Req, Res>,
): ApiDefinition<Req, Res> {
  return api
}

export function isFlexible(api: AnyApi, version: number): boolean {
  return version >= api.flexibleSince
}
