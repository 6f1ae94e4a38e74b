/**
 * An ESM application: imports the module under test (`kafkajs` or `@kafka-sidecar/client`, named
 * by DIFF_MODULE) the way an application does (KafkaJS is CommonJS, so ESM applications take its
 * default export, `import kafkajs from 'kafkajs'`), and runs the corpus on it.
 */
import { runPrograms } from './run-programs.cjs'

const imported = await import(process.env.DIFF_MODULE)
await runPrograms(imported.default)
