/**
 * Delivery reports for every producer instance that talks to the sidecar: one ring each, live
 * subscribers notified on publish, idle instances forgotten after a while so memory stays
 * bounded by (active instances x ring capacity).
 */
import type { PartitionOutcome } from '../model.js'
import { ReportRing, type RingRead } from './report-ring.js'

export interface DeliveryReportSettings {
  /** Reports kept per instance. */
  readonly capacityPerInstance: number
  /** Forget an instance with no subscriber and no new report for this long. */
  readonly instanceIdleMs: number
}

interface Instance {
  readonly ring: ReportRing
  readonly subscribers: Set<() => void>
  lastActiveAt: number
}

export class DeliveryReports {
  private readonly instances = new Map<string, Instance>()
  private readonly sweeper: NodeJS.Timeout

  constructor(private readonly settings: DeliveryReportSettings) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, settings.instanceIdleMs / 2)).unref()
  }

  private instance(instanceId: string): Instance {
    let instance = this.instances.get(instanceId)
    if (!instance) {
      instance = {
        ring: new ReportRing(this.settings.capacityPerInstance),
        subscribers: new Set(),
        lastActiveAt: Date.now(),
      }
      this.instances.set(instanceId, instance)
    }
    return instance
  }

  publish(instanceId: string, requestId: number, outcome: PartitionOutcome): void {
    const instance = this.instance(instanceId)
    instance.ring.push(requestId, outcome)
    instance.lastActiveAt = Date.now()
    for (const notify of instance.subscribers) notify()
  }

  read(instanceId: string, afterSequence: number, limit?: number): RingRead[] {
    return this.instance(instanceId).ring.readAfter(afterSequence, limit)
  }

  /** The sequence the instance's next report will get (1 for an instance never seen). */
  nextSequence(instanceId: string): number {
    return this.instance(instanceId).ring.nextSequence
  }

  /** Calls `onNew` whenever a report is published for the instance. Returns the remover. */
  subscribe(instanceId: string, onNew: () => void): () => void {
    const instance = this.instance(instanceId)
    instance.subscribers.add(onNew)
    return () => {
      instance.subscribers.delete(onNew)
      instance.lastActiveAt = Date.now()
    }
  }

  get subscriberCount(): number {
    let n = 0
    for (const i of this.instances.values()) n += i.subscribers.size
    return n
  }

  get instanceCount(): number {
    return this.instances.size
  }

  private sweep(): void {
    const cutoff = Date.now() - this.settings.instanceIdleMs
    for (const [id, instance] of this.instances)
      if (instance.subscribers.size === 0 && instance.lastActiveAt < cutoff) this.instances.delete(id)
  }

  close(): void {
    clearInterval(this.sweeper)
  }
}
