/**
 * A hung sidecar (SIGSTOP: alive, socket open, answering nothing, as a blocked event loop, a
 * cgroup throttled to zero or a GC spiral look from outside) must not stall the application:
 * the client notices within about two seconds, whatever the sends' own `timeout`, and keeps
 * sending directly; after SIGCONT traffic returns. Real sidecar child process, embedded-kafka.
 */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { randomTopic, spawnSidecar, startCluster, tempDir, waitFor } from '@kafka-sidecar/test-support'
import { connectedProducer } from './helpers.js'

const SEND_EVERY_MS = 20

describe('hung sidecar', () => {
  it(
    'a sidecar stopped for 12 s (half-open probes included) with sends every 20 ms: longest gap without a completed send under 3 s, none failed, none lost',
    { timeout: 60_000 },
    async ({ annotate }) => {
      const cluster = await startCluster()
      const topic = randomTopic('hung')
      await cluster.createTopic({ topic, partitions: 3 })
      const sidecar = await spawnSidecar(cluster, join(await tempDir(), 'sidecar.sock'))
      // The defaults a team deploys with: KafkaJS's 30 s timeout, the client's default margins.
      const producer = await connectedProducer({
        cluster,
        mode: 'sidecar',
        address: sidecar.address,
        sidecar: { connectTimeoutMs: 10_000 },
      })
      const completions: number[] = []
      const failures: string[] = []
      const pending = new Set<Promise<void>>()
      let sent = 0
      const sendOne = () => {
        const value = `r-${sent++}`
        const p = producer
          .send({ topic, messages: [{ key: value, value }] })
          .then(() => void completions.push(Date.now()))
          .catch((error: Error) => void failures.push(error.message))
          .finally(() => pending.delete(p))
        pending.add(p)
      }
      const ticker = setInterval(sendOne, SEND_EVERY_MS)
      await waitFor('sends through the sidecar', () => completions.length >= 20)
      sidecar.signal('SIGSTOP')
      const stoppedAt = Date.now()
      await new Promise((resolve) => setTimeout(resolve, 12_000))
      sidecar.signal('SIGCONT')
      await new Promise((resolve) => setTimeout(resolve, 3_000))
      clearInterval(ticker)
      await Promise.all([...pending])
      await producer.disconnect()

      const during = completions.filter((t) => t >= stoppedAt - 1_000)
      let longestGap = 0
      for (let i = 1; i < during.length; i++) longestGap = Math.max(longestGap, during[i]! - during[i - 1]!)
      const all = (await cluster.records(topic)).map((r) => r.value!.toString())
      const stored = new Set(all)
      const duplicates = all.length - stored.size
      const lost = Array.from({ length: sent }, (_, i) => `r-${i}`).filter((v) => !stored.has(v))
      annotate(
        `sent ${sent}, completed ${completions.length}, failed ${failures.length}, longest gap ${longestGap} ms, lost ${lost.length}, duplicates ${duplicates}`,
      )
      expect(failures).toEqual([])
      expect(lost).toEqual([])
      expect(longestGap).toBeLessThan(3_000)
      // What the client wrote into the stopped sidecar's socket during the ~2 s before it gave the
      // connection up went direct; the sidecar refuses those when it runs again (StallGuard).
      // Without that, 60-65 duplicates per run; what remains was in the sidecar's hands before it
      // stopped: outcome truly unknown, at-least-once.
      expect(duplicates).toBeLessThanOrEqual(10)
    },
  )
})
