/**
 * Broker connections of processes we did not write the counting into, read from /proc (Linux):
 * a process's socket inodes (/proc/<pid>/fd links "socket:[inode]") looked up in the TCP tables
 * of its network namespace (/proc/<pid>/net/tcp and tcp6), counting the ESTABLISHED ones.
 *
 * This counts every established TCP socket, so it equals broker connections only for processes
 * with no other TCP peers. In the comparison that holds: workers reach the sidecar over a Unix
 * socket, and the sidecar's HTTP port has no clients.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

/** /proc/net/tcp's `st` column for TCP_ESTABLISHED. */
const ESTABLISHED = '01'

/** Where /proc is not there, say so instead of counting zero. */
export function requireProcfs(): void {
  if (process.platform !== 'linux')
    throw new Error(
      `counting an external cluster's broker connections reads /proc, which only Linux has (this is ${process.platform})`,
    )
}

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>()
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
      if (match) inodes.add(match[1]!)
    } catch {
      // Closed between the listing and the readlink.
    }
  }
  return inodes
}

function establishedInodes(pid: number): Set<string> {
  const inodes = new Set<string>()
  for (const table of ['tcp', 'tcp6']) {
    let text: string
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8')
    } catch {
      continue // no IPv6 in this kernel
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const fields = line.trim().split(/\s+/)
      if (fields[3] === ESTABLISHED && fields[9]) inodes.add(fields[9])
    }
  }
  return inodes
}

/** ESTABLISHED TCP sockets `pid` holds now; 0 once it has exited. */
export function establishedTcpSockets(pid: number): number {
  try {
    const own = socketInodes(pid)
    if (own.size === 0) return 0
    let count = 0
    for (const inode of establishedInodes(pid)) if (own.has(inode)) count++
    return count
  } catch {
    return 0
  }
}

/**
 * Samples the sum over `pids()` every `intervalMs` (and once more at stop); `stop()` returns the
 * largest sum seen. A connection opened and closed between two samples is missed.
 */
export function sampleBrokerSockets(pids: () => readonly number[], intervalMs = 500): { stop(): number } {
  let peak = 0
  const take = () => {
    peak = Math.max(
      peak,
      pids().reduce((sum, pid) => sum + establishedTcpSockets(pid), 0),
    )
  }
  take()
  const timer = setInterval(take, intervalMs)
  return {
    stop() {
      clearInterval(timer)
      take()
      return peak
    },
  }
}
