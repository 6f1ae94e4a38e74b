// What a client and a sidecar of this contract both rely on, beyond the messages' shapes.

/**
 * How long a send's records may wait in the sidecar before they fail unsent, when the send's
 * `timeout` is shorter: KafkaJS's default `requestTimeout` and `retry.maxRetryTime`, so a short
 * broker timeout (KafkaJS's `timeout`, 0 included) never makes a send fail sooner than in KafkaJS.
 * A sidecar may wait less (its request timeout), never more: a client waits
 * max(timeout, this) plus its margin for an answer, then treats the sidecar as failed.
 */
export const DELIVERY_WINDOW_MS = 30_000

/**
 * Most records a client writes in one EmitRequest (a larger send is split into several, in
 * order); a sidecar accepts at least this many by default (maxRecordsPerRequest).
 */
export const MAX_REQUEST_RECORDS = 10_000

/**
 * Largest EmitRequest, in encoded bytes, a client writes (a larger send is split into several,
 * in order); a sidecar accepts this much by default (maxRequestBytes) and always reads at least
 * this much without ending the stream, refusing what is over its own limit one request at a time.
 */
export const MAX_REQUEST_BYTES = 16 * 1024 * 1024

/**
 * The call header in which a client says its liveness timeout, in ms: how long it waits for an
 * unanswered HTTP/2 ping before it gives the connection up and sends directly. A sidecar refuses
 * requests it read right after an event-loop stall only when the stall was long enough for that
 * client to have given up.
 */
export const LIVENESS_HEADER = 'x-kafka-sidecar-liveness-timeout-ms'
