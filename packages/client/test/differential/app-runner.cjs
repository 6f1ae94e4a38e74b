'use strict'
/**
 * A CommonJS application: requires the module under test (`kafkajs` or `@kafka-sidecar/client`,
 * named by DIFF_MODULE) the way an application does, and runs the corpus on it.
 */
const { runPrograms } = require('./run-programs.cjs')

runPrograms(require(process.env.DIFF_MODULE))
