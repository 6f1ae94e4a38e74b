/** A configuration the sidecar refuses, naming the option as the user wrote it (flag, variable or key). */
export class SidecarConfigError extends Error {
  override name = 'SidecarConfigError'
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`invalid configuration ${option}: ${message}`)
  }
}
