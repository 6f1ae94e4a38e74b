/**
 * Bad TLS and SASL configuration stops the sidecar at start, with an error that names the option
 * (as the user wrote it: key, variable or flag) and the file, never a secret, and before anything
 * is bound: a missing or unreadable file, a file that holds no certificate, options that cannot
 * work together, a mechanism nothing implements, a module that provides no mechanism. The
 * certificate cases (a key that is not the certificate's, an expired certificate) are in
 * kafka-tls.test.ts, beside the clusters that make them.
 */
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { fileWith, runProgram, socketPath, tempDir } from '@kafka-sidecar/test-support'
import { describe, expect, it } from 'vitest'
import { SidecarConfigError, startSidecar, type StartOptions } from '../src/index.js'

const cliPath = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
const require = createRequire(import.meta.url)

/** startSidecar's error for `options` (a sidecar that starts anyway is stopped, and fails the test). */
async function startError(options: StartOptions): Promise<SidecarConfigError> {
  const listen = await socketPath()
  const error = await startSidecar({
    brokers: ['127.0.0.1:9'],
    listen: `unix://${listen}`,
    http: 'off',
    logLevel: 'nothing',
    ...options,
  }).then(
    async (sidecar) => {
      await sidecar.stop()
      throw new Error('the sidecar started')
    },
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(SidecarConfigError)
  // Refused before binding: nothing is left behind.
  expect(existsSync(listen)).toBe(false)
  return error as SidecarConfigError
}

const PASSWORD = 'pw-never-echoed-5f1c'

describe('files the TLS and SASL options name must be readable at start', () => {
  it.each<[string, (dir: string) => Promise<StartOptions>, string, (dir: string) => string]>([
    [
      'a CA file that does not exist',
      async (dir) => ({ ssl: true, sslCaFile: join(dir, 'ca.pem') }),
      'sslCaFile',
      (dir) => `cannot read ${join(dir, 'ca.pem')}: ENOENT: no such file or directory`,
    ],
    [
      'a CA file that is a directory (unreadable as a file)',
      async (dir) => ({ ssl: true, sslCaFile: dir }),
      'sslCaFile',
      (dir) => `cannot read ${dir}: EISDIR: illegal operation on a directory`,
    ],
    [
      'a CA file that holds no certificate',
      async (dir) => {
        await writeFile(join(dir, 'ca.pem'), 'not a certificate\n')
        return { ssl: true, sslCaFile: join(dir, 'ca.pem') }
      },
      'sslCaFile',
      (dir) => `${join(dir, 'ca.pem')} holds no PEM certificate`,
    ],
    [
      'a client certificate file that does not exist',
      async (dir) => {
        await writeFile(join(dir, 'client.key'), 'a key')
        return { ssl: true, sslCertFile: join(dir, 'client.pem'), sslKeyFile: join(dir, 'client.key') }
      },
      'sslCertFile',
      (dir) => `cannot read ${join(dir, 'client.pem')}: ENOENT: no such file or directory`,
    ],
    [
      'a password file that does not exist',
      async (dir) => ({ saslMechanism: 'plain', saslUsername: 'u', saslPasswordFile: join(dir, 'password') }),
      'saslPasswordFile',
      (dir) => `cannot read ${join(dir, 'password')}: ENOENT: no such file or directory`,
    ],
    [
      'a password file that is a directory',
      async (dir) => ({ saslMechanism: 'scram-sha-512', saslUsername: 'u', saslPasswordFile: dir }),
      'saslPasswordFile',
      (dir) => `cannot read ${dir}: EISDIR: illegal operation on a directory`,
    ],
    [
      'a password file holding only a newline',
      async (dir) => {
        await writeFile(join(dir, 'password'), '\n')
        return { saslMechanism: 'plain', saslUsername: 'u', saslPasswordFile: join(dir, 'password') }
      },
      'saslPasswordFile',
      (dir) => `${join(dir, 'password')} is empty`,
    ],
    [
      'an OAUTHBEARER token file that does not exist',
      async (dir) => ({ saslMechanism: 'oauthbearer', saslOauthbearerTokenFile: join(dir, 'token') }),
      'saslOauthbearerTokenFile',
      (dir) => `cannot read ${join(dir, 'token')}: ENOENT: no such file or directory`,
    ],
  ])('%s', async (_name, options, option, message) => {
    const dir = await tempDir()
    const error = await startError(await options(dir))
    expect(error.option).toBe(option)
    expect(error.message).toBe(`invalid configuration ${option}: ${message(dir)}`)
  })
})

describe('TLS and SASL options that cannot work together are refused, naming one', () => {
  it.each<[string, StartOptions, string, string]>([
    ['a CA file without TLS', { sslCaFile: '/etc/ca.pem' }, 'sslCaFile', 'needs KAFKA_SSL=true (--ssl)'],
    ['a server name without TLS', { sslServername: 'kafka.internal' }, 'sslServername', 'needs KAFKA_SSL=true (--ssl)'],
    [
      'certificates accepted unverified without TLS',
      { sslRejectUnauthorized: false },
      'sslRejectUnauthorized',
      'needs KAFKA_SSL=true (--ssl)',
    ],
    [
      'a client certificate without its key',
      { ssl: true, sslCertFile: '/etc/client.pem' },
      'sslCertFile',
      "needs KAFKA_SSL_KEY_FILE: mutual TLS takes the certificate's key",
    ],
    [
      'a key without its certificate',
      { ssl: true, sslKeyFile: '/etc/client.key' },
      'sslKeyFile',
      "needs KAFKA_SSL_CERT_FILE: mutual TLS takes the key's certificate",
    ],
    [
      'a password file without a mechanism',
      { saslPasswordFile: '/etc/pw' },
      'saslPasswordFile',
      'needs KAFKA_SASL_MECHANISM',
    ],
    [
      'a password and a password file',
      { saslMechanism: 'plain', saslUsername: 'u', saslPassword: PASSWORD, saslPasswordFile: '/etc/pw' },
      'saslPasswordFile',
      'and KAFKA_SASL_PASSWORD are both set: set one',
    ],
    [
      'oauthbearer without a token file',
      { saslMechanism: 'OAUTHBEARER' },
      'saslMechanism',
      'oauthbearer needs KAFKA_SASL_OAUTHBEARER_TOKEN_FILE',
    ],
    [
      'oauthbearer with a password',
      { saslMechanism: 'oauthbearer', saslOauthbearerTokenFile: '/t', saslPassword: PASSWORD },
      'saslPassword',
      'is not used with oauthbearer (it takes KAFKA_SASL_OAUTHBEARER_TOKEN_FILE)',
    ],
    [
      'a token file with scram-sha-256',
      { saslMechanism: 'scram-sha-256', saslUsername: 'u', saslPassword: PASSWORD, saslOauthbearerTokenFile: '/t' },
      'saslOauthbearerTokenFile',
      'is not used with scram-sha-256 (only with oauthbearer)',
    ],
    [
      'a mechanism module with a password',
      { saslMechanism: 'AWS_MSK_IAM', saslMechanismModule: 'm', saslPassword: PASSWORD },
      'saslPassword',
      "is not used with KAFKA_SASL_MECHANISM_MODULE: the module's mechanism authenticates (give it what it needs through KAFKA_SASL_MECHANISM_OPTIONS)",
    ],
    [
      'mechanism options without a module',
      { saslMechanism: 'plain', saslUsername: 'u', saslPassword: PASSWORD, saslMechanismOptions: { region: 'x' } },
      'saslMechanismOptions',
      'needs KAFKA_SASL_MECHANISM_MODULE',
    ],
    [
      'a mechanism name SASL does not allow',
      { saslMechanism: 'SCRAM SHA 256' },
      'saslMechanism',
      `expected a SASL mechanism name (letters, digits, '-' and '_'), got "SCRAM SHA 256"`,
    ],
  ])('%s', async (_name, options, option, message) => {
    const error = await startError(options)
    expect(error.message).toBe(`invalid configuration ${option}: ${message}`)
    expect(error.message).not.toContain(PASSWORD)
  })
})

describe('KAFKA_SASL_MECHANISM_MODULE must provide the mechanism named', () => {
  const moduleOptions = (specifier: string, name = 'TEST_MECHANISM'): StartOptions => ({
    saslMechanism: name,
    saslMechanismModule: specifier,
  })

  it('a module that cannot be loaded', async () => {
    const dir = await tempDir()
    const error = await startError(moduleOptions(join(dir, 'missing.mjs')))
    expect(error.message).toMatch(
      new RegExp(`^invalid configuration saslMechanismModule: cannot load ${dir}/missing\\.mjs: Cannot find module`),
    )
  })

  it.each([
    ['exports nothing of the kind', 'export const answer = 42\n'],
    ['exports a mechanism without an authenticationProvider', "export default { mechanism: 'TEST_MECHANISM' }\n"],
    ['exports a createMechanism that returns something else', 'export function createMechanism() { return 42 }\n'],
  ])('a module that %s', async (_name, source) => {
    const path = await fileWith(source, 'mechanism.mjs')
    const error = await startError(moduleOptions(path))
    expect(error.message).toBe(
      `invalid configuration saslMechanismModule: ${path} does not export a mechanism: expected a default export { mechanism, authenticationProvider } or a createMechanism(options) function`,
    )
  })

  it('a module whose createMechanism throws', async () => {
    const path = await fileWith("export function createMechanism() { throw new Error('no region') }\n", 'mechanism.mjs')
    const error = await startError(moduleOptions(path))
    expect(error.message).toBe(`invalid configuration saslMechanismModule: ${path}: createMechanism failed: no region`)
  })

  it('a module that provides another mechanism than the one named', async () => {
    const path = await fileWith(
      "export default { mechanism: 'AWS_MSK_IAM', authenticationProvider: () => ({ authenticate: async () => {} }) }\n",
      'mechanism.mjs',
    )
    const error = await startError(moduleOptions(path, 'test-mechanism-2'))
    expect(error.message).toBe(
      `invalid configuration saslMechanismModule: ${path} provides the mechanism "AWS_MSK_IAM", not "test-mechanism-2" as saslMechanism says`,
    )
  })
})

describe('the CLI names the variable or flag and the file, and exits 2', () => {
  const base = { KAFKA_BROKERS: '127.0.0.1:9', KAFKA_SIDECAR_LOG_LEVEL: 'nothing', KAFKA_SIDECAR_HTTP: 'off' }
  const run = (env: Record<string, string>, args: string[] = []) =>
    runProgram(cliPath, { args, env: { ...base, ...env }, timeoutMs: 10_000 })

  it('a CA file that does not exist (variable)', { timeout: 15_000 }, async () => {
    const dir = await tempDir()
    const result = await run({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: join(dir, 'ca.pem') })
    expect(result).toMatchObject({ code: 2, stdout: '' })
    expect(result.stderr).toBe(
      `kafka-sidecar: invalid configuration KAFKA_SSL_CA_FILE: cannot read ${join(dir, 'ca.pem')}: ENOENT: no such file or directory\n`,
    )
  })

  it('a password file that is a directory (flag)', { timeout: 15_000 }, async () => {
    const dir = join(await tempDir(), 'secrets')
    await mkdir(dir)
    const result = await run({ KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_USERNAME: 'u' }, [
      '--sasl-password-file',
      dir,
    ])
    expect(result).toMatchObject({ code: 2, stdout: '' })
    expect(result.stderr).toBe(
      `kafka-sidecar: invalid configuration --sasl-password-file: cannot read ${dir}: EISDIR: illegal operation on a directory\n`,
    )
  })

  it('a mechanism module that exports no mechanism (variable)', { timeout: 15_000 }, async () => {
    const path = await fileWith('module.exports = { region: "eu-west-1" }\n', 'not-a-mechanism.cjs')
    const result = await run({ KAFKA_SASL_MECHANISM: 'AWS_MSK_IAM', KAFKA_SASL_MECHANISM_MODULE: path })
    expect(result).toMatchObject({ code: 2, stdout: '' })
    expect(result.stderr).toBe(
      `kafka-sidecar: invalid configuration KAFKA_SASL_MECHANISM_MODULE: ${path} does not export a mechanism: expected a default export { mechanism, authenticationProvider } or a createMechanism(options) function\n`,
    )
  })

  it('mechanism options that are not JSON: the error says where, never their text', { timeout: 15_000 }, async () => {
    const options = '{"secretAccessKey":s3cr3tVALUE}'
    const result = await run({ KAFKA_SASL_MECHANISM: 'AWS_MSK_IAM', KAFKA_SASL_MECHANISM_OPTIONS: options })
    expect(result).toMatchObject({ code: 2, stdout: '' })
    expect(result.stderr).toBe(
      `kafka-sidecar: invalid configuration KAFKA_SASL_MECHANISM_OPTIONS: expected a JSON object: the text (${options.length} characters) is not valid JSON; it is not repeated here, as it may hold credentials\n`,
    )
  })

  it('mechanism options that are JSON but not an object: named by kind, not quoted', { timeout: 15_000 }, async () => {
    const result = await run({ KAFKA_SASL_MECHANISM: 'AWS_MSK_IAM', KAFKA_SASL_MECHANISM_OPTIONS: '"s3cr3tVALUE"' })
    expect(result.stderr).toBe(
      'kafka-sidecar: invalid configuration KAFKA_SASL_MECHANISM_OPTIONS: expected a JSON object, got a string\n',
    )
  })

  it(
    'a mechanism module installed as an ESM-only package in the working directory is found',
    { timeout: 15_000 },
    async () => {
      const cwd = await tempDir()
      const dir = join(cwd, 'node_modules', 'esm-only-mechanism')
      await mkdir(dir, { recursive: true })
      await writeFile(
        join(dir, 'package.json'),
        JSON.stringify({ name: 'esm-only-mechanism', type: 'module', exports: { import: './index.js' } }),
      )
      await writeFile(join(dir, 'index.js'), 'export default { region: "eu-west-1" }\n')
      const result = await runProgram(cliPath, {
        env: { ...base, KAFKA_SASL_MECHANISM: 'AWS_MSK_IAM', KAFKA_SASL_MECHANISM_MODULE: 'esm-only-mechanism' },
        cwd,
        // tsx by its file, as the working directory cannot resolve it.
        node: ['--import', pathToFileURL(require.resolve('tsx')).href, '--conditions=@kafka-sidecar/source'],
        timeoutMs: 10_000,
      })
      // Loaded (so its content is judged): it exports no mechanism.
      expect(result.stderr).toBe(
        'kafka-sidecar: invalid configuration KAFKA_SASL_MECHANISM_MODULE: esm-only-mechanism does not export a mechanism: expected a default export { mechanism, authenticationProvider } or a createMechanism(options) function\n',
      )
    },
  )

  it('an unknown mechanism (flag)', { timeout: 15_000 }, async () => {
    const result = await run({}, ['--sasl-mechanism', 'GSSAPI'])
    expect(result).toMatchObject({ code: 2, stdout: '' })
    expect(result.stderr).toBe(
      'kafka-sidecar: invalid configuration --sasl-mechanism: unknown mechanism "GSSAPI": expected plain, scram-sha-256, scram-sha-512, oauthbearer, or a mechanism KAFKA_SASL_MECHANISM_MODULE provides\n',
    )
  })
})
