/**
 * Where the sidecar listens: `unix:///path.sock` (the default: no network exposure at all) or
 * `host:port` on loopback. Anything else needs an explicit allowNonLoopback, because a sidecar
 * reachable from the network would let anyone write to the pod's Kafka topics.
 */
import { isIP } from 'node:net'

export type ListenAddress =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }

export const DEFAULT_SOCKET_PATH = '/tmp/kafka-sidecar.sock'

export function parseListenAddress(option: string, value: string): ListenAddress {
  if (value.startsWith('unix://')) {
    const path = value.slice('unix://'.length)
    if (!path.startsWith('/')) throw new Error(`${option}: "${value}" must be unix:///absolute/path.sock`)
    return { kind: 'unix', path }
  }
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(value)
  if (!match) throw new Error(`${option}: "${value}" is neither unix:///path.sock nor host:port`)
  const port = Number(match[2])
  if (port > 65535) throw new Error(`${option}: port ${port} is out of range`)
  return { kind: 'tcp', host: match[1]!.replace(/^\[|\]$/g, ''), port }
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  return host === '::1'
}

export function formatListenAddress(address: ListenAddress): string {
  if (address.kind === 'unix') return `unix://${address.path}`
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
}
