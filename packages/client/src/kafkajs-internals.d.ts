// Types for the one KafkaJS internal module the client uses (KafkaJS ships none for it).
declare module 'kafkajs/src/protocol/error.js' {
  const protocolError: {
    /** KafkaJS's KafkaJSProtocolError for a Kafka error code, with KafkaJS's message, type and retriable. */
    createErrorFromCode(code: number): Error & { type: string; code: number; retriable: boolean }
  }
  export default protocolError
}
