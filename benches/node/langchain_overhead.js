'use strict'
// What instrumentation adds to a LangChain.js chat-model call: a fake chat model's `invoke`
// (`FakeListChatModel` from @langchain/core/utils/testing: a system and a user message in, a
// sentence out), uninstrumented, with fivelens, and with OpenInference's LangChain.js
// instrumentation (@arizeai/openinference-instrumentation-langchain on an OpenTelemetry SDK
// `BasicTracerProvider` + `BatchSpanProcessor` + an exporter that counts and drops), content
// capture on for both (their defaults). For scale: a callback handler that does nothing, added the
// same way (LangChain's own cost of dispatching callbacks to one handler).
//
// Each side runs in its own process (the instrumentations patch LangChain for good); the sides
// alternate, pass after pass, so that drift of the machine falls on all alike. A process makes
// `--rounds` rounds of `--invokes` sequential invokes after a warm-up; per round: the wall time of
// an invoke as the caller sees it, and the process CPU per invoke (all threads) up to the end of
// a flush after the round. Overhead = the side's median minus the uninstrumented median of the
// same pass; reported: the median over passes. Every side checks it made one span per invoke.
//
// Usage: node langchain_overhead.js [--passes 5] [--rounds 5] [--invokes 2000] [--json OUT]
// (resolves fivelens, LangChain and OpenInference from bindings-node/node_modules)

const { spawnSync } = require('node:child_process')
const path = require('node:path')
const fs = require('node:fs')

const PKG = path.resolve(__dirname, '..', '..', 'bindings-node')
const args = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : dflt
}
const PASSES = Number(opt('--passes', 5))
const ROUNDS = Number(opt('--rounds', 5))
const INVOKES = Number(opt('--invokes', 2000))

const CHILD = `
const [mode, nArg, roundsArg] = process.argv.slice(-3)
const n = Number(nArg)
const rounds = Number(roundsArg)
let flush = async () => {}
let spans = () => 0
let dropped = () => 0
if (mode === 'fivelens') {
  const fivelens = require(process.env.FIVELENS_PKG)
  const report = fivelens.instrument({ store: 'off' })
  if (!report.enabled.includes('langchain')) throw new Error('langchain not enabled: ' + JSON.stringify(report))
  flush = () => fivelens.flush(30000)
  spans = () => fivelens.status().spans.ended
  dropped = () => fivelens.status().spans.dropped_total
} else if (mode === 'openinference') {
  const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base')
  const { LangChainInstrumentation } = require('@arizeai/openinference-instrumentation-langchain')
  let count = 0
  const exporter = { export(s, cb) { count += s.length; cb({ code: 0 }) }, shutdown: async () => {}, forceFlush: async () => {} }
  const processor = new BatchSpanProcessor(exporter, { maxQueueSize: 1 << 20, maxExportBatchSize: 512 })
  const provider = new BasicTracerProvider({ spanProcessors: [processor] })
  new LangChainInstrumentation({ tracerProvider: provider }).manuallyInstrument(require('@langchain/core/callbacks/manager'))
  flush = async () => { await require('@langchain/core/callbacks/promises').awaitAllCallbacks(); await processor.forceFlush() }
  spans = () => count
} else if (mode === 'noop') {
  const { CallbackManager } = require('@langchain/core/callbacks/manager')
  const { BaseCallbackHandler } = require('@langchain/core/callbacks/base')
  class Noop extends BaseCallbackHandler { name = 'noop'; handleChatModelStart() {}; handleLLMEnd() {} }
  const handler = new Noop()
  const original = CallbackManager._configureSync
  CallbackManager._configureSync = function (...a) {
    if (a[0] === undefined) a[0] = [handler]
    else if (Array.isArray(a[0]) && !a[0].includes(handler)) a[0] = [...a[0], handler]
    return original.apply(this, a)
  }
  flush = () => require('@langchain/core/callbacks/promises').awaitAllCallbacks()
}
const { FakeListChatModel } = require('@langchain/core/utils/testing')
const { HumanMessage, SystemMessage } = require('@langchain/core/messages')
const model = new FakeListChatModel({ responses: ['The capital of France is Paris.'] })
const input = [new SystemMessage('You are terse.'), new HumanMessage('What is the capital of France?')]
;(async () => {
  for (let i = 0; i < 500; i++) await model.invoke(input)
  await flush()
  const s0 = spans()
  const wall = [], cpu = []
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) await model.invoke(input)
    const t1 = process.hrtime.bigint()
    await flush()
    const c = process.cpuUsage(c0)
    wall.push(Number(t1 - t0) / n / 1000)
    cpu.push((c.user + c.system) / n)
  }
  console.log(JSON.stringify({ wall, cpu, spansPerInvoke: (spans() - s0) / (n * rounds), dropped: dropped() }))
})()
`

function child(mode) {
  const out = spawnSync(process.execPath, ['-e', CHILD, mode, String(INVOKES), String(ROUNDS)], {
    encoding: 'utf8',
    cwd: PKG,
    env: { ...process.env, NODE_PATH: path.join(PKG, 'node_modules'), FIVELENS_PKG: PKG, FIVELENS_HOME: fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'fl-bench-')) },
  })
  if (out.status !== 0) throw new Error(`${mode} failed: ${out.stderr}`)
  const lines = out.stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1])
}

const median = (a) => {
  const s = [...a].sort((x, y) => x - y)
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

function main() {
  const modes = ['baseline', 'fivelens', 'openinference', 'noop']
  const perPass = Object.fromEntries(modes.map((m) => [m, { wall: [], cpu: [], spans: [] }]))
  for (let pass = 0; pass < PASSES; pass++) {
    // Rotate the order each pass.
    const order = modes.map((_, i) => modes[(i + pass) % modes.length])
    for (const m of order) {
      const r = child(m)
      perPass[m].wall.push(median(r.wall))
      perPass[m].cpu.push(median(r.cpu))
      perPass[m].spans.push(r.spansPerInvoke)
      if (r.dropped) console.log(`WARNING: ${m} dropped ${r.dropped} spans in pass ${pass}`)
    }
  }
  const overhead = (m, key) => median(perPass[m][key].map((v, i) => v - perPass.baseline[key][i]))
  const result = {
    node: process.version,
    passes: PASSES,
    rounds: ROUNDS,
    invokes: INVOKES,
    baseline: { wall_us: median(perPass.baseline.wall), cpu_us: median(perPass.baseline.cpu) },
  }
  for (const m of ['fivelens', 'openinference', 'noop']) {
    result[m] = { wall_us: overhead(m, 'wall'), cpu_us: overhead(m, 'cpu'), spans_per_invoke: median(perPass[m].spans) }
  }
  result.ratio = { wall: result.fivelens.wall_us / result.openinference.wall_us, cpu: result.fivelens.cpu_us / result.openinference.cpu_us }
  console.log(`Node ${process.version}: FakeListChatModel.invoke (system + user message), ${PASSES} passes x ${ROUNDS} rounds x ${INVOKES} invokes, paired medians`)
  console.log(`uninstrumented invoke: ${result.baseline.wall_us.toFixed(1)} us caller, ${result.baseline.cpu_us.toFixed(1)} us CPU`)
  console.log(`${'side'.padEnd(44)} ${'caller +us'.padStart(11)} ${'CPU +us'.padStart(9)} ${'spans/invoke'.padStart(13)}`)
  const labels = { fivelens: 'fivelens (content on)', openinference: 'OpenInference LangChain.js (content on)', noop: 'a do-nothing callback handler' }
  for (const m of ['fivelens', 'openinference', 'noop']) {
    console.log(`${labels[m].padEnd(44)} ${result[m].wall_us.toFixed(1).padStart(11)} ${result[m].cpu_us.toFixed(1).padStart(9)} ${result[m].spans_per_invoke.toFixed(2).padStart(13)}`)
  }
  console.log(`fivelens / OpenInference: ${result.ratio.wall.toFixed(3)} (caller), ${result.ratio.cpu.toFixed(3)} (CPU); target <= 0.25`)
  for (const m of ['fivelens', 'openinference']) if (Math.abs(result[m].spans_per_invoke - 1) > 0.01) console.log(`WARNING: ${m} made ${result[m].spans_per_invoke} spans an invoke`)
  const out = opt('--json')
  if (out) fs.writeFileSync(out, JSON.stringify(result, null, 2))
}

main()
