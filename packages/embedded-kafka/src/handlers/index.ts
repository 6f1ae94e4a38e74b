/** The route table: every API this broker answers, keyed by API key. */
import { ApiVersions } from '../protocol/messages/api-versions.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { route, type Route } from '../server/route.js'
import { createPartitionsRoute, createTopicsRoute, deleteTopicsRoute } from './admin-topics.js'
import { findCoordinatorRoute, initProducerIdRoute } from './coordination.js'
import { fetchRoute } from './fetch.js'
import {
  describeGroupsRoute,
  heartbeatRoute,
  joinGroupRoute,
  leaveGroupRoute,
  listGroupsRoute,
  offsetCommitRoute,
  offsetFetchRoute,
  syncGroupRoute,
} from './groups.js'
import { listOffsetsRoute } from './list-offsets.js'
import { metadataRoute } from './metadata.js'
import { produceRoute } from './produce.js'
import { addOffsetsToTxnRoute, addPartitionsToTxnRoute, endTxnRoute, txnOffsetCommitRoute } from './transactions.js'

export interface RouteSettings {
  readonly maxMessageBytes: number
}

export function buildRoutes(settings: RouteSettings): ReadonlyMap<number, Route> {
  const routes: Route[] = [
    produceRoute(settings.maxMessageBytes),
    fetchRoute,
    listOffsetsRoute,
    metadataRoute,
    offsetCommitRoute,
    offsetFetchRoute,
    findCoordinatorRoute,
    joinGroupRoute,
    heartbeatRoute,
    leaveGroupRoute,
    syncGroupRoute,
    describeGroupsRoute,
    listGroupsRoute,
    createTopicsRoute,
    deleteTopicsRoute,
    initProducerIdRoute,
    addPartitionsToTxnRoute,
    addOffsetsToTxnRoute,
    endTxnRoute,
    txnOffsetCommitRoute,
    createPartitionsRoute,
  ]
  const table = new Map<number, Route>(routes.map((r) => [r.api.key, r]))
  const apiVersions = route(ApiVersions, () => ({
    errorCode: ErrorCode.NONE,
    apiKeys: [...table.values()].map(({ api }) => ({
      apiKey: api.key,
      minVersion: api.minVersion,
      maxVersion: api.maxVersion,
    })),
    throttleTimeMs: 0,
  }))
  table.set(ApiVersions.key, apiVersions)
  return table
}
