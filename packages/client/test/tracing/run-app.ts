import { execFile } from 'node:child_process'
import { packageDir } from '../built-package.js'

export type System = 'cjs' | 'esm'

/** OpenTelemetry's kafkajs instrumentation registered the way services do it, then the traced application. */
const APPS: Record<System, string[]> = {
  cjs: ['--require', './test/tracing/otel-register.cjs', './test/tracing/app.cjs'],
  esm: ['--import', './test/tracing/otel-register.mjs', './test/tracing/app.mjs'],
}

/** Runs the traced application (test/tracing/app.*, on the built package) with `env`: its last stdout line. */
export function runTracedApp(system: System, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      APPS[system],
      { cwd: packageDir, env: { ...process.env, ...env }, timeout: 30_000, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`${system} app failed: ${error.message}\n${stderr}`))
        resolve(stdout.trim().split('\n').at(-1)!)
      },
    )
  })
}
