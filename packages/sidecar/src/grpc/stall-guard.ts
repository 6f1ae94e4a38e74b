/**
 * Refuses the requests a sidecar reads right after its event loop stood still.
 *
 * A sidecar that is stopped (SIGSTOP), throttled to zero or blocked keeps its socket open, so
 * clients go on writing requests into it; after `livenessTimeoutMs` (2 s by default) without an
 * answer to their pings they give the connection up and send those records directly. When the
 * sidecar runs again it reads the buffered requests before it notices the connections are gone,
 * and would write every one of them a second time. So a request read while the loop has just
 * stood still for longer than STALL_MS is refused as UNAVAILABLE, unqueued: a client still
 * waiting for it (a longer liveness timeout) hears the refusal and sends it directly, once.
 */
import { performance } from 'node:perf_hooks'

/** A pause this long is a stall: half the client's default liveness timeout. */
export const STALL_MS = 1_000
const TICK_MS = 100
/** After a stall, how long what is read counts as read during it (the buffered burst). */
const AFTER_STALL_MS = 250

export class StallGuard {
  private lastTick = performance.now()
  private lastStallMs = 0
  private refuseUntil = 0
  private readonly timer: NodeJS.Timeout

  constructor(private readonly stallMs: number = STALL_MS) {
    this.timer = setInterval(() => this.tick(), TICK_MS)
    this.timer.unref()
  }

  /** Why a request read now must be refused, or null. */
  refusal(): string | null {
    const now = performance.now()
    const pause = now - this.lastTick
    // Read in the same turn of the loop that ended the stall, before the timer could run.
    if (pause > this.stallMs) return this.explain(pause)
    if (now < this.refuseUntil) return this.explain(this.lastStallMs)
    return null
  }

  stop(): void {
    clearInterval(this.timer)
  }

  private tick(): void {
    const now = performance.now()
    const pause = now - this.lastTick
    if (pause > this.stallMs) {
      this.lastStallMs = pause
      this.refuseUntil = now + AFTER_STALL_MS
    }
    this.lastTick = now
  }

  private explain(pauseMs: number): string {
    return `not queued: the sidecar's event loop stood still for ${Math.round(pauseMs)} ms (stopped, throttled or blocked) and this request was read during it; its client may already have sent it directly`
  }
}
