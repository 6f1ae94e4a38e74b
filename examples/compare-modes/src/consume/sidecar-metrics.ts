/** One consumer group's series from the sidecar's /metrics (Prometheus text), as the comparison needs them. */

export interface SidecarGroupMetrics {
  /** kafka_sidecar_consumer_kafka_rebalances_total: rebalances the sidecar's member went through. */
  readonly kafkaRebalances: number
  /** kafka_sidecar_consumer_local_moves_total: partitions moved between the pod's processes. */
  readonly localMoves: number
  /** kafka_sidecar_consumer_records_redelivered_total */
  readonly redelivered: number
  /** kafka_sidecar_consumer_processes: the pod's processes joined to the group. */
  readonly processes: number
  /** kafka_sidecar_consumer_partitions_owned: partitions owned by one of them. */
  readonly partitionsOwned: number
}

/** The group's series (0 for one not there yet). */
export async function sidecarGroupMetrics(httpAddress: string, groupId: string): Promise<SidecarGroupMetrics> {
  const base = /^https?:\/\//.test(httpAddress) ? httpAddress : `http://${httpAddress}`
  const response = await fetch(`${base}/metrics`)
  if (!response.ok) throw new Error(`the sidecar's /metrics answered ${response.status}`)
  const lines = (await response.text()).split('\n')
  const sum = (name: string) => {
    let total = 0
    for (const line of lines)
      if (line.startsWith(`${name}{`) && line.includes(`group="${groupId}"`))
        total += Number(line.slice(line.lastIndexOf(' ') + 1))
    return total
  }
  return {
    kafkaRebalances: sum('kafka_sidecar_consumer_kafka_rebalances_total'),
    localMoves: sum('kafka_sidecar_consumer_local_moves_total'),
    redelivered: sum('kafka_sidecar_consumer_records_redelivered_total'),
    processes: sum('kafka_sidecar_consumer_processes'),
    partitionsOwned: sum('kafka_sidecar_consumer_partitions_owned'),
  }
}
