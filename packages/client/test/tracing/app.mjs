// An ESM application: loads MODULE (kafkajs or @kafka-sidecar/client) with import, and runs
// PROGRAM (a file in this directory; program.cjs unless set).
const { default: program } = await import(`./${process.env.PROGRAM ?? 'program.cjs'}`)

const mod = await import(process.env.MODULE)
const result = await program.run(mod.default?.Kafka ? mod.default : mod, {
  brokers: process.env.BROKERS.split(','),
  topic: process.env.TOPIC,
})
console.log(JSON.stringify(result))
