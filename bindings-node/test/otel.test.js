'use strict'
// Correlation with the app's OpenTelemetry (@opentelemetry/api). Each case runs in a fresh
// process: the API's globals can be registered once per process.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { runNode, startReceiver, byName, tempDir, PKG } = require('./helpers')

const REQ = JSON.stringify(PKG)

function run(code, env) {
  const out = runNode(code, { env })
  assert.equal(out.status, 0, out.stderr + out.stdout)
  assert.doesNotMatch(out.stderr, /duplicate registration/i)
  const lines = out.stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1])
}

test('(a) no provider: OTel spans inside fivelens traces are recorded; an app provider registered later wins', () => {
  const out = run(`
    const f = require(${REQ})
    const api = require('@opentelemetry/api')
    f.instrument({ store: 'off', testing: true, scheduleDelayMs: 10 })
    const tracer = api.trace.getTracer('some.library')
    const r = {}
    f.withContext({ sessionId: 's-otel' }, () => f.withSpan('ours', (ours) => {
      r.ours = ours.spanId
      r.traceparent = ours.traceparent
      api.trace.getActiveSpan().setAttribute('set.via.otel', 1)
      const carrier = {}
      api.propagation.inject(api.context.active(), carrier)
      r.carrier = carrier
      tracer.startActiveSpan('otel-child', { attributes: { 'lib.attr': 'x' } }, (oc) => {
        f.withSpan('ours-under-otel', () => {})
        oc.end()
      })
    }))
    tracer.startActiveSpan('otel-outside', (s) => { r.outsideRecording = s.isRecording(); s.end() })
    const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base')
    const exporter = new InMemorySpanExporter()
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter), f.spanProcessor()] })
    r.accepted = api.trace.setGlobalTracerProvider(provider)
    f.withSpan('ours-2', (o2) => {
      r.ours2 = o2.spanId
      api.trace.getTracer('app').startActiveSpan('app-child', (s) => s.end())
    })
    f.flush().then(() => {
      r.appExported = exporter.getFinishedSpans().map((s) => s.name)
      r.spans = f.testing.finishedSpans()
      console.log(JSON.stringify(r))
    })
  `)
  const spans = byName(out.spans)
  assert.equal(out.carrier.traceparent, out.traceparent, "OTel propagators inject fivelens's traceparent")
  assert.deepEqual(Object.keys(spans).sort(), ['app-child', 'otel-child', 'ours', 'ours-2', 'ours-under-otel'])
  assert.equal(out.outsideRecording, false)
  assert.equal(spans.ours.attributes['set.via.otel'], 1)
  assert.equal(spans['otel-child'].parentSpanId, out.ours)
  assert.equal(spans['otel-child'].scope, 'some.library')
  assert.equal(spans['otel-child'].attributes['lib.attr'], 'x')
  assert.equal(spans['otel-child'].attributes['session.id'], 's-otel')
  assert.equal(spans['ours-under-otel'].parentSpanId, spans['otel-child'].spanId)
  assert.equal(out.accepted, true)
  assert.deepEqual(out.appExported, ['app-child'])
  assert.equal(spans['app-child'].parentSpanId, out.ours2)
  assert.equal(spans['app-child'].storeOnly, true)
})

test('(b)+(c) app SDK provider and context manager first: its SERVER span parents ours, nothing is exported twice', async () => {
  const rx = await startReceiver()
  try {
    const out = run(
      `
      const api = require('@opentelemetry/api')
      const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks')
      const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base')
      const f = require(${REQ})
      const manager = new AsyncLocalStorageContextManager().enable()
      api.context.setGlobalContextManager(manager)
      const exporter = new InMemorySpanExporter()
      const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter), f.spanProcessor()] })
      api.trace.setGlobalTracerProvider(provider)
      f.instrument({ store: 'on', scheduleDelayMs: 10, testing: true })
      const r = { sameManager: api.context._getContextManager() === manager }
      const tracer = api.trace.getTracer('web.framework')
      tracer.startActiveSpan('GET /ask', { kind: api.SpanKind.SERVER }, async (server) => {
        r.server = server.spanContext()
        await f.withSpan('ours', async (ours) => {
          r.ours = ours.spanId
          r.oursTrace = ours.traceId
          await new Promise((res) => setTimeout(res, 2))
          tracer.startActiveSpan('their-child', (c) => c.end())
        })
        server.end()
        tracer.startActiveSpan('unrelated', (u) => u.end())
        await f.flush()
        r.appExported = exporter.getFinishedSpans().map((s) => s.name).sort()
        r.recorded = f.testing.finishedSpans().map((s) => [s.name, s.attributes['fivelens.otel.foreign'] === true])
        console.log(JSON.stringify(r))
      })
    `,
      { OTEL_EXPORTER_OTLP_ENDPOINT: rx.endpoint, FIVELENS_STORE: 'on' },
    )
    assert.equal(out.sameManager, true, 'fivelens uses the app context manager instead of a second store')
    assert.equal(out.oursTrace, out.server.traceId, "the app's SERVER span is the parent")
    const exported = byName(await rx.waitFor(1))
    assert.deepEqual(Object.keys(exported), ['ours'], 'spans of the app provider are never exported twice')
    assert.equal(exported.ours.parent_span_id, out.server.spanId)
    assert.deepEqual(out.appExported, ['GET /ask', 'their-child', 'unrelated'])
    // The app's span inside a fivelens trace is recorded (store only), marked as foreign.
    assert.deepEqual(out.recorded.sort(), [['ours', false], ['their-child', true]])
  } finally {
    await rx.stop()
  }
})

test('(c) no context manager: fivelens registers one and the W3C propagator, and steps aside for the app', () => {
  const out = run(`
    const api = require('@opentelemetry/api')
    const f = require(${REQ})
    f.instrument({ store: 'off', testing: true })
    const r = { ours: api.context._getContextManager().constructor.name, prop: api.propagation._getGlobalPropagator().constructor.name }
    const ctx = api.propagation.extract(api.ROOT_CONTEXT, { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' })
    api.context.with(ctx, () => f.withSpan('from-otel-context', (s) => { r.trace = s.traceId }))
    const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks')
    r.replaced = api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
    f.withSpan('after-switch', (a) => f.withSpan('nested', (n) => { r.nestedOk = api.trace.getActiveSpan() === n }))
    console.log(JSON.stringify(r))
  `)
  assert.equal(out.ours, 'FivelensContextManager')
  assert.equal(out.prop, 'FivelensPropagator')
  assert.equal(out.trace, '4bf92f3577b34da6a3ce929d0e0e4736')
  assert.equal(out.replaced, true)
  assert.equal(out.nestedOk, true)
})

test('ESM and CommonJS share one state', () => {
  const out = runNode(
    `import fivelens, { withSpan, instrument, testing } from ${JSON.stringify(PKG + '/index.mjs')}
     import { createRequire } from 'node:module'
     const cjs = createRequire(import.meta.url)(${REQ})
     instrument({ store: 'off', testing: true, integrations: [] })
     withSpan('esm-root', () => cjs.withSpan('cjs-child', () => {}))
     await cjs.flush()
     const spans = Object.fromEntries(testing.finishedSpans().map((s) => [s.name, s]))
     console.log(JSON.stringify({ same: fivelens === cjs, ok: spans['cjs-child'].parentSpanId === spans['esm-root'].spanId }))`,
    { ext: '.mjs' },
  )
  assert.equal(out.status, 0, out.stderr)
  assert.deepEqual(JSON.parse(out.stdout.trim()), { same: true, ok: true })
})

test('without the native addon the package is a no-op with one warning', () => {
  const fs = require('node:fs')
  const path = require('node:path')
  const copy = tempDir('fivelens-nonative-')
  for (const f of ['index.js', 'package.json']) fs.copyFileSync(path.join(PKG, f), path.join(copy, f))
  fs.cpSync(path.join(PKG, 'lib'), path.join(copy, 'lib'), { recursive: true })
  const out = runNode(
    `const f = require(${JSON.stringify(copy)})
     const report = f.instrument()
     const v = f.withSpan('x', { a: 1 }, () => 7)
     f.flush().then((ok) => console.log(JSON.stringify({ recording: report.recording, v, ok })))`,
  )
  assert.equal(out.status, 0, out.stderr)
  assert.deepEqual(JSON.parse(out.stdout.trim()), { recording: false, v: 7, ok: true })
  assert.equal(out.stderr.match(/native addon could not be loaded/g).length, 1)
})
