/**
 * Where the CPU went during a phase: the workers', the sidecar's and this process's own (the
 * embedded brokers and the load producer, which share the machine in this benchmark but not in
 * production). CPU seconds per record are steadier than records/s on a busy machine: they say
 * whether a mode costs more work, where records/s also say how the scheduler shared the cores.
 */
import { cpuSecondsOf, sampleProcess } from '../process-stats.js'

export interface CpuSnapshot {
  readonly workers: number
  readonly sidecar: number | null
  readonly harness: number
}

/** µs of CPU per record between two snapshots, per part. */
export interface CpuPerRecord {
  readonly workersUs: number
  readonly sidecarUs: number | null
  readonly harnessUs: number
}

/** CPU seconds used so far by the worker processes, the sidecar (if any) and this process. */
export function cpuSnapshot(workerPids: readonly number[], sidecarPid: number | null): CpuSnapshot {
  const workers = cpuSecondsOf(workerPids)
  const sidecar = sidecarPid === null ? null : (sampleProcess(sidecarPid)?.cpuSeconds ?? null)
  const own = process.cpuUsage()
  return { workers, sidecar, harness: (own.user + own.system) / 1e6 }
}

export function cpuPerRecord(from: CpuSnapshot, to: CpuSnapshot, records: number): CpuPerRecord {
  const us = (seconds: number) => Math.round(((seconds * 1e6) / records) * 10) / 10
  return {
    workersUs: us(to.workers - from.workers),
    sidecarUs: to.sidecar === null || from.sidecar === null ? null : us(to.sidecar - from.sidecar),
    harnessUs: us(to.harness - from.harness),
  }
}
