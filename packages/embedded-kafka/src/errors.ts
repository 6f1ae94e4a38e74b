/** An option that is unknown or invalid; `option` names it as its user wrote it. */
export class EmbeddedKafkaConfigError extends Error {
  override name = 'EmbeddedKafkaConfigError'
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`invalid embedded-kafka option "${option}": ${message}`)
  }
}
