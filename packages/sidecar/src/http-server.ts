/**
 * /metrics (Prometheus), /healthz (the process is alive and answering), /readyz (the Kafka
 * producer is connected and the sidecar accepts requests; a consumer group in trouble is named in
 * the text but keeps it 200), /readyz/consumers (that, and every consumer group's member in its
 * group: the consumer service's health). Anything else is a 404; any method but GET/HEAD a 405.
 * Garbage on the socket is node's HTTP parser's problem: it answers 400.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'
import { formatListenAddress, type ListenAddress } from './listen-address.js'

export interface HttpEndpoints {
  readonly registry: Registry
  isReady(): { ready: boolean; reason: string }
  /** The consumer service's health: ready, and no group's member crashed. */
  consumersReady(): { serving: boolean; reason: string }
}

export function createHttpServer(endpoints: HttpEndpoints): Server {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    const path = (req.url ?? '/').split('?')[0]
    if (path === '/metrics') {
      endpoints.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': endpoints.registry.contentType }).end(text),
        (error: unknown) =>
          res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(error)}\n`),
      )
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n')
    } else if (path === '/readyz') {
      const { ready, reason } = endpoints.isReady()
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(`${reason}\n`)
    } else if (path === '/readyz/consumers') {
      const { serving, reason } = endpoints.consumersReady()
      res.writeHead(serving ? 200 : 503, { 'content-type': 'text/plain' }).end(`${reason}\n`)
    } else {
      res
        .writeHead(404, { 'content-type': 'text/plain' })
        .end('not found: try /metrics, /healthz, /readyz or /readyz/consumers\n')
    }
  })
  server.headersTimeout = 10_000
  server.requestTimeout = 10_000
  return server
}

/** Listens; resolves with the bound address (host:port with the bound port, or unix:///path). */
export function listenHttp(server: Server, address: ListenAddress): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', (error) =>
      reject(new Error(`cannot serve HTTP on ${formatListenAddress(address)}: ${error.message}`)),
    )
    const onListening = () => {
      const bound = server.address() as AddressInfo | string
      resolve(
        typeof bound === 'string'
          ? `unix://${bound}`
          : formatListenAddress({ kind: 'tcp', host: bound.address, port: bound.port }),
      )
    }
    if (address.kind === 'unix') server.listen(address.path, onListening)
    else server.listen(address.port, address.host, onListening)
  })
}

/** Stops listening and closes every connection, idle or not. */
export function closeHttp(server: Server): Promise<void> {
  return new Promise<void>((resolve) => server.close(() => resolve()).closeAllConnections())
}
