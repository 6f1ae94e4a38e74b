// ApiVersions (key 18). Spec: ApiVersionsRequest.json / ApiVersionsResponse.json.
// The response header is always v0 (no tagged fields), even in flexible versions, so a client
// can parse the answer before it knows what we support; the connection layer handles that.
import { defineApi, type AnyApi } from '../protocol/api.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { array, field, int16, int32, string, struct } from '../protocol/schema.js'
import { route } from '../server/route.js'

export const ApiVersions = defineApi({
  key: 18,
  name: 'ApiVersions',
  minVersion: 0,
  maxVersion: 3,
  flexibleSince: 3,
  request: struct({
    clientSoftwareName: field(string, '3+'),
    clientSoftwareVersion: field(string, '3+'),
  }),
  response: struct({
    errorCode: field(int16),
    apiKeys: field(
      array(
        struct({
          apiKey: field(int16),
          minVersion: field(int16),
          maxVersion: field(int16),
        }),
      ),
    ),
    throttleTimeMs: field(int32, '1+'),
  }),
})

/** Advertises the version range of every API in `answered`, then of ApiVersions itself. */
export function apiVersionsRoute(answered: readonly AnyApi[]) {
  const apiKeys = [...answered, ApiVersions].map((api) => ({
    apiKey: api.key,
    minVersion: api.minVersion,
    maxVersion: api.maxVersion,
  }))
  return route(ApiVersions, () => ({ errorCode: ErrorCode.NONE, apiKeys, throttleTimeMs: 0 }))
}
