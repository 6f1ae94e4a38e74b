/**
 * A slow sidecar without changing the sidecar: a proxy on a Unix socket between the clients and
 * the sidecar's socket that forwards bytes both ways and holds every chunk coming from the
 * sidecar for `delayMs` before passing it on (in order). Every answer is late by that much:
 * acks, health checks, HTTP/2 SETTINGS and PING acks alike, as from a sidecar whose event loop
 * runs behind. Requests reach the sidecar at once.
 *
 * The delay can change while connections are open (`setDelay`), so a run can go from a fast
 * sidecar to a slow one under load. `lateness` measures the proxy itself: how much later than
 * due a chunk went out (its own event loop falling behind), so a report can tell the delay asked
 * for from the delay applied.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { rm } from 'node:fs/promises'

export interface DelayingProxyStats {
  readonly delayMs: number
  readonly connections: number
  /** Since the delay was last set. */
  readonly chunksDelayed: number
  /** Largest and mean extra wait beyond `delayMs` (the proxy's own lag), in ms. */
  readonly maxLatenessMs: number
  readonly meanLatenessMs: number
  /** Connections ended, by who ended them first (since the proxy started). */
  readonly closed: { byClient: number; bySidecar: number; byError: number }
}

export interface DelayingProxy {
  readonly path: string
  setDelay(ms: number): void
  stats(): DelayingProxyStats
  close(): Promise<void>
}

export async function startDelayingProxy(options: {
  listen: string
  target: string
  delayMs: number
}): Promise<DelayingProxy> {
  let delayMs = options.delayMs
  let connections = 0
  let chunksDelayed = 0
  let latenessSum = 0
  let maxLateness = 0
  const sockets = new Set<Socket>()
  const closed = { byClient: 0, bySidecar: 0, byError: 0 }

  const server: Server = createServer((client) => {
    connections++
    const upstream = createConnection(options.target)
    sockets.add(client).add(upstream)
    /** Chunks from the sidecar waiting for their time, oldest first. */
    const pending: Array<{ due: number; chunk: Buffer }> = []
    let timer: NodeJS.Timeout | null = null
    let upstreamEnded = false
    let counted = false
    const closedBy = (who: keyof typeof closed) => {
      if (!counted) closed[who]++
      counted = true
    }
    const drain = () => {
      timer = null
      const now = Date.now()
      while (pending.length > 0 && pending[0]!.due <= now) {
        const { due, chunk } = pending.shift()!
        const late = now - due
        latenessSum += late
        maxLateness = Math.max(maxLateness, late)
        chunksDelayed++
        if (!client.destroyed) client.write(chunk)
      }
      if (pending.length > 0) timer = setTimeout(drain, pending[0]!.due - now)
      else if (upstreamEnded) client.end()
    }
    upstream.on('data', (chunk: Buffer) => {
      pending.push({ due: Date.now() + delayMs, chunk })
      if (!timer) timer = setTimeout(drain, Math.max(0, pending[0]!.due - Date.now()))
    })
    upstream.on('end', () => {
      closedBy('bySidecar')
      upstreamEnded = true
      if (!timer) drain()
    })
    client.on('data', (chunk: Buffer) => upstream.write(chunk))
    client.on('end', () => {
      closedBy('byClient')
      upstream.end()
    })
    const closeBoth = () => {
      if (timer) clearTimeout(timer)
      pending.length = 0
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    // A reset on either side is passed on as a reset (the other side's connection closes).
    client.on('error', () => {
      closedBy('byError')
      closeBoth()
    })
    upstream.on('error', () => {
      closedBy('byError')
      closeBoth()
    })
    client.on('close', () => {
      closedBy('byClient')
      closeBoth()
    })
    upstream.on('close', () => {
      closedBy('bySidecar')
      // Deliver what the sidecar sent before closing, then close the client side too.
      if (pending.length === 0) closeBoth()
      else upstreamEnded = true
    })
  })
  await rm(options.listen, { force: true })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.listen, () => resolve())
  })

  return {
    path: options.listen,
    setDelay: (ms) => {
      // Stats describe one delay: a new one starts them again.
      delayMs = ms
      chunksDelayed = 0
      latenessSum = 0
      maxLateness = 0
    },
    stats: () => ({
      delayMs,
      connections,
      chunksDelayed,
      maxLatenessMs: maxLateness,
      meanLatenessMs: chunksDelayed === 0 ? 0 : Math.round((latenessSum / chunksDelayed) * 10) / 10,
      closed: { ...closed },
    }),
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await rm(options.listen, { force: true })
    },
  }
}
