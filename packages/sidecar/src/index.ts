/** Public API of @kafka-sidecar/sidecar. */
export { startSidecar } from './sidecar.js'
export type { RunningSidecar, ShutdownSummary, StartOptions } from './sidecar.js'
export { helpText, OPTIONS, resolveConfig, SidecarConfigError } from './config.js'
export type { SidecarConfig, SidecarOptions } from './config.js'
export { SidecarError } from './errors.js'
export { DEFAULT_SOCKET_PATH, formatListenAddress, parseListenAddress } from './listen-address.js'
export type { ListenAddress } from './listen-address.js'
export type { SidecarMetrics } from './metrics.js'
