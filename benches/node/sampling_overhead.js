'use strict'
// What a span costs the caller when its trace is dropped by head sampling, against a recorded
// one (issue 7: at most a third). Each case in its own process: a root span with 100 child spans
// of 8 attributes each, store off and no endpoint; `recorded` keeps every trace, `head-dropped`
// decides every trace out when it starts (`samplingMode: 'head'`, `sampling: ['baseline:0']`),
// `tail-dropped` builds and hands over every span and drops the traces on the processing thread.
//
// Usage: node sampling_overhead.js [--rounds 7] [--traces 2000] [--json OUT]

const { spawnSync } = require('node:child_process')
const path = require('node:path')
const fs = require('node:fs')

const PKG = path.resolve(__dirname, '..', '..', 'bindings-node')
const args = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : dflt
}
const ROUNDS = Number(opt('--rounds', 7))
const TRACES = Number(opt('--traces', 2000))

const CHILD = `
const [mode, tracesArg, roundsArg] = process.argv.slice(-3)
const traces = Number(tracesArg)
const rounds = Number(roundsArg)
const f = require(${JSON.stringify(PKG)})
const options = {
  recorded: {},
  'head-dropped': { samplingMode: 'head', sampling: ['baseline:0'] },
  'tail-dropped': { sampling: ['errors', 'baseline:0'] },
}[mode]
f.instrument({ store: 'off', queueSize: 1 << 18, ...options })
const ATTRS = { a: 'x', b: 'y', c: 1, d: 2, e: true, f: 1.5, g: 'z', h: 'w' }
const CHILDREN = 100
const run = (k) => {
  for (let i = 0; i < k; i++) {
    f.withSpan('request', () => {
      for (let j = 0; j < CHILDREN; j++) f.withSpan('op', ATTRS, () => {})
    })
  }
}
;(async () => {
  run(200)
  await f.flush(30000)
  const walls = []
  const cpus = []
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    run(traces)
    const t1 = process.hrtime.bigint()
    await f.flush(60000)
    const c1 = process.cpuUsage(c0)
    const n = traces * (CHILDREN + 1)
    walls.push(Number(t1 - t0) / n)
    cpus.push(((c1.user + c1.system) * 1000) / n)
  }
  const st = f.status()
  console.log(JSON.stringify({ walls, cpus, dropped: st.spans.dropped_total, sampling: st.sampling }))
})()
`

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

const results = []
for (const mode of ['recorded', 'head-dropped', 'tail-dropped']) {
  const out = spawnSync(process.execPath, ['-e', CHILD, mode, String(TRACES), String(ROUNDS)], { encoding: 'utf8', cwd: PKG })
  if (out.status !== 0) throw new Error(`${mode}: ${out.stderr}`)
  const data = JSON.parse(out.stdout.trim().split('\n').pop())
  results.push({ case: mode, wall_ns_per_span: median(data.walls), cpu_ns_per_span: median(data.cpus), queue_drops: data.dropped, sampling: data.sampling })
}
const base = results[0].wall_ns_per_span
console.log(`${'case'.padEnd(14)} ${'caller ns/span'.padStart(15)} ${'CPU ns/span'.padStart(12)} ${'caller ratio'.padStart(13)}`)
for (const r of results) {
  r.caller_ratio_to_recorded = r.wall_ns_per_span / base
  console.log(`${r.case.padEnd(14)} ${r.wall_ns_per_span.toFixed(0).padStart(15)} ${r.cpu_ns_per_span.toFixed(0).padStart(12)} ${r.caller_ratio_to_recorded.toFixed(2).padStart(13)}`)
}
const json = opt('--json')
if (json) fs.writeFileSync(json, JSON.stringify(results, null, 2))
