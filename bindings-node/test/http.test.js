'use strict'
// HTTP hops: fetch, http.get / http.request carry the active span's trace; http servers and
// Express continue the caller's trace with a SERVER span; a Node service calling a Python FastAPI
// service inside an agent run makes one trace; with the app's own OpenTelemetry HTTP
// instrumentation, one traceparent per request. Real servers on 127.0.0.1, spans asserted at the
// OTLP receiver.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const path = require('node:path')
const readline = require('node:readline')
const { spawn } = require('node:child_process')
const { startReceiver, startFakeLlm, runNode, tempDir, REPO } = require('./helpers')
const fivelens = require('..')

const SERVER = 2
const CLIENT = 3
const ERROR = 2

/** @type {any} */
let receiver

before(async () => {
  process.env.FIVELENS_USER_HASH_KEY = 'node-test-key'
  receiver = await startReceiver()
  fivelens.instrument({ otlpEndpoint: receiver.endpoint, store: 'off', scheduleDelayMs: 10, serviceName: 'node-http' })
})
after(async () => {
  await fivelens.shutdown(2000)
  await receiver.stop()
})

/** Spans at the receiver once there are at least `n` (then the list is cleared). */
async function exported(n) {
  assert.equal(await fivelens.flush(5000), true)
  const spans = await receiver.waitFor(n)
  assert.ok(spans.length >= n, JSON.stringify(spans.map((s) => s.name)))
  await http_delete(receiver.endpoint + '/spans')
  return spans
}

/** DELETE through the original http.request (outside any span: nothing is added anyway). */
function http_delete(url) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'DELETE' }, (res) => {
      res.resume()
      res.on('end', resolve)
    })
    req.on('error', reject)
    req.end()
  })
}

/** A server recording the propagation headers of each request (every value). */
async function headerServer(handler) {
  /** @type {Record<string, string[]>[]} */
  const seen = []
  const server = http.createServer((req, res) => {
    /** @type {Record<string, string[]>} */
    const h = { traceparent: [], tracestate: [], baggage: [], 'fivelens-context': [] }
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const k = req.rawHeaders[i].toLowerCase()
      if (k in h) h[k].push(req.rawHeaders[i + 1])
    }
    seen.push(h)
    if (handler) return handler(req, res)
    fivelens.withSpan('handler', { path: req.url }, () => {})
    res.writeHead(req.url.startsWith('/fail') ? 503 : 200, { 'content-type': 'text/plain' })
    res.end('ok')
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  return { base: `http://127.0.0.1:${server.address().port}`, seen, close: () => new Promise((r) => server.close(r)) }
}

function get(url, headers = {}) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode))
      })
      .on('error', reject)
  })
}

const byId = (spans) => Object.fromEntries(spans.map((s) => [s.span_id, s]))

test('fetch, http.get and http.request carry the trace to an http server, with the scope', async () => {
  const srv = await headerServer()
  let agent
  await fivelens.withContext({ sessionId: 'sess-node', userId: 'ann' }, () =>
    fivelens.withSpan('agent', async (span) => {
      agent = span
      assert.equal((await fetch(`${srv.base}/fetch?api_key=s3cret`)).status, 200)
      assert.equal(await get(`${srv.base}/get`), 200)
      await new Promise((resolve, reject) => {
        const req = http.request(`${srv.base}/request`, { method: 'POST' }, (res) => {
          res.resume()
          res.on('end', resolve)
        })
        req.on('error', reject)
        req.end('body')
      })
      assert.equal((await fetch(`${srv.base}/fail`)).status, 503)
    }),
  )
  const spans = await exported(1 + 4 * 3)
  await srv.close()
  const ids = byId(spans)
  const clients = spans.filter((s) => s.kind === CLIENT)
  assert.equal(clients.length, 4)
  for (const c of clients) {
    assert.equal(c.parent_span_id, agent.spanContext().spanId)
    assert.equal(c.trace_id, agent.spanContext().traceId)
    assert.equal(c.attributes['server.address'], '127.0.0.1')
    const servers = spans.filter((s) => s.kind === SERVER && s.parent_span_id === c.span_id)
    assert.equal(servers.length, 1, c.attributes['url.full'])
    const server = servers[0]
    assert.equal(server.attributes['session.id'], 'sess-node')
    assert.match(server.attributes['user.hash'], /^[0-9a-f]{32}$/)
    assert.equal(server.attributes['client.address'], '127.0.0.1')
    const handler = spans.find((s) => s.name === 'handler' && s.parent_span_id === server.span_id)
    assert.ok(handler, 'the handler runs in the SERVER span')
  }
  const byPath = Object.fromEntries(clients.map((c) => [new URL(c.attributes['url.full']).pathname, c]))
  assert.equal(byPath['/fetch'].attributes['url.full'], `${srv.base}/fetch?api_key=REDACTED`)
  assert.equal(byPath['/fetch'].name, 'GET')
  assert.equal(byPath['/request'].name, 'POST')
  assert.equal(byPath['/get'].attributes['http.response.status_code'], 200)
  assert.equal(byPath['/fail'].attributes['http.response.status_code'], 503)
  assert.equal(byPath['/fail'].attributes['error.type'], '503')
  assert.equal(byPath['/fail'].status_code, ERROR)
  const failServer = spans.find((s) => s.kind === SERVER && s.parent_span_id === byPath['/fail'].span_id)
  assert.equal(failServer.status_code, ERROR)
  assert.equal(ids[failServer.parent_span_id], byPath['/fail'])
  for (const h of srv.seen) {
    assert.equal(h.traceparent.length, 1)
    assert.equal(h['fivelens-context'].length, 1)
    assert.ok(!h['fivelens-context'][0].includes('ann'))
  }
})

test('Express: the SERVER span has the route and its mount path; requests outside a trace are left alone', async () => {
  const express = require('express')
  const app = express()
  const router = express.Router()
  router.get('/items/:id', (req, res) => {
    fivelens.withSpan('inside', () => {})
    res.json({ id: req.params.id, traceparent: req.headers.traceparent ?? null })
  })
  router.get('/boom', () => {
    throw new Error('kaput')
  })
  app.use('/api', router)
  const server = http.createServer(app)
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  const base = `http://127.0.0.1:${server.address().port}`
  const caller = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
  const res = await fetch(`${base}/api/items/7`, { headers: { traceparent: caller } })
  assert.equal((await res.json()).traceparent, caller, 'a traceparent the app set is kept')
  const plain = await fetch(`${base}/api/items/8`)
  assert.equal((await plain.json()).traceparent, null, 'outside a trace nothing is added')
  assert.equal((await fetch(`${base}/api/boom`)).status, 500)
  const spans = await exported(5)
  await new Promise((r) => server.close(r))
  assert.equal(spans.filter((s) => s.kind === CLIENT).length, 0)
  const servers = spans.filter((s) => s.kind === SERVER)
  assert.equal(servers.length, 3)
  const [seven] = servers.filter((s) => s.attributes['url.path'] === '/api/items/7')
  assert.equal(seven.name, 'GET /api/items/:id')
  assert.equal(seven.attributes['http.route'], '/api/items/:id')
  assert.equal(seven.trace_id, '4bf92f3577b34da6a3ce929d0e0e4736')
  assert.equal(seven.parent_span_id, '00f067aa0ba902b7')
  assert.equal(seven.attributes['http.response.status_code'], 200)
  assert.equal(seven.attributes['url.scheme'], 'http')
  const [eight] = servers.filter((s) => s.attributes['url.path'] === '/api/items/8')
  assert.equal(eight.parent_span_id, '', 'no traceparent: a new trace')
  const inside = spans.find((s) => s.name === 'inside' && s.parent_span_id === seven.span_id)
  assert.ok(inside)
  const [boom] = servers.filter((s) => s.attributes['url.path'] === '/api/boom')
  assert.equal(boom.status_code, ERROR)
  assert.equal(boom.attributes['http.response.status_code'], 500)
})

test('a provider SDK request carries the model-call span and no fivelens-context, and gets no HTTP span', async () => {
  const llm = await startFakeLlm()
  try {
    const OpenAI = require('openai')
    const client = new OpenAI({ baseURL: llm.url + '/v1', apiKey: 'k', maxRetries: 0 })
    await fivelens.withContext({ sessionId: 'sess-llm' }, () =>
      fivelens.withSpan('agent', () => client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })),
    )
    const spans = await exported(2)
    const llmSpan = spans.find((s) => s.name === 'chat gpt-4o-mini')
    assert.ok(llmSpan)
    assert.equal(spans.filter((s) => s.kind === CLIENT).length, 1, 'only the model-call span')
    const request = (await llm.requests()).filter((r) => r.path.startsWith('/v1/chat')).at(-1)
    assert.equal(request.headers.traceparent, `00-${llmSpan.trace_id}-${llmSpan.span_id}-01`)
    assert.equal(request.headers['fivelens-context'], undefined)
  } finally {
    await llm.stop()
  }
})

test('baggage of the request being served is passed on', async () => {
  const downstream = await headerServer()
  const relay = http.createServer(async (req, res) => {
    await fetch(`${downstream.base}/relayed`)
    res.end('ok')
  })
  await new Promise((r) => relay.listen(0, '127.0.0.1', r))
  await get(`http://127.0.0.1:${relay.address().port}/relay`, { baggage: 'tenant=acme,plan=pro' })
  const spans = await exported(4)
  await new Promise((r) => relay.close(r))
  await downstream.close()
  assert.deepEqual(downstream.seen[0].baggage, ['tenant=acme,plan=pro'])
  const client = spans.find((s) => s.kind === CLIENT)
  assert.deepEqual(downstream.seen[0].traceparent, [`00-${client.trace_id}-${client.span_id}-01`])
})

test('a Node agent calling a Python FastAPI service: one trace, the Python SERVER span a child of the Node side', async () => {
  const python = process.env.FIVELENS_PYTHON || path.join(REPO, '.venv', 'bin', 'python')
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')))
  const proc = spawn(python, [path.join(__dirname, 'fixtures', 'fastapi_service.py')], {
    env: { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, FIVELENS_HOME: tempDir() },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  try {
    const line = await new Promise((resolve, reject) => {
      readline.createInterface({ input: proc.stdout }).once('line', resolve)
      proc.once('exit', (code) => reject(new Error(`the Python service exited ${code}`)))
    })
    assert.match(String(line), /^READY /)
    const { port } = JSON.parse(String(line).slice(6))
    let agent
    const answer = await fivelens.withSpan('agent run', { 'gen_ai.agent.name': 'planner' }, (span) => {
      agent = span
      return fivelens.withSpan('execute_tool get_weather', { 'gen_ai.tool.name': 'get_weather' }, async () => (await fetch(`http://127.0.0.1:${port}/weather/Lima`)).json())
    })
    assert.equal(answer.city, 'Lima')
    assert.equal(answer.traceparent.length, 1)
    assert.equal(await fivelens.flush(5000), true)
    // The Python side exports on its own schedule: wait for its spans.
    const deadline = Date.now() + 15000
    let spans = []
    while (Date.now() < deadline) {
      spans = await receiver.spans()
      if (spans.some((s) => s.name === 'lookup forecast') && spans.some((s) => s.name === 'GET /weather/{city}')) break
      await new Promise((r) => setTimeout(r, 50))
    }
    const node = spans.filter((s) => s.resource['service.name'] === 'node-http')
    const py = spans.filter((s) => s.resource['service.name'] === 'py-weather')
    const tool = node.find((s) => s.name === 'execute_tool get_weather')
    const client = node.find((s) => s.kind === CLIENT)
    const server = py.find((s) => s.name === 'GET /weather/{city}')
    const lookup = py.find((s) => s.name === 'lookup forecast')
    assert.ok(tool && client && server && lookup, JSON.stringify(spans.map((s) => s.name)))
    assert.equal(new Set(spans.map((s) => s.trace_id)).size, 1, 'one trace')
    assert.equal(spans[0].trace_id, agent.spanContext().traceId)
    assert.equal(client.parent_span_id, tool.span_id)
    assert.equal(server.kind, SERVER)
    assert.equal(server.parent_span_id, client.span_id, 'the Python SERVER span is the child of the Node CLIENT span')
    assert.equal(answer.traceparent[0], `00-${client.trace_id}-${client.span_id}-01`)
    assert.equal(server.attributes['http.route'], '/weather/{city}')
    const ids = byId(spans)
    let s = lookup
    while (s && s !== server) s = ids[s.parent_span_id]
    assert.equal(s, server, 'the handler work nests under the SERVER span')
  } finally {
    proc.stdin.end()
    await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)))
    await http_delete(receiver.endpoint + '/spans')
  }
})

// The app's own OpenTelemetry (SDK provider, context manager, W3C propagator and
// @opentelemetry/instrumentation-http), registered before or after fivelens: its CLIENT span
// injects; fivelens adds no second traceparent and no CLIENT or SERVER span of its own.
const OTEL_CASE = (otelFirst, endpoint) => `
const http = require('node:http')
const api = require('@opentelemetry/api')
const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base')
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks')
const { W3CTraceContextPropagator } = require('@opentelemetry/core')
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http')
const fivelens = require(${JSON.stringify(path.resolve(__dirname, '..'))})
const exporter = new InMemorySpanExporter()
function otelOn() {
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter), fivelens.spanProcessor()] })
  api.trace.setGlobalTracerProvider(provider)
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  api.propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  // Enabled on construction; its spans come from the global provider set above.
  new HttpInstrumentation()
}
if (${otelFirst}) otelOn()
fivelens.instrument({ otlpEndpoint: ${JSON.stringify(endpoint)}, store: 'off', scheduleDelayMs: 10 })
if (!${otelFirst}) otelOn()
// http is required again after the instrumentation is on (it patches on require).
const h = require('http')
const seen = []
const server = h.createServer((req, res) => {
  seen.push(req.rawHeaders.filter((_, i, a) => i % 2 === 0 && /^traceparent$/i.test(a[i])).length)
  res.end('ok')
})
server.listen(0, '127.0.0.1', async () => {
  const port = server.address().port
  let agent
  await fivelens.withSpan('agent', (span) => {
    agent = span
    return new Promise((resolve) => h.get('http://127.0.0.1:' + port + '/x', (res) => { res.resume(); res.on('end', resolve) }))
  })
  await fivelens.flush(5000)
  server.close()
  const spans = exporter.getFinishedSpans()
  console.log(JSON.stringify({
    seen,
    agent: agent.spanContext().spanId,
    otel: spans.map((s) => ({ kind: s.kind, id: s.spanContext().spanId, parent: s.parentSpanContext ? s.parentSpanContext.spanId : null })),
  }))
})
`

for (const otelFirst of [true, false]) {
  test(`with the app's @opentelemetry/instrumentation-http (${otelFirst ? 'registered first' : 'registered after fivelens'}): one traceparent`, async () => {
    const out = runNode(OTEL_CASE(otelFirst, receiver.endpoint))
    assert.equal(out.status, 0, out.stderr)
    const result = JSON.parse(out.stdout.trim().split('\n').at(-1))
    assert.deepEqual(result.seen, [1])
    const otelClient = result.otel.find((s) => s.kind === 2)
    const otelServer = result.otel.find((s) => s.kind === 1)
    assert.ok(otelClient && otelServer, JSON.stringify(result.otel))
    assert.equal(otelClient.parent, result.agent, "the app's CLIENT span nests under the fivelens span")
    assert.equal(otelServer.parent, otelClient.id)
    const spans = await receiver.waitFor(1)
    await http_delete(receiver.endpoint + '/spans')
    assert.deepEqual(
      spans.filter((s) => s.kind === CLIENT || s.kind === SERVER).map((s) => s.name),
      [],
      'no fivelens HTTP span beside the app’s',
    )
  })
}
