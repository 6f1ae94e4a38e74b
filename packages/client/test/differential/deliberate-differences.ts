/**
 * The one list of differences between plain KafkaJS and the client that the differential
 * harness accepts. docs/deliberate-differences.md shows the same list (a test keeps them
 * equal). The harness fails on a difference no entry covers, and on an entry that no longer
 * happens, so the list stays exact.
 *
 * An entry covers a difference when its modes, module systems, programs and one of its paths
 * match (paths are observation groups, see normalise.ts; `*` matches anything). It must
 * happen, in every mode and module system it names, for every program it names (`'*'`: for
 * at least one program), and each of its paths must match at least one difference.
 *
 * Ids starting with OPEN- are differences believed to be bugs (several being fixed now): remove
 * the entry with the fix. An entry marked `intermittent` depends on timing: it covers the
 * difference when it happens and is not required to happen.
 */
import type { ComparedMode, ModuleSystem } from './plan.js'
import type { Difference } from './compare.js'

export interface DeliberateDifference {
  readonly id: string
  readonly modes: readonly ComparedMode[]
  readonly systems: readonly ModuleSystem[]
  /** Program names, or '*' for any program (including "(process)"). */
  readonly programs: readonly string[] | '*'
  /** Observation paths: `steps.send`, `records.*`, `spans`, `events.producer.network.*` ... */
  readonly paths: readonly string[]
  /** Why it differs. */
  readonly reason: string
  /** What the application sees instead of what KafkaJS shows it. */
  readonly instead: string
  /** Depends on timing: seen in some runs only. */
  readonly intermittent?: true
}

const BOTH_SYSTEMS: readonly ModuleSystem[] = ['cjs', 'esm']

const SIDECAR: readonly ComparedMode[] = ['sidecar']
const BOTH_MODES: readonly ComparedMode[] = ['direct', 'sidecar']

export const DELIBERATE_DIFFERENCES: readonly DeliberateDifference[] = [
  // --- deliberate --------------------------------------------------------------------------------
  {
    id: 'SIDECAR-NO-BROKER-REQUEST-EVENTS',
    modes: SIDECAR,
    systems: BOTH_SYSTEMS,
    programs: '*',
    paths: ['events.producer.network.*', 'events.consumer.network.*'],
    reason:
      'In sidecar mode the application process makes no broker requests (the sidecar does, for the whole pod: that is the point), so there are no request events to emit. They come back while a producer falls back to the direct path, and while a consumer consumes directly after a long sidecar outage.',
    instead:
      'No producer.network.request nor consumer.network.request (nor request_timeout, request_queue_size) events; the sidecar exports its requests as metrics.',
  },
  {
    id: 'CONSUMER-NO-GENERATION-OR-BATCH-CONTEXT',
    modes: SIDECAR,
    systems: BOTH_SYSTEMS,
    programs: ['consume-each-message'],
    paths: ['notes.message keys', 'notes.first commit'],
    reason:
      "The consumer contract does not carry the sidecar member's generation id nor the record batch's internals (batchContext is absent from KafkaJS's types too).",
    instead:
      'groupGenerationId is -1 in COMMIT_OFFSETS and HEARTBEAT; messages have no batchContext property; everything else of a message (keys, order, values, headers, offsets, timestamps) is as in KafkaJS.',
  },
  {
    id: 'CONSUMER-DESCRIBE-GROUP-SHOWS-THE-PODS-MEMBER',
    modes: SIDECAR,
    systems: BOTH_SYSTEMS,
    programs: ['consume-group-membership'],
    paths: ['notes.group'],
    reason:
      "In sidecar mode the pod's sidecar is the group's one member for the pod (that is the point), so describeGroup() describes that member, which serves every process of the pod.",
    instead:
      "describeGroup() lists the pod's member: its clientId is the sidecar's ('kafka-sidecar'), its assignment the pod's partitions, and one member per pod however many processes consume; state, protocol and the rest as in KafkaJS.",
  },
  {
    id: 'EXTRA-EVENT-NAMES',
    modes: BOTH_MODES,
    systems: BOTH_SYSTEMS,
    programs: ['events'],
    paths: ['notes.events'],
    reason:
      "Delivery reports, circuit-breaker changes, fallbacks and a sidecar on another cluster are events on producer.on, so producer.events names them beside KafkaJS's own.",
    instead:
      'producer.events has six more keys: DELIVERY, BREAKER_OPEN, BREAKER_HALF_OPEN, BREAKER_CLOSE, FALLBACK, CLUSTER_MISMATCH (values producer.sidecar.*).',
  },
  {
    id: 'ORDERED-CONCURRENT-SENDS',
    modes: BOTH_MODES,
    systems: BOTH_SYSTEMS,
    programs: ['concurrent-sends'],
    paths: ['steps.20 at once', 'records.t'],
    reason:
      "The client keeps each partition's records in send() call order, also for sends in flight at once, in both modes and across a switch between them. KafkaJS 2.2.4 does not: of 20 concurrent sends to one partition it writes the last two in reverse.",
    instead: 'Records land in call order; the RecordMetadata offsets follow call order.',
  },
  {
    id: 'CODECS-RUN-IN-THE-SIDECAR',
    modes: SIDECAR,
    systems: BOTH_SYSTEMS,
    programs: ['codec-app-gzip'],
    paths: ['notes.codec calls'],
    reason:
      "GZIP records are compressed by the sidecar's KafkaJS, in another process, so a GZIP codec the application put in CompressionCodecs in place of KafkaJS's runs only on the direct path. (Snappy, LZ4 and ZSTD, which KafkaJS lacks, keep their sends direct when the application registers them: see SIDECAR-NEEDS-DIRECT-FOR-APP-CODECS.)",
    instead:
      "The application's replacement GZIP codec is not called; the records are compressed by the sidecar's own gzip, which any consumer reads alike.",
  },
  {
    id: 'SIDECAR-ERROR-CAUSE',
    modes: SIDECAR,
    systems: BOTH_SYSTEMS,
    programs: ['record-too-large'],
    paths: ['steps.too large', 'steps.too large beside a small one'],
    reason:
      "An error the sidecar reports keeps KafkaJS's class, name, message and retriable, and adds the sidecar's own explanation as error.cause, so a log says what the sidecar saw.",
    instead: "The same error, with a `cause` (an Error with the sidecar's message) that KafkaJS does not set.",
  },

  {
    id: 'SIDECAR-RETRIES-ARE-THE-SIDECARS',
    modes: SIDECAR,
    systems: BOTH_SYSTEMS,
    programs: ['unknown-topic-producer-no-auto-create', 'unknown-topic-cluster-no-auto-create'],
    paths: ['steps.send'],
    reason:
      "A retriable Kafka error the sidecar gives up on was retried by the sidecar's producer, with the pod's retry settings, not by the application's KafkaJS retrier (the sidecar path ignores the application's retry option: OPTIONS-THE-SIDECAR-PATH-IGNORES), so the application's process has no retry count of its own to report.",
    instead:
      "The same KafkaJSNumberOfRetriesExceeded around KafkaJS's protocol error (class, name, message, retriable), with retryCount 0 and retryTime 0, and the sidecar's explanation as the protocol error's cause (SIDECAR-ERROR-CAUSE). Compared exactly only in runs where the baseline's own retry values agree.",
    intermittent: true,
  },

  // --- believed to be bugs --------------------------------------------------------------------------
  {
    id: 'KAFKAJS-DUPLICATE-AFTER-RECONNECT',
    modes: BOTH_MODES,
    systems: BOTH_SYSTEMS,
    programs: ['send-after-disconnect'],
    paths: ['steps.send after reconnect', 'records.t', 'traceparent.t', 'spans', 'events.producer.network.*'],
    reason:
      'Not the client: the first send after disconnect() and connect() again is now and then written twice (one span, two records) by KafkaJS itself, in baseline runs as in direct mode. The harness learns it only when a baseline run shows it.',
    instead:
      'Sometimes the record twice in the partition, the next offsets one higher, and one more produce request (request events); as with KafkaJS.',
    intermittent: true,
  },
]

/**
 * Differences the corpus cannot show (sends of over 10,000 records, a hung sidecar, a full one,
 * timing at send()), each pinned by the tests it names instead. The doc lists them in a table of
 * their own; a test checks that each named test file exists.
 */
export interface PinnedDifference {
  readonly id: string
  readonly reason: string
  readonly instead: string
  /** Test files, from the repository root, that fail when the difference changes. */
  readonly pinnedBy: readonly string[]
}

export const PINNED_BY_TESTS: readonly PinnedDifference[] = [
  {
    id: 'LARGE-SENDS-IN-PIECES',
    reason:
      "A request is what the sidecar decodes and queues at once, for every application of the pod: its size bounds the sidecar's memory and event-loop time. A send that large to one partition is over a default broker's message.max.bytes unless compressed, so KafkaJS would usually fail it anyway; refusing it instead would fail sends KafkaJS writes (spread over partitions).",
    instead:
      "A send of more than 10,000 records or 16 MiB encoded is written as several requests, in send order. Per partition each piece is one record batch, but the pieces are not one: should a piece fail at the broker, the others may stay written and send() rejects with that piece's error; other applications' records may land between the pieces, so the RecordMetadata's base offset (the first piece's) plus a record's rank is not its offset beyond the first piece; and when the sidecar path itself fails midway, the whole send is written again directly, so pieces already written are there twice (at-least-once, as for any path failure). KafkaJS writes a send's records for a partition as one batch, taken or refused whole. Smaller sends are all-or-nothing per partition in both.",
    pinnedBy: ['packages/client/test/sidecar-limits.test.ts', 'packages/client/test/coalescer.test.ts'],
  },
  {
    id: 'SIDECAR-PATH-DEADLINES',
    reason:
      "The sidecar is shared and bounded: it cannot hold a pod's records for ever, and a caller must get a definite answer (written, or not) rather than an outcome it would resend. A window of 30 s (KafkaJS's default requestTimeout and retry.maxRetryTime) keeps a short broker timeout from failing a send sooner than KafkaJS would.",
    instead:
      'The send\'s timeout is the brokers\' ack timeout, as in KafkaJS (0 included). Besides: records still queued in the sidecar max(timeout, 30000) ms after it took them fail unsent (KafkaJSNumberOfRetriesExceeded wrapping REQUEST_TIMED_OUT, cause "not sent: waited N ms in the sidecar queue"); a sidecar that has not answered within that plus requestTimeoutMarginMs, or leaves HTTP/2 pings unanswered for livenessTimeoutMs, counts as failed and the send is written directly (FALLBACK event; a possible duplicate); a full sidecar is retried for backpressureRetryMs, then send() rejects with a retriable KafkaJSError.',
    pinnedBy: [
      'packages/client/test/send-timeout.test.ts',
      'packages/sidecar/test/queue-deadline.test.ts',
      'packages/client/test/backpressure.test.ts',
      'packages/client/test/hung-sidecar.test.ts',
    ],
  },
  {
    id: 'OPTIONS-THE-SIDECAR-PATH-IGNORES',
    reason:
      "The pod has one producer, in the sidecar, configured once for every application; one application's settings cannot change it for the others.",
    instead:
      'retry, requestTimeout, maxInFlightRequests and metadataMaxAge have no effect on sends through the sidecar (they do on the direct path). connect() logs one warning per option set, naming it: "Option <name> does not apply to sends through the sidecar (it does to the direct fallback): <why>".',
    pinnedBy: ['packages/client/test/sidecar-path-warnings.test.ts'],
  },
  {
    id: 'SIDECAR-NEEDS-DIRECT-FOR-APP-CODECS',
    reason:
      "A codec is a function in the application's process and cannot cross to the sidecar, which registers none; sending such records uncompressed, or refusing them, would change what the application asked for.",
    instead:
      "Sends compressed with a codec the application registered (Snappy, LZ4, ZSTD) behave as in KafkaJS because they go through this process's own KafkaJS producer: connect() (or the first such send) warns once per codec, and this process holds broker connections, and emits KafkaJS's network events, while such sends last.",
    pinnedBy: ['packages/client/test/sidecar-limits.test.ts'],
  },
  {
    id: 'SIDECAR-RECORD-LIMITS',
    reason:
      "The sidecar checks what it can before queueing, so one application's record never fails a batch shared with others; the header count bounds the objects one request makes the sidecar build for the whole pod.",
    instead:
      "A record over KAFKA_SIDECAR_MAX_RECORD_BYTES (1048588 by default, Kafka's default message.max.bytes) fails with KafkaJSProtocolError MESSAGE_TOO_LARGE, with its send's records for its partition (the send's other partitions are written), as a broker would, also where the brokers would take it; over KAFKA_SIDECAR_MAX_HEADERS_PER_RECORD (10000) headers, with KafkaJSProtocolError INVALID_RECORD.",
    pinnedBy: ['packages/client/test/sidecar-limits.test.ts'],
  },
  {
    id: 'FEWER-DUPLICATES-ON-PARTIAL-REFUSAL',
    reason:
      "In sidecar mode one produce request carries many applications' partitions. KafkaJS 2.2.4 fails a request's whole answer on its first refused partition and resends the whole request, writing the partitions the broker took a second time: one application's stale partition would duplicate another application's records. The sidecar's sender (the default produce encoder) keeps each written partition's answer and retries only the partitions refused with a retriable error.",
    instead:
      "When a broker refuses some partitions of a request (NOT_LEADER_FOR_PARTITION from a stale leader, NOT_ENOUGH_REPLICAS), the partitions it wrote are written once, where KafkaJS writes them twice; their RecordMetadata is the first write's. A partition refused for good (MESSAGE_TOO_LARGE) fails only its own records. Retry settings, metadata refreshes and error classes are KafkaJS's. With KAFKA_SIDECAR_PRODUCE_ENCODER=kafkajs the sidecar behaves as KafkaJS.",
    pinnedBy: ['packages/sidecar/test/direct-batch-sender.test.ts'],
  },
  {
    id: 'CREATE-TIME-AT-SEND',
    reason:
      "In sidecar mode the batch is built in another process, whose clock and timing are not the application's; stamping at send() is the nearest the client can get.",
    instead:
      "A message without timestamp gets the application's Date.now() at send(); KafkaJS takes it when it builds the batch, after waiting for metadata or a connection (milliseconds; seconds on a cold start). Both fall within the send.",
    pinnedBy: ['packages/client/test/create-time.test.ts'],
  },
  {
    id: 'CONSUMER-GROUP-JOIN-PER-PROCESS',
    reason:
      "In sidecar mode (KAFKA_SIDECAR_CONSUMER_MODE) the pod's sidecar is the group's one member for the pod and moves partitions between the pod's processes without a Kafka rebalance: a process's partitions change at those moves too.",
    instead:
      "GROUP_JOIN fires at every assignment the sidecar gives this process, local moves included, its memberAssignment this process's own partitions, memberId, leaderId and isLeader the pod's member's. A Kafka rebalance still emits REBALANCING first.",
    pinnedBy: ['packages/client/test/consumer/sidecar-consumer.test.ts'],
  },
  {
    id: 'CONSUMER-FETCHES-ARE-THE-SIDECARS',
    reason:
      'In sidecar mode the process sends no fetch or other broker request (the sidecar fetches for the pod); what arrives is a batch from the sidecar.',
    instead:
      "FETCH_START and FETCH come once per batch the sidecar delivers, nodeId '-1', duration 0 (the harness compares their shapes, not their number, which follows the fetch timing in KafkaJS too); regular-expression subscriptions are resolved by the sidecar when the process joins, not at subscribe().",
    pinnedBy: ['packages/client/test/consumer/sidecar-consumer.test.ts'],
  },
  {
    id: 'CONSUMER-STOPS-WHEN-PARTITION-LEAVES',
    reason:
      "A partition revoked by the sidecar, or lost with the stream, is another process's next: the batch in hand must end as soon as possible, as KafkaJS's does at a rebalance (its heartbeat fails).",
    instead:
      "eachMessage's batch stops after the message in hand, and eachBatch's isStale() turns true (KafkaJS: only after a seek); with autoCommit what was resolved is committed, then the partition is released.",
    pinnedBy: ['packages/client/test/consumer/sidecar-consumer.test.ts'],
  },
  {
    id: 'CONSUMER-CUSTOM-ASSIGNERS-STAY-DIRECT',
    reason:
      "Partition assigners are functions in the application's process and run inside the group member, which in sidecar mode is the sidecar's.",
    instead:
      "A consumer with partitionAssigners other than KafkaJS's default stays KafkaJS's own in sidecar mode (its own group member and connections), with a warning.",
    pinnedBy: ['packages/client/test/consumer/consumer-mode.test.ts'],
  },
  {
    id: 'CONSUMER-COMMITS-IN-BACKGROUND',
    reason:
      "In sidecar mode an auto-commit crosses the sidecar (process, sidecar, broker and back); awaited after each batch as KafkaJS awaits its own, it held every partition of the process for that round trip, the largest share of a live record's latency.",
    instead:
      'The auto-commit after a batch is the one KafkaJS would make, sent without waiting for its answer: the next batch may start first, so COMMIT_OFFSETS can come after it started; one commit per partition is in flight, stop() and a revoked partition wait for theirs, and a failed commit is handled as a failed batch.',
    pinnedBy: ['packages/client/test/consumer/pipelining.test.ts'],
  },
]

function glob(pattern: string): RegExp {
  return new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  )
}

export function covers(entry: DeliberateDifference, d: Difference): boolean {
  return (
    entry.modes.includes(d.mode) &&
    entry.systems.includes(d.system) &&
    (entry.programs === '*' || entry.programs.includes(d.program)) &&
    entry.paths.some((path) => glob(path).test(d.path))
  )
}

/** What an entry promises and did not happen, as sentences (empty when it all happened). */
export function unmet(entry: DeliberateDifference, found: readonly Difference[]): string[] {
  if (entry.intermittent) return []
  const mine = found.filter((d) => covers(entry, d))
  const problems: string[] = []
  for (const mode of entry.modes) {
    for (const system of entry.systems) {
      const here = mine.filter((d) => d.mode === mode && d.system === system)
      if (entry.programs === '*') {
        if (here.length === 0) problems.push(`${entry.id}: no difference in ${mode}/${system}`)
        continue
      }
      for (const program of entry.programs) {
        if (!here.some((d) => d.program === program))
          problems.push(`${entry.id}: no difference for ${program} in ${mode}/${system}`)
      }
    }
  }
  for (const path of entry.paths) {
    if (!mine.some((d) => glob(path).test(d.path))) problems.push(`${entry.id}: path ${path} matches no difference`)
  }
  return problems
}

export { BOTH_SYSTEMS }
