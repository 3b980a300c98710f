'use strict'
// Export from Node to the loopback OTLP receiver and to the local store (read back with the
// `fivelens` command); configuration through the standard OTEL_* variables; bounded exit.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { startReceiver, byName, runNode, freePort, PKG } = require('./helpers')

const REQ = JSON.stringify(PKG)

test('OTLP/HTTP export keeps parents, resource and headers; flushed at exit without a call', async () => {
  const rx = await startReceiver()
  try {
    const out = runNode(
      `const f = require(${REQ})
       f.instrument({ serviceName: 'node-export', otlpHeaders: { authorization: 'Bearer t0ken' } })
       f.withSpan('root', (root) => f.withSpan('child', { model: 'm1' }, { kind: 'client' }, () => {}))
       // no flush: beforeExit / exit deliver it`,
      { env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.endpoint } },
    )
    assert.equal(out.status, 0, out.stderr)
    const spans = byName(await rx.waitFor(2))
    assert.equal(spans.child.parent_span_id, spans.root.span_id)
    assert.equal(spans.child.trace_id, spans.root.trace_id)
    assert.equal(spans.child.kind, 3)
    assert.equal(spans.child.attributes.model, 'm1')
    assert.equal(spans.root.resource['service.name'], 'node-export')
    assert.equal(spans.root.resource['telemetry.sdk.language'], 'nodejs')
    assert.equal(spans.root.resource['process.runtime.name'], 'nodejs')
    assert.equal((await rx.headers()).authorization, 'Bearer t0ken')
  } finally {
    await rx.stop()
  }
})

test('standard environment variables configure export (gzip, headers, resource)', async () => {
  const rx = await startReceiver()
  try {
    const out = runNode(`const f = require(${REQ}); f.instrument(); f.withSpan('from-env', () => {})`, {
      env: {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: rx.endpoint + '/v1/traces',
        OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=acme%20corp',
        OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
        OTEL_SERVICE_NAME: 'env-service',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test',
      },
    })
    assert.equal(out.status, 0, out.stderr)
    const spans = await rx.waitFor(1)
    assert.deepEqual(spans.map((s) => s.name), ['from-env'])
    assert.equal(spans[0].resource['service.name'], 'env-service')
    assert.equal(spans[0].resource['deployment.environment'], 'test')
    const h = await rx.headers()
    assert.equal(h['x-tenant'], 'acme corp')
    assert.equal(h['content-encoding'], 'gzip')
  } finally {
    await rx.stop()
  }
})

test('gRPC export', async () => {
  const rx = await startReceiver({ grpc: true })
  try {
    const out = runNode(
      `const f = require(${REQ}); f.instrument({ otlpEndpoint: ${JSON.stringify(rx.grpcEndpoint)}, otlpProtocol: 'grpc' })
       f.withSpan('root', () => f.withSpan('child', () => {}))
       f.flush().then((ok) => { if (!ok) process.exitCode = 3 })`,
    )
    assert.equal(out.status, 0, out.stderr)
    const spans = byName(await rx.waitFor(2))
    assert.equal(spans.child.parent_span_id, spans.root.span_id)
    assert.equal(spans.child.transport, 'grpc')
  } finally {
    await rx.stop()
  }
})

test('the local store by default, and the fivelens command reads it', () => {
  const out = runNode(
    `const f = require(${REQ})
     f.instrument()
     f.withContext({ sessionId: 'cli-session' }, () =>
       f.withSpan('agent.run', (root) => {
         console.log(root.traceId)
         f.withSpan('chat gpt-4o', { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai',
           'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 120, 'gen_ai.usage.output_tokens': 30 },
           { kind: 'client' }, () => {})
         try { f.withSpan('execute_tool search', () => { throw new Error('tool timed out') }) } catch {}
       }))`,
  )
  assert.equal(out.status, 0, out.stderr)
  const traceId = out.stdout.trim()
  const db = path.join(out.dir, 'home', 'fivelens.db')
  assert.equal(fs.statSync(db).mode & 0o777, 0o600)
  assert.equal(fs.statSync(path.dirname(db)).mode & 0o777, 0o700)
  const cli = (...args) => {
    const r = spawnSync(process.execPath, [path.join(PKG, 'bin', 'fivelens.js'), ...args, '--db', db], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    return r.stdout
  }
  const listing = JSON.parse(cli('traces', '--json'))
  assert.equal(listing.traces.length, 1)
  const t = listing.traces[0]
  assert.equal(t.trace_id, traceId)
  assert.equal(t.root_name, 'agent.run')
  assert.equal(t.span_count, 3)
  assert.equal(t.status, 'ERROR')
  assert.equal(t.session_id, 'cli-session')
  const tree = cli('show', traceId.slice(0, 8))
  assert.match(tree, /[├└]─ chat gpt-4o/)
  assert.match(tree, /tokens 120\/30/)
  assert.match(tree, /ERROR Error: tool timed out/)
  const stats = JSON.parse(cli('stats', '--json'))
  assert.equal(stats.models[0].model, 'gpt-4o')
  assert.equal(stats.models[0].calls, 1)
})

test('collector down: spans never block, flush and exit are bounded', async () => {
  const port = await freePort()
  const started = Date.now()
  const out = runNode(
    `const f = require(${REQ})
     f.instrument({ exitTimeoutMs: 1000 })
     const t0 = Date.now()
     for (let i = 0; i < 5000; i++) f.withSpan('down', { i }, () => {})
     const spent = Date.now() - t0
     const t1 = Date.now()
     f.flush(500).then((ok) => console.log(JSON.stringify({ ok, spent, flush: Date.now() - t1 })))`,
    { env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` } },
  )
  const took = Date.now() - started
  assert.equal(out.status, 0, out.stderr)
  const r = JSON.parse(out.stdout.trim())
  assert.equal(r.ok, false)
  assert.ok(r.spent < 2000, `5,000 spans took ${r.spent} ms`)
  assert.ok(r.flush < 2000, `flush took ${r.flush} ms`)
  assert.ok(took < 10000, `the whole run took ${took} ms`)
})
