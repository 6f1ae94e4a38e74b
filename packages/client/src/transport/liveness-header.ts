/**
 * The call header in which the client tells the sidecar its `livenessTimeoutMs`: the sidecar
 * refuses requests it read right after an event-loop stall only when the stall was long enough
 * for this client to have given the connection up (see the sidecar's stall-guard.ts; the name
 * must match its LIVENESS_HEADER).
 */
export const LIVENESS_HEADER = 'x-kafka-sidecar-liveness-timeout-ms'
