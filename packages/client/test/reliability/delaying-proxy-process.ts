/**
 * The delaying proxy as its own process (forked with IPC), so its timers are not held up by the
 * process that runs the cluster and counts the workers' results. Env: PROXY_LISTEN (socket path),
 * PROXY_TARGET (the sidecar's socket path), PROXY_DELAY_MS. Prints `listening: <path>`. Messages:
 * `{ type: 'delay', ms }` sets the delay, `{ type: 'stats' }` is answered with
 * `{ type: 'stats', stats }`.
 */
import { startDelayingProxy } from './delaying-proxy.js'

export type ProxyCommand = { type: 'delay'; ms: number } | { type: 'stats' }

const proxy = await startDelayingProxy({
  listen: process.env.PROXY_LISTEN!,
  target: process.env.PROXY_TARGET!,
  delayMs: Number(process.env.PROXY_DELAY_MS ?? '0'),
})
process.on('message', (message: ProxyCommand) => {
  if (message.type === 'delay') {
    proxy.setDelay(message.ms)
    process.send!({ type: 'delay-set', ms: message.ms })
  } else process.send!({ type: 'stats', stats: proxy.stats() })
})
process.on('disconnect', () => void proxy.close().then(() => process.exit(0)))
process.stdout.write(`listening: ${proxy.path}\n`)
