/**
 * In sidecar mode the direct path is the fallback: it connects on first need, and is
 * disconnected again once the sidecar path has been healthy and it idle for `fallbackIdleMs`, so
 * an application's processes hold no broker connections while the sidecar does the work.
 */
import type { Logger } from 'kafkajs'
import type { DirectPath } from '../transport/direct-path.js'

const IDLE_CHECK_MS = 1_000

export class FallbackIdleCheck {
  private timer: NodeJS.Timeout | null = null

  constructor(
    private readonly direct: DirectPath,
    private readonly fallbackIdleMs: number,
    private readonly log: Logger,
    /** Whether the fallback producer must stay connected whatever its idleness (transactions, a breaker not closed). */
    private readonly stillNeeded: () => boolean,
  ) {}

  start(): void {
    if (this.timer) return
    this.timer = setInterval(() => this.check(), Math.min(IDLE_CHECK_MS, this.fallbackIdleMs))
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  private check(): void {
    if (!this.direct.isConnected || this.stillNeeded() || this.direct.inFlight > 0) return
    if (Date.now() - this.direct.lastUsedAt < this.fallbackIdleMs) return
    this.log.info('Disconnecting the fallback direct producer: the sidecar path has been healthy', {
      idleMs: Date.now() - this.direct.lastUsedAt,
    })
    void this.direct
      .disconnect()
      .catch((error: unknown) => this.log.warn('Fallback producer disconnect failed', { error: String(error) }))
  }
}
