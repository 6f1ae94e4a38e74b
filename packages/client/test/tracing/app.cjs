// A CommonJS application: loads MODULE (kafkajs or @kafka-sidecar/client) with require, and
// runs PROGRAM (a file in this directory; program.cjs unless set).
const { run } = require(`./${process.env.PROGRAM ?? 'program.cjs'}`)

run(require(process.env.MODULE), { brokers: process.env.BROKERS.split(','), topic: process.env.TOPIC }).then(
  (result) => console.log(JSON.stringify(result)),
  (error) => {
    console.error(error)
    process.exitCode = 1
  },
)
