/**
 * A SASL mechanism KafkaJS does not implement (MSK IAM, a company's own), loaded from a module as
 * KafkaJS's `sasl` option takes it: `{ mechanism, authenticationProvider }`. The module exports
 * that object (default export, or the CommonJS module.exports), or a `createMechanism(options)`
 * function that returns it (named or default export), called with KAFKA_SASL_MECHANISM_OPTIONS:
 * the shape of @jm18457/kafkajs-msk-iam-authentication-mechanism and its kind.
 */
import { createRequire } from 'node:module'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Mechanism } from 'kafkajs'
import { SidecarConfigError } from '../config-error.js'

export interface MechanismModule {
  /** The module as written: a package name, or a path (relative to the working directory). */
  readonly specifier: string
  /** The option that named it, as its user wrote it. */
  readonly source: string
  readonly options: Record<string, unknown>
  /** The mechanism the configuration names, and the option that names it. */
  readonly name: string
  readonly nameSource: string
}

/** Loads the module and returns its mechanism; every failure is a SidecarConfigError naming the option and the module. */
export async function loadMechanismModule(module: MechanismModule): Promise<Mechanism> {
  const { specifier, source } = module
  const url = moduleUrl(specifier)
  let namespace: Record<string, unknown>
  try {
    namespace = (await import(url)) as Record<string, unknown>
  } catch (error) {
    throw new SidecarConfigError(
      source,
      `cannot load ${specifier}${isPath(specifier) ? '' : ` (looked in node_modules of ${process.cwd()} and its parents, then beside the sidecar)`}: ${(error as Error).message}`,
    )
  }
  const mechanism = await mechanismOf(namespace, module)
  if (!mechanism)
    throw new SidecarConfigError(
      source,
      `${specifier} does not export a mechanism: expected a default export { mechanism, authenticationProvider } or a createMechanism(options) function`,
    )
  if (mechanism.mechanism.toUpperCase() !== module.name.toUpperCase())
    throw new SidecarConfigError(
      source,
      `${specifier} provides the mechanism "${mechanism.mechanism}", not "${module.name}" as ${module.nameSource} says`,
    )
  return mechanism
}

/**
 * A path is taken from the working directory, as a user typing it means it; a package name is
 * looked up from the working directory first (an image that installs it beside the sidecar), then
 * from the sidecar's own package.
 */
function moduleUrl(specifier: string): string {
  if (isPath(specifier)) return pathToFileURL(resolve(specifier)).href
  try {
    return pathToFileURL(createRequire(join(process.cwd(), 'noop.js')).resolve(specifier)).href
  } catch {
    // require.resolve knows only the "require" condition: an ESM-only package is found here.
    const entry = esmPackageEntry(specifier)
    return entry ? pathToFileURL(entry).href : specifier
  }
}

function isPath(specifier: string): boolean {
  return specifier.startsWith('.') || isAbsolute(specifier)
}

/**
 * The entry file of the package `name` in a node_modules folder of the working directory or a
 * parent, by its "exports" (the "node", "import" or "default" condition of ".") or "main".
 */
function esmPackageEntry(name: string): string | null {
  for (let dir = process.cwd(); ; dir = dirname(dir)) {
    const packageDir = join(dir, 'node_modules', name)
    const manifest = join(packageDir, 'package.json')
    if (existsSync(manifest)) {
      const { exports, main } = JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: unknown; main?: unknown }
      const root =
        typeof exports === 'object' && exports !== null && '.' in exports
          ? (exports as Record<string, unknown>)['.']
          : exports
      const target = conditionalTarget(root) ?? (typeof main === 'string' ? main : 'index.js')
      return join(packageDir, target)
    }
    if (dirname(dir) === dir) return null
  }
}

function conditionalTarget(value: unknown): string | null {
  if (typeof value === 'string') return value
  if (typeof value !== 'object' || value === null) return null
  for (const condition of ['node', 'import', 'default']) {
    const target = conditionalTarget((value as Record<string, unknown>)[condition])
    if (target) return target
  }
  return null
}

function isMechanism(value: unknown): value is Mechanism {
  const candidate = value as Partial<Mechanism> | null
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.mechanism === 'string' &&
    typeof candidate.authenticationProvider === 'function'
  )
}

async function mechanismOf(namespace: Record<string, unknown>, module: MechanismModule): Promise<Mechanism | null> {
  const exported = namespace.default
  if (isMechanism(exported)) return exported
  if (isMechanism(namespace.mechanism)) return namespace.mechanism
  const factory = [
    namespace.createMechanism,
    (exported as Record<string, unknown> | undefined)?.createMechanism,
    exported,
  ].find((candidate) => typeof candidate === 'function') as ((options: object) => unknown) | undefined
  if (!factory) return null
  let made: unknown
  try {
    made = await factory({ ...module.options })
  } catch (error) {
    throw new SidecarConfigError(
      module.source,
      `${module.specifier}: createMechanism failed: ${(error as Error).message}`,
    )
  }
  return isMechanism(made) ? made : null
}
