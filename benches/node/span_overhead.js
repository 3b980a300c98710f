'use strict'
// One span from Node (start, 8 attributes, end): fivelens against the OpenTelemetry JS SDK
// (@opentelemetry/sdk-trace-base, BatchSpanProcessor, an exporter that drops and counts), run in
// this process tree, in the same run, alternating. Also: what AsyncLocalStorage costs an app's
// own awaits when they run inside a span.
//
// Usage: node span_overhead.js [--rounds 7] [--spans 200000] [--json OUT]
// (resolves fivelens and the OTel packages from bindings-node/node_modules)

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
const SPANS = Number(opt('--spans', 200000))

const CHILD = `
// With \`node -e\`, the arguments follow the interpreter directly.
const [mode, nArg, roundsArg] = process.argv.slice(-3)
const n = Number(nArg)
const rounds = Number(roundsArg)
const ATTRS = { a: 'x', b: 'y', c: 1, d: 2, e: true, f: 1.5, g: 'z', h: 'w' }
let run, flush, dropped
if (mode.startsWith('otel')) {
  const api = require('@opentelemetry/api')
  const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks')
  const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base')
  let count = 0
  const exporter = { export(spans, cb) { count += spans.length; cb({ code: 0 }) }, shutdown: async () => {}, forceFlush: async () => {} }
  const processor = new BatchSpanProcessor(exporter, { maxQueueSize: 1 << 20, maxExportBatchSize: 512 })
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  api.trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [processor] }))
  const tracer = api.trace.getTracer('bench')
  const end = (s) => s.end()
  run = mode === 'otel-active'
    ? (k) => { for (let i = 0; i < k; i++) tracer.startActiveSpan('op', { attributes: ATTRS }, end) }
    : (k) => { for (let i = 0; i < k; i++) tracer.startSpan('op', { attributes: ATTRS }).end() }
  flush = () => processor.forceFlush()
  dropped = (total) => total - count
} else {
  const fivelens = require(process.env.FIVELENS_PKG)
  fivelens.instrument({ store: 'off', integrations: mode === 'fivelens-otel' ? undefined : [] })
  const noop = () => {}
  run = mode === 'fivelens-start'
    ? (k) => { for (let i = 0; i < k; i++) fivelens.startSpan('op', { attributes: ATTRS }).end() }
    : (k) => { for (let i = 0; i < k; i++) fivelens.withSpan('op', ATTRS, noop) }
  flush = () => fivelens.flush(30000)
  dropped = () => fivelens.status().spans.dropped_total
}
;(async () => {
  run(50000)
  await flush()
  const wall = [], cpu = []
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    run(n)
    const t1 = process.hrtime.bigint()
    await flush()
    const c = process.cpuUsage(c0)
    wall.push(Number(t1 - t0) / n / 1000)
    cpu.push((c.user + c.system) / n)
  }
  console.log(JSON.stringify({ wall, cpu, dropped: dropped(50000 + n * rounds) }))
})()
`

const AWAITS = `
const mode = process.argv[process.argv.length - 1]
const N = 1000000
async function loop() { for (let i = 0; i < N; i++) await null }
async function timed(fn) { const t = process.hrtime.bigint(); await fn(); return Number(process.hrtime.bigint() - t) / 1e6 }
;(async () => {
  const fivelens = require(process.env.FIVELENS_PKG)
  fivelens.instrument({ store: 'off', integrations: mode === 'otel' ? undefined : [] })
  await timed(loop)
  const outside = [], inside = []
  for (let r = 0; r < 5; r++) {
    outside.push(await timed(loop))
    inside.push(await timed(() => fivelens.withSpan('outer', () => loop())))
  }
  const med = (a) => a.sort((x, y) => x - y)[a.length >> 1]
  console.log(JSON.stringify({ outside: med(outside), inside: med(inside) }))
})()
`

function child(code, argv) {
  const out = spawnSync(process.execPath, ['-e', code, ...argv], {
    encoding: 'utf8',
    cwd: PKG,
    env: { ...process.env, NODE_PATH: path.join(PKG, 'node_modules'), FIVELENS_PKG: PKG },
  })
  if (out.status !== 0) throw new Error(`${argv[0]} failed: ${out.stderr}`)
  const lines = out.stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1])
}

const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1]

function main() {
  {
    const modes = ['otel-active', 'fivelens', 'fivelens-otel', 'otel-span', 'fivelens-start']
    const samples = Object.fromEntries(modes.map((m) => [m, { wall: [], cpu: [], dropped: 0 }]))
    for (let pass = 0; pass < 3; pass++) {
      for (const m of modes) {
        const r = child(CHILD, [m, String(SPANS), String(ROUNDS)])
        samples[m].wall.push(...r.wall)
        samples[m].cpu.push(...r.cpu)
        samples[m].dropped = Math.max(samples[m].dropped, r.dropped)
      }
    }
    const s = Object.fromEntries(modes.map((m) => [m, { wall_us: median(samples[m].wall), cpu_us: median(samples[m].cpu), dropped: samples[m].dropped }]))
    const labels = {
      'otel-active': 'OTel SDK startActiveSpan (ALS ctx mgr)',
      fivelens: 'fivelens withSpan (AsyncLocalStorage)',
      'fivelens-otel': 'fivelens withSpan (OTel bridge)',
      'otel-span': 'OTel SDK startSpan + end',
      'fivelens-start': 'fivelens startSpan + end',
    }
    const base = { 'otel-active': 'otel-active', fivelens: 'otel-active', 'fivelens-otel': 'otel-active', 'otel-span': 'otel-span', 'fivelens-start': 'otel-span' }
    console.log(`Node ${process.version}: one span, start + 8 attributes + end (${SPANS.toLocaleString()} spans x ${ROUNDS} rounds x 3 passes)`)
    console.log(`${'side'.padEnd(40)} ${'caller us'.padStart(10)} ${'CPU us'.padStart(8)} ${'vs OTel'.padStart(8)} ${'dropped'.padStart(8)}`)
    for (const m of modes) {
      const ratio = s[m].wall_us / s[base[m]].wall_us
      console.log(`${labels[m].padEnd(40)} ${s[m].wall_us.toFixed(2).padStart(10)} ${s[m].cpu_us.toFixed(2).padStart(8)} ${(ratio.toFixed(3) + 'x').padStart(8)} ${String(s[m].dropped).padStart(8)}`)
    }
    const awaitsAls = child(AWAITS, ['als'])
    const awaitsOtel = child(AWAITS, ['otel'])
    console.log(`1,000,000 awaits of the app: ${awaitsAls.outside.toFixed(0)} ms outside any span; inside a fivelens span ${awaitsAls.inside.toFixed(0)} ms (AsyncLocalStorage), ${awaitsOtel.inside.toFixed(0)} ms (OTel context manager)`)
    const out = opt('--json')
    if (out) fs.writeFileSync(out, JSON.stringify({ node_span: s, awaits: { als: awaitsAls, otel: awaitsOtel } }, null, 2))
  }
}

main()
