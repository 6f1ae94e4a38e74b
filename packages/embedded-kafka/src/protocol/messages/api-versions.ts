// ApiVersions (key 18). Spec: ApiVersionsRequest.json / ApiVersionsResponse.json.
// The response header is always v0 (no tagged fields), even in flexible versions, so a client
// can parse the answer before it knows what we support; the connection layer handles that.
import { defineApi } from '../api.js'
import { array, field, int16, int32, string, struct } from '../schema.js'

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
