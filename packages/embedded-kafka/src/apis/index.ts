/**
 * The route table: every API this broker answers, one file each (`NN-name.ts`, NN its API key,
 * holding its version notes, schema and handler). Adding an API is its file and one line here.
 */
import type { AnyApi } from '../protocol/api.js'
import type { Route } from '../server/route.js'
import { produceRoute } from './00-produce.js'
import { fetchRoute } from './01-fetch.js'
import { listOffsetsRoute } from './02-list-offsets.js'
import { metadataRoute } from './03-metadata.js'
import { offsetCommitRoute } from './08-offset-commit.js'
import { offsetFetchRoute } from './09-offset-fetch.js'
import { findCoordinatorRoute } from './10-find-coordinator.js'
import { joinGroupRoute } from './11-join-group.js'
import { heartbeatRoute } from './12-heartbeat.js'
import { leaveGroupRoute } from './13-leave-group.js'
import { syncGroupRoute } from './14-sync-group.js'
import { describeGroupsRoute } from './15-describe-groups.js'
import { listGroupsRoute } from './16-list-groups.js'
import { saslHandshakeRoute } from './17-sasl-handshake.js'
import { apiVersionsRoute } from './18-api-versions.js'
import { createTopicsRoute } from './19-create-topics.js'
import { deleteTopicsRoute } from './20-delete-topics.js'
import { initProducerIdRoute } from './22-init-producer-id.js'
import { addPartitionsToTxnRoute } from './24-add-partitions-to-txn.js'
import { addOffsetsToTxnRoute } from './25-add-offsets-to-txn.js'
import { endTxnRoute } from './26-end-txn.js'
import { txnOffsetCommitRoute } from './28-txn-offset-commit.js'
import { saslAuthenticateRoute } from './36-sasl-authenticate.js'
import { createPartitionsRoute } from './37-create-partitions.js'
import { deleteGroupsRoute } from './42-delete-groups.js'

/** Every API but ApiVersions, in API-key order; ApiVersions advertises them (and itself, last). */
const ANSWERED: readonly Route[] = [
  produceRoute,
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
  saslHandshakeRoute,
  createTopicsRoute,
  deleteTopicsRoute,
  initProducerIdRoute,
  addPartitionsToTxnRoute,
  addOffsetsToTxnRoute,
  endTxnRoute,
  txnOffsetCommitRoute,
  saslAuthenticateRoute,
  createPartitionsRoute,
  deleteGroupsRoute,
]

/** The routes keyed by API key, in the order ApiVersions advertises them. */
export const ROUTES: ReadonlyMap<number, Route> = new Map(
  [...ANSWERED, apiVersionsRoute(ANSWERED.map((r) => r.api))].map((r) => [r.api.key, r]),
)

/** Every API's definition, in API-key order. */
export const ALL_APIS: readonly AnyApi[] = [...ROUTES.values()].map((r) => r.api).sort((a, b) => a.key - b.key)
