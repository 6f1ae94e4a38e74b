// Types for the one KafkaJS internal module the client uses (KafkaJS ships none for it).
declare module 'kafkajs/src/protocol/error.js' {
  const protocolError: {
    /** KafkaJS's KafkaJSProtocolError for a Kafka error code, with KafkaJS's message, type and retriable. */
    createErrorFromCode(code: number): Error & { type: string; code: number; retriable: boolean }
  }
  export default protocolError
}

// KafkaJS's 64-bit integer parsing, used so a consumer's offsets are read exactly as KafkaJS reads them.
declare module 'kafkajs/src/utils/long.js' {
  const Long: {
    /** Throws for what BigInt cannot read; a number that is NaN reads as 0, as in KafkaJS. */
    fromValue(value: unknown): { readonly value: bigint; toString(): string }
  }
  export default Long
}

// KafkaJS's retrier: a consumer's handler failures are retried with KafkaJS's own backoff and limits.
declare module 'kafkajs/src/retry/index.js' {
  import type { RetryOptions } from 'kafkajs'
  type Retrier = <T>(
    fn: (bail: (error?: Error) => void, retryCount: number, retryTime: number) => Promise<T>,
  ) => Promise<T>
  const createRetry: (options?: RetryOptions) => Retrier
  export default createRetry
}

// KafkaJS's retry defaults (not the test ones): the consumer's restart delay after a crash falls back to it.
declare module 'kafkajs/src/retry/defaults.js' {
  const defaults: { readonly initialRetryTime: number }
  export default defaults
}
