/**
 * Files named by options (certificates, keys, secrets), read when the sidecar starts and again at
 * every use: Kubernetes updates a mounted Secret in place, cert-manager renews certificates, and
 * a token file is refreshed by whatever issues the token, so the sidecar reads what the file
 * holds now rather than what it held at start. Every error names the option and the path, never
 * the content.
 */
import { readFileSync } from 'node:fs'
import { SidecarConfigError } from '../config-error.js'

/** A file an option names: the option as its user wrote it (variable, flag or key), and the path. */
export interface OptionFile {
  readonly source: string
  readonly path: string
}

/** The file's bytes now. */
export function readOptionFile(file: OptionFile): Buffer {
  try {
    return readFileSync(file.path)
  } catch (error) {
    // "ENOENT: no such file or directory, open '/x'": the reason without the path, named once below.
    const reason = (error as Error).message.split(', ')[0]
    throw new SidecarConfigError(file.source, `cannot read ${file.path}: ${reason}`)
  }
}

/**
 * A secret's text now. Trailing newlines are dropped: `echo secret > file` and most editors end
 * the file with one, and no password or token ends with a newline.
 */
export function readSecretFile(file: OptionFile): string {
  const text = readOptionFile(file)
    .toString('utf8')
    .replace(/[\r\n]+$/, '')
  if (text === '') throw new SidecarConfigError(file.source, `${file.path} is empty`)
  return text
}

/** The file an option names, or null when it is unset. */
export function optionFile(path: string | null, source: string): OptionFile | null {
  return path === null ? null : { source, path }
}
