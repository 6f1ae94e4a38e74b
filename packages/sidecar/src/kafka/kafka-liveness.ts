/**
 * Whether the brokers still answer, after the first connect. KafkaJS emits DISCONNECT only for an
 * explicit disconnect: a producer whose brokers all went away still counts as connected, the
 * sidecar would stay ready, and every request would wait out KafkaJS's retries before failing.
 * A cheap Metadata request at an interval (over the producer's own connections) tells instead:
 * after `failuresToDown` failed probes in a row the sidecar reports not ready and refuses new
 * requests with UNAVAILABLE, so clients fall back at once; the first answer makes it ready again.
 */
export interface LivenessSettings {
  readonly intervalMs: number
  /** A probe slower than this counts as failed. */
  readonly timeoutMs: number
  readonly failuresToDown: number
}

export class KafkaLiveness {
  private timer: NodeJS.Timeout | null = null
  private failures = 0
  private up = true
  private running = false

  constructor(
    private readonly probe: () => Promise<unknown>,
    private readonly onChange: (up: boolean, reason: string) => void,
    private readonly settings: LivenessSettings,
  ) {}

  start(): void {
    if (this.running) return
    this.running = true
    this.schedule()
  }

  stop(): void {
    this.running = false
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }

  private schedule(): void {
    if (!this.running) return
    this.timer = setTimeout(() => void this.check(), this.settings.intervalMs)
    this.timer.unref()
  }

  private async check(): Promise<void> {
    let failure: string | null = null
    let timeout: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        this.probe(),
        new Promise((_, reject) => {
          timeout = setTimeout(
            () => reject(new Error(`no answer within ${this.settings.timeoutMs} ms`)),
            this.settings.timeoutMs,
          )
        }),
      ])
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error)
    } finally {
      clearTimeout(timeout)
    }
    if (!this.running) return
    if (failure === null) {
      this.failures = 0
      if (!this.up) {
        this.up = true
        this.onChange(true, 'the brokers answer again')
      }
    } else if (++this.failures >= this.settings.failuresToDown && this.up) {
      this.up = false
      this.onChange(false, failure)
    }
    this.schedule()
  }
}
