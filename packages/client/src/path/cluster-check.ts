/**
 * Is the pod's sidecar writing to the cluster this application is configured for? (issue 13, item 5)
 *
 * In sidecar mode the application's `brokers`, `ssl` and `sasl` serve only the direct fallback.
 * A sidecar pointed at another cluster (a staging application beside a production sidecar)
 * would split the application's records between two clusters at every fallback, silently. So
 * whenever the sidecar path is taken into use (at connect, and at every half-open probe, which is
 * how a restarted sidecar is taken back) the client asks the sidecar which cluster it writes to
 * (ClusterInfo) and compares the answer with its own bootstrap list, opening no broker connection
 * of its own: the cluster matches when any of the application's bootstrap host:port entries is in
 * the sidecar's bootstrap list or among the brokers the cluster advertises (case-insensitive;
 * nothing is resolved through DNS, so two names for one host do not match).
 *
 * A restarted sidecar may come back with another configuration, and a restart need not open the
 * breaker (a sidecar stopped with SIGTERM ends its streams cleanly; the channel reconnects to
 * the new process): so whenever the channel to the sidecar leaves READY, and after any path
 * failure, the cluster is asked again before the sidecar takes the next send (`refuse`), or
 * beside it (`warn`).
 *
 * A mismatch is logged as an error naming both lists and the cluster id, set in the
 * `cluster_check` metric, and emitted as `producer.events.CLUSTER_MISMATCH`; with
 * `clusterMismatch: 'refuse'` the producer then produces directly. What cannot be checked (a
 * sidecar older than ClusterInfo, a failed call, `brokers` given as a function) is `unknown`:
 * said in the log, and the sidecar is used, as before this check existed.
 */
import { connectivityState, Metadata, status, type ServiceError } from '@grpc/grpc-js'
import type { ClusterInfoResponse, ProducerSidecarClient } from '@kafka-sidecar/proto'
import type { KafkaConfig, Logger } from 'kafkajs'
import type { ClusterCheckResult, ProducerMetrics } from '../metrics.js'
import type { ClusterMismatchPolicy } from '../options.js'

/** What the producer knows about the sidecar's cluster (`producer.sidecarCluster`). */
export interface SidecarClusterState {
  /** `not checked` until the sidecar path is first taken into use. */
  readonly result: ClusterCheckResult | 'not checked'
  /** The sidecar's cluster id, when it told one. */
  readonly clusterId: string | null
  /** Why the result is what it is, in words. */
  readonly reason: string
}

/** The payload of `producer.events.CLUSTER_MISMATCH`. */
export interface ClusterMismatchPayload {
  readonly clusterId: string
  readonly sidecarBootstrapServers: string[]
  readonly sidecarBrokers: string[]
  readonly applicationBrokers: string[]
  /** `warn`: sends still go through the sidecar; `refuse`: the producer writes directly. */
  readonly action: ClusterMismatchPolicy
}

export interface ClusterCheckSettings {
  readonly policy: ClusterMismatchPolicy
  readonly token: string | null
  /** How long ClusterInfo may take; a sidecar that answered its health check answers this at once. */
  readonly timeoutMs: number
  /** The application's own `brokers` (KafkaJS config), where its direct path writes. */
  readonly applicationBrokers: KafkaConfig['brokers'] | undefined
  /** How the error log ends for each policy; a producer's words by default. */
  readonly consequences?: Record<ClusterMismatchPolicy, string>
}

const PRODUCER_CONSEQUENCES: Record<ClusterMismatchPolicy, string> = {
  refuse: "Producing directly to the application's brokers instead (clusterMismatch: refuse).",
  warn: "Sending through the sidecar anyway (clusterMismatch: warn); sends that fall back go to the application's brokers.",
}

type Answer = { readonly info: ClusterInfoResponse } | { readonly unknown: string; readonly olderSidecar: boolean }

const NOT_CHECKED: SidecarClusterState = {
  result: 'not checked',
  clusterId: null,
  reason: 'the sidecar path has not been taken into use yet',
}

export class SidecarClusterCheck {
  private current: SidecarClusterState = NOT_CHECKED
  /** A path failure or a reconnect since the last answer: the sidecar may be another process now. */
  private stale = false
  private rechecking: Promise<boolean> | null = null
  private readonly watched = new WeakSet<ProducerSidecarClient>()

  constructor(
    private readonly settings: ClusterCheckSettings,
    private readonly log: Logger,
    private readonly metrics: Pick<ProducerMetrics, 'clusterCheck'>,
    private readonly onMismatch: (payload: ClusterMismatchPayload) => void,
  ) {}

  get state(): SidecarClusterState {
    return this.current
  }

  /**
   * The cluster id of what the sidecar writes, while sends may go to it (not after a refusal):
   * the cluster the application's records end up in.
   */
  get clusterIdForSends(): string | null {
    return this.current.result === 'mismatch' && this.settings.policy === 'refuse' ? null : this.current.clusterId
  }

  /** At disconnect: the next connect checks afresh and says everything again. */
  reset(): void {
    this.current = NOT_CHECKED
    this.stale = false
  }

  /** Whether the sidecar must be asked again before the next send (see refusesAfterPathFailure). */
  get askAgain(): boolean {
    return this.stale
  }

  /** The sidecar path failed (transport, UNAVAILABLE, no answer): ask again before trusting it. */
  pathFailed(): void {
    if (this.current.result !== 'not checked') this.stale = true
  }

  /**
   * Before a send goes to the sidecar: after a path failure, asks again (once for every send
   * waiting). With `refuse` the send waits for the answer, and true means it must not use the
   * sidecar; with `warn` the answer is only told, so nothing waits.
   */
  async refusesAfterPathFailure(client: ProducerSidecarClient): Promise<boolean> {
    if (!this.stale) return false
    this.rechecking ??= this.recheck(client).finally(() => (this.rechecking = null))
    if (this.settings.policy === 'warn') return false
    return this.rechecking
  }

  /** Asks the sidecar, compares, tells what it found; true when the producer must not use the sidecar. */
  async refuses(client: ProducerSidecarClient): Promise<boolean> {
    this.watchChannel(client)
    this.stale = false
    this.use(await askSidecar(client, this.settings.token, this.settings.timeoutMs))
    return this.refusing()
  }

  /** As refuses(), but a sidecar that cannot answer now keeps the last verdict. */
  refusesKeepingVerdict(client: ProducerSidecarClient): Promise<boolean> {
    return this.recheck(client)
  }

  /** As refuses(), but a sidecar that cannot answer now keeps the last verdict: the send will tell. */
  private async recheck(client: ProducerSidecarClient): Promise<boolean> {
    const answer = await askSidecar(client, this.settings.token, this.settings.timeoutMs)
    if ('unknown' in answer && !answer.olderSidecar) return this.refusing()
    this.stale = false
    this.use(answer)
    return this.refusing()
  }

  /** The answer goes stale whenever the client's channel leaves READY: what answers next may be another process. */
  private watchChannel(client: ProducerSidecarClient): void {
    if (this.watched.has(client)) return
    this.watched.add(client)
    const channel = client.getChannel()
    const watch = (seen: connectivityState): void => {
      if (seen === connectivityState.SHUTDOWN) return
      // No deadline, so no timer: the watch never keeps the process alive, and ends with the channel.
      channel.watchConnectivityState(seen, Infinity, () => {
        if (seen === connectivityState.READY) this.pathFailed()
        watch(channel.getConnectivityState(false))
      })
    }
    try {
      watch(channel.getConnectivityState(false))
    } catch {
      // The channel was closed meanwhile (a disconnect): nothing to watch.
    }
  }

  private refusing(): boolean {
    return this.current.result === 'mismatch' && this.settings.policy === 'refuse'
  }

  private use(answer: Answer): void {
    if ('info' in answer) {
      const { state, applicationBrokers } = this.compare(answer.info)
      this.settle(state, () => this.tell(state, answer.info, applicationBrokers))
    } else {
      this.settle({ result: 'unknown', clusterId: null, reason: answer.unknown }, () => this.tellUnknown(answer))
    }
  }

  private compare(info: ClusterInfoResponse): { state: SidecarClusterState; applicationBrokers: string[] | null } {
    const clusterId = info.clusterId === '' ? null : info.clusterId
    const brokers = this.settings.applicationBrokers
    if (!Array.isArray(brokers)) {
      // A function is the application's own code (often a service-discovery lookup, with
      // connections of its own); KafkaJS calls it when the direct path connects. Not called here.
      return {
        state: {
          result: 'unknown',
          clusterId,
          reason: 'the application gives brokers as a function, which is not called to check the cluster',
        },
        applicationBrokers: null,
      }
    }
    const matched = firstShared(brokers, [...info.bootstrapServers, ...info.brokers])
    return matched === null
      ? {
          state: {
            result: 'mismatch',
            clusterId,
            reason:
              "none of the application's brokers is in the sidecar's bootstrap list or among its cluster's brokers",
          },
          applicationBrokers: [...brokers],
        }
      : {
          state: {
            result: 'match',
            clusterId,
            reason: `the application's broker ${matched} is the sidecar's cluster's`,
          },
          applicationBrokers: [...brokers],
        }
  }

  /** Keeps the new state; says it (log, event) only when it changed, so probes do not repeat it. */
  private settle(next: SidecarClusterState, tell: () => void): void {
    const changed = next.result !== this.current.result || next.clusterId !== this.current.clusterId
    this.current = next
    if (next.result !== 'not checked') this.metrics.clusterCheck(next.result)
    if (changed) tell()
  }

  private tell(state: SidecarClusterState, info: ClusterInfoResponse, applicationBrokers: string[] | null): void {
    const fields = {
      clusterId: state.clusterId,
      sidecarBootstrapServers: info.bootstrapServers,
      sidecarBrokers: info.brokers,
      applicationBrokers,
    }
    if (state.result === 'match')
      return this.log.debug("The sidecar writes to this application's Kafka cluster", {
        ...fields,
        reason: state.reason,
      })
    if (state.result === 'unknown')
      return this.log.debug(
        `Cannot tell whether the sidecar writes to this application's Kafka cluster: ${state.reason}`,
        fields,
      )
    const consequence = (this.settings.consequences ?? PRODUCER_CONSEQUENCES)[this.settings.policy]
    this.log.error(
      `The sidecar writes to another Kafka cluster (id ${state.clusterId ?? 'unknown'}, bootstrap ${info.bootstrapServers.join(',')}, brokers ${info.brokers.join(',')}) than this application's brokers (${applicationBrokers!.join(',')}). ${consequence}`,
      { ...fields, clusterMismatch: this.settings.policy },
    )
    this.onMismatch({
      clusterId: state.clusterId ?? '',
      sidecarBootstrapServers: [...info.bootstrapServers],
      sidecarBrokers: [...info.brokers],
      applicationBrokers: applicationBrokers!,
      action: this.settings.policy,
    })
  }

  private tellUnknown({ unknown, olderSidecar }: { unknown: string; olderSidecar: boolean }): void {
    const message = `Cannot tell whether the sidecar writes to this application's Kafka cluster (${unknown}); using it`
    // An older sidecar is an ordinary step of a rollout (clients first); a failed call is not.
    if (olderSidecar) this.log.info(message)
    else this.log.warn(message)
  }
}

/** The first of `application` that is also in `sidecar`, compared as host:port without case. */
export function firstShared(application: readonly string[], sidecar: readonly string[]): string | null {
  const known = new Set(sidecar.map(normalise))
  return application.find((address) => known.has(normalise(address))) ?? null
}

function normalise(address: string): string {
  return address.trim().toLowerCase()
}

function askSidecar(client: ProducerSidecarClient, token: string | null, timeoutMs: number): Promise<Answer> {
  const metadata = new Metadata()
  if (token) metadata.set('authorization', `Bearer ${token}`)
  return new Promise((resolve) => {
    client.clusterInfo(
      {},
      metadata,
      { deadline: Date.now() + timeoutMs },
      (error: ServiceError | null, response?: ClusterInfoResponse) => {
        if (!error && response) return resolve({ info: response })
        if (error?.code === status.UNIMPLEMENTED)
          return resolve({
            unknown: 'the sidecar is older than its ClusterInfo call (UNIMPLEMENTED)',
            olderSidecar: true,
          })
        resolve({
          unknown: `ClusterInfo failed: ${error ? `${status[error.code] ?? error.code} ${error.details}` : 'no answer'}`,
          olderSidecar: false,
        })
      },
    )
  })
}
