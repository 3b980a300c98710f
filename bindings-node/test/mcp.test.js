'use strict'
// The MCP SDKs under instrument(), unmodified: 1.x (`@modelcontextprotocol/sdk`) and 2.x
// (`@modelcontextprotocol/client` / `server`), CommonJS and ES modules, over stdio (a real server
// child process), Streamable HTTP on 127.0.0.1 and the in-memory transport. Every process exports
// to the repository's OTLP receiver; the assertions are on what it received.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const readline = require('node:readline')
const { spawn } = require('node:child_process')
const { startReceiver, runNode, PKG } = require('./helpers')
const { esmPath } = require('./mcp_tools')

/** @type {any} */
let rx
before(async () => {
  rx = await startReceiver()
})
after(() => rx && rx.stop())

const SERVER_CJS = path.join(PKG, 'test', 'mcp_server.js')
const SERVER_ESM = path.join(PKG, 'test', 'mcp_server.mjs')
const KIND = ['unspecified', 'internal', 'server', 'client']
const STATUS = ['unset', 'ok', 'error']

/** @param {any} out */
function lastJson(out) {
  assert.equal(out.status, 0, out.stderr + out.stdout)
  const lines = out.stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1])
}

/**
 * The spans of service `service` once at least `n` arrived (the receiver's shape, with kind and
 * status as names).
 * @param {string} service
 * @param {number} n
 */
async function received(service, n) {
  let mine = []
  for (let i = 0; i < 400; i++) {
    mine = (await rx.spans()).filter((/** @type {any} */ s) => s.resource['service.name'] === service)
    if (mine.length >= n) break
    await new Promise((r) => setTimeout(r, 25))
  }
  return mine.map((/** @type {any} */ s) => ({ ...s, kind: KIND[s.kind], status: STATUS[s.status_code || 0], parent: s.parent_span_id || '' }))
}

/** @param {any[]} spans @param {string} name */
function one(spans, name) {
  const found = spans.filter((s) => s.name === name)
  assert.equal(found.length, 1, `${name}: ${found.length} spans among ${spans.map((s) => s.name).join(', ')}`)
  return found[0]
}

/** The `mcp.notification` events of a span, as `method` or `method level` / `method progress/total`. */
function notifications(/** @type {any} */ span) {
  return (span.events || [])
    .filter((/** @type {any} */ e) => e.name === 'mcp.notification')
    .map((/** @type {any} */ e) => {
      const a = e.attributes
      if (a['fivelens.mcp.log.level']) return `${a['mcp.method.name']} ${a['fivelens.mcp.log.level']} ${a['fivelens.mcp.notification.data']}`
      if (a['fivelens.mcp.progress'] !== undefined) return `${a['mcp.method.name']} ${a['fivelens.mcp.progress']}/${a['fivelens.mcp.progress.total']}`
      return a['mcp.method.name']
    })
    .sort()
}

/**
 * The weather scenario seen from both sides: the client's `agent` span, its requests as CLIENT
 * spans, the server's SERVER spans under them (one trace across the processes), the tool's own
 * span under its SERVER span, notifications as events, a tool error and a JSON-RPC error.
 * @param {any[]} client
 * @param {any[]} server
 * @param {{transport: string, serverName: string}} expect
 */
function verifyWeather(client, server, expect) {
  const agent = one(client, 'agent')
  const trace = agent.trace_id
  for (const s of [...client, ...server]) assert.equal(s.trace_id, trace, `${s.name} is in the agent's trace`)

  const init = one(client, 'initialize')
  assert.equal(init.kind, 'client')
  assert.equal(init.parent, agent.span_id)
  assert.equal(init.attributes['mcp.method.name'], 'initialize')
  assert.equal(one(server, 'initialize').parent, init.span_id)

  const call = one(client, 'tools/call get_weather')
  assert.equal(call.kind, 'client')
  assert.equal(call.parent, agent.span_id)
  assert.equal(call.status, 'unset')
  const a = call.attributes
  assert.equal(a['mcp.method.name'], 'tools/call')
  assert.equal(a['gen_ai.tool.name'], 'get_weather')
  assert.equal(a['gen_ai.operation.name'], 'execute_tool')
  assert.match(a['jsonrpc.request.id'], /^\d+$/)
  assert.match(a['mcp.protocol.version'], /^\d{4}-\d{2}-\d{2}$/)
  assert.equal(a['network.transport'], expect.transport)
  assert.equal(a['mcp.server.name'], expect.serverName)
  assert.deepEqual(JSON.parse(a['gen_ai.tool.call.arguments']), { city: 'Paris' })
  assert.deepEqual(JSON.parse(a['gen_ai.tool.call.result']).content, [{ type: 'text', text: 'sunny in Paris' }])

  const handled = one(server, 'tools/call get_weather')
  assert.equal(handled.kind, 'server')
  assert.equal(handled.parent, call.span_id, 'the server span is the child of the client span')
  assert.equal(handled.status, 'unset')
  const h = handled.attributes
  assert.equal(h['mcp.method.name'], 'tools/call')
  assert.equal(h['gen_ai.tool.name'], 'get_weather')
  assert.equal(h['gen_ai.operation.name'], 'execute_tool')
  assert.equal(h['jsonrpc.request.id'], a['jsonrpc.request.id'])
  assert.equal(h['mcp.protocol.version'], a['mcp.protocol.version'])
  assert.equal(h['network.transport'], expect.transport)
  assert.equal(h['mcp.server.name'], expect.serverName)
  assert.equal(h['server.address'], undefined, 'no server.* on the server side')
  // The tool's own span nests under the request it serves.
  assert.equal(one(server, 'lookup weather').parent, handled.span_id)

  // Notifications: on the server span that sent them and on the client span that received them.
  const expected = ['notifications/message info looking up Paris', 'notifications/progress 1/2']
  assert.deepEqual(notifications(handled), expected)
  assert.deepEqual(notifications(call), expected)

  // isError: a failed tool call, on both sides.
  for (const s of [one(client, 'tools/call fail'), one(server, 'tools/call fail')]) {
    assert.equal(s.status, 'error', s.kind)
    assert.equal(s.attributes['error.type'], 'tool_error', s.kind)
    assert.equal(s.status_message, 'the weather service is down')
  }
  assert.equal(one(server, 'tools/call fail').parent, one(client, 'tools/call fail').span_id)

  // A JSON-RPC error: the code, on both sides.
  for (const s of [one(client, 'prompts/get nope'), one(server, 'prompts/get nope')]) {
    assert.equal(s.status, 'error', s.kind)
    assert.equal(s.attributes['error.type'], '-32601', s.kind)
    assert.equal(s.attributes['rpc.response.status_code'], '-32601', s.kind)
    assert.equal(s.attributes['gen_ai.prompt.name'], 'nope', s.kind)
  }
}

/** The client side of the weather scenario, after `client` and `transport` are made. */
const WEATHER = (/** @type {1 | 2} */ line) => `
  const out = {}
  await fivelens.withSpan('agent', async () => {
    await client.connect(transport)
    const progress = []
    const onprogress = (p) => progress.push(p)
    out.weather = await client.callTool({ name: 'get_weather', arguments: { city: 'Paris' } }, ${line === 1 ? 'undefined, ' : ''}{ onprogress })
    out.progress = progress
    out.failed = await client.callTool({ name: 'fail', arguments: {} })
    try { await client.getPrompt({ name: 'nope' }) } catch (e) { out.error = e.code }
  })
  await client.close()
  await fivelens.flush()
  console.log(JSON.stringify({ out, enabled: report.enabled }))
`

/** @param {any} r */
function verifyOutcome(r) {
  assert.ok(r.enabled.includes('mcp'), JSON.stringify(r.enabled))
  assert.deepEqual(r.out.weather.content, [{ type: 'text', text: 'sunny in Paris' }])
  assert.deepEqual(r.out.progress, [{ progress: 1, total: 2 }])
  assert.equal(r.out.failed.isError, true)
  assert.equal(r.out.error, -32601)
}

const serverEnv = (/** @type {string} */ service) => `{ ...process.env, FIVELENS_MCP_TEST_SERVER: '1', OTEL_SERVICE_NAME: ${JSON.stringify(service)} }`

test('1.x, CommonJS, stdio: a real server process; one trace from the agent through the client span to the tool; the MCP metrics from its spans', async () => {
  const out = runNode(
    `const fivelens = require(${JSON.stringify(PKG)})
     const report = fivelens.instrument({ serviceName: 'mcp1-stdio-client', store: 'off' })
     const { Client } = require('@modelcontextprotocol/sdk/client/index.js')
     const { StdioClientTransport } = require('@modelcontextprotocol/sdk/client/stdio.js')
     ;(async () => {
       const transport = new StdioClientTransport({ command: process.execPath, args: [${JSON.stringify(SERVER_CJS)}], env: ${serverEnv('mcp1-stdio-server')}, stderr: 'inherit' })
       const client = new Client({ name: 'agent', version: '1.0.0' })
       ${WEATHER(1)}
     })()`,
    { env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.endpoint } },
  )
  verifyOutcome(lastJson(out))
  verifyWeather(await received('mcp1-stdio-client', 5), await received('mcp1-stdio-server', 5), { transport: 'pipe', serverName: 'weather' })
  // The core's MCP metrics come from these spans: the client's duration by tool and outcome.
  /** @type {any[]} */
  let points = []
  for (let i = 0; i < 100; i++) {
    points = (await (await fetch(rx.endpoint + '/metrics')).json()).filter(
      (/** @type {any} */ p) => p.name === 'mcp.client.operation.duration' && p.attributes['network.transport'] === 'pipe' && p.attributes['mcp.server.name'] === 'weather',
    )
    if (points.length >= 2) break
    await new Promise((r) => setTimeout(r, 50))
  }
  const tool = (/** @type {string} */ name) => points.find((p) => p.attributes['gen_ai.tool.name'] === name)
  assert.ok(tool('get_weather'), JSON.stringify(points))
  assert.equal(tool('get_weather').attributes['error.type'], undefined)
  assert.equal(tool('fail').attributes['error.type'], 'tool_error')
  assert.equal(tool('get_weather').attributes['jsonrpc.request.id'], undefined)
})

test('2.x, ES modules, stdio: the split client and server packages, the same trace', async () => {
  const out = runNode(
    `import * as fivelens from ${JSON.stringify(path.join(PKG, 'index.mjs'))}
     import { Client } from ${JSON.stringify(esmPath('@modelcontextprotocol/client'))}
     import { StdioClientTransport } from ${JSON.stringify(esmPath('@modelcontextprotocol/client/stdio'))}
     // The SDK imported before instrument().
     const report = fivelens.instrument({ serviceName: 'mcp2-stdio-client', store: 'off' })
     const transport = new StdioClientTransport({ command: process.execPath, args: [${JSON.stringify(SERVER_ESM)}], env: ${serverEnv('mcp2-stdio-server')}, stderr: 'inherit' })
     const client = new Client({ name: 'agent', version: '1.0.0' })
     ${WEATHER(2)}`,
    { ext: '.mjs', env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.endpoint } },
  )
  verifyOutcome(lastJson(out))
  verifyWeather(await received('mcp2-stdio-client', 5), await received('mcp2-stdio-server', 5), { transport: 'pipe', serverName: 'weather-v2' })
})

test('1.x over Streamable HTTP on 127.0.0.1 (ES module client, CommonJS server): tcp, server address, session id, one trace', async () => {
  const server = spawn(process.execPath, [SERVER_CJS, '--http'], {
    env: { ...process.env, FIVELENS_MCP_TEST_SERVER: '1', OTEL_SERVICE_NAME: 'mcp1-http-server', OTEL_EXPORTER_OTLP_ENDPOINT: rx.endpoint },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const port = await new Promise((resolve, reject) => {
    readline.createInterface({ input: server.stdout }).once('line', (line) => resolve(Number(String(line).replace('READY ', ''))))
    server.once('exit', (code) => reject(new Error(`server exited ${code}`)))
  })
  try {
    const out = runNode(
      `import * as fivelens from ${JSON.stringify(path.join(PKG, 'index.mjs'))}
       import { Client } from ${JSON.stringify(esmPath('@modelcontextprotocol/sdk/client/index.js'))}
       import { StreamableHTTPClientTransport } from ${JSON.stringify(esmPath('@modelcontextprotocol/sdk/client/streamableHttp.js'))}
       const report = fivelens.instrument({ serviceName: 'mcp1-http-client', store: 'off' })
       const transport = new StreamableHTTPClientTransport(new URL('http://127.0.0.1:${port}/mcp'))
       const client = new Client({ name: 'agent', version: '1.0.0' })
       ${WEATHER(1)}`,
      { ext: '.mjs', env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.endpoint } },
    )
    verifyOutcome(lastJson(out))
  } finally {
    server.stdin.end()
    await new Promise((r) => (server.exitCode !== null ? r(undefined) : server.once('exit', r)))
  }
  const client = await received('mcp1-http-client', 5)
  const server_ = await received('mcp1-http-server', 5)
  verifyWeather(client, server_, { transport: 'tcp', serverName: 'weather' })
  const call = one(client, 'tools/call get_weather')
  const handled = one(server_, 'tools/call get_weather')
  assert.equal(call.attributes['network.protocol.name'], 'http')
  assert.equal(call.attributes['server.address'], '127.0.0.1')
  assert.equal(call.attributes['server.port'], port)
  assert.match(call.attributes['mcp.session.id'], /^[0-9a-f-]{36}$/)
  assert.equal(handled.attributes['mcp.session.id'], call.attributes['mcp.session.id'])
})

/**
 * In one process, over the in-memory transport, with the SDK line's CommonJS modules `M`: the
 * app's `_meta` keys reach the tool untouched next to the trace context; a malformed or missing
 * traceparent starts a new trace and is no error; a notification outside any request lands on
 * the session's span; the trace-scoped context crosses the hop.
 */
const IN_MEMORY = `
  async function scenario(M, line) {
    const { z } = require('zod')
    const server = new M.McpServer({ name: 'mem' + line, version: '1.0.0' }, { capabilities: { logging: {} } })
    register(server, z, fivelens, line)
    const [ct, st] = M.InMemoryTransport.createLinkedPair()
    await server.connect(st)
    const client = new M.Client({ name: 'agent', version: '1.0.0' })
    const text = (r) => JSON.parse(r.content[0].text)
    const out = { line }
    let release
    const held = new Promise((r) => (release = r))
    // The session: the span active when the connection is made, open until the end.
    const session = fivelens.withSpan('session ' + line, async (s) => {
      out.session = s.spanId
      await client.connect(ct)
      await held
    })
    await fivelens.withContext({ sessionId: 'conversation-' + line }, () =>
      fivelens.withSpan('agent ' + line, async (s) => {
        out.trace = s.traceId
        out.own = text(await client.callTool({ name: 'echo_meta', arguments: {}, _meta: { 'app.example/key': 'kept' } }))
        out.malformed = text(await client.callTool({ name: 'echo_meta', arguments: {}, _meta: { traceparent: '00-not-a-trace-01', 'app.example/key': 'kept' } }))
      }),
    )
    // A client that sends no trace context at all (the raw JSON-RPC, no SDK client).
    const [raw, rawServerSide] = M.InMemoryTransport.createLinkedPair()
    const server2 = new M.McpServer({ name: 'mem' + line, version: '1.0.0' })
    register(server2, z, fivelens, line)
    await server2.connect(rawServerSide)
    out.missing = await new Promise((resolve) => {
      raw.onmessage = (m) => resolve(m)
      raw.start().then(() => raw.send({ jsonrpc: '2.0', id: 41, method: 'tools/call', params: { name: 'echo_meta', arguments: {} } }))
    })
    await server.sendToolListChanged()
    release()
    await session
    await client.close()
    return out
  }
`

test('in-memory transport, 1.x and 2.x CommonJS: the app _meta kept, malformed and missing traceparent start new traces, session notifications, context across the hop', async () => {
  const out = runNode(
    `const fivelens = require(${JSON.stringify(PKG)})
     const report = fivelens.instrument({ serviceName: 'mcp-mem', store: 'off' })
     const { register } = require(${JSON.stringify(path.join(PKG, 'test', 'mcp_tools.js'))})
     const v1 = {
       ...require('@modelcontextprotocol/sdk/server/mcp.js'),
       ...require('@modelcontextprotocol/sdk/client/index.js'),
       ...require('@modelcontextprotocol/sdk/inMemory.js'),
     }
     const v2 = { ...require('@modelcontextprotocol/server'), Client: require('@modelcontextprotocol/client').Client }
     ${IN_MEMORY}
     ;(async () => {
       const runs = [await scenario(v1, 1), await scenario(v2, 2)]
       await fivelens.flush()
       console.log(JSON.stringify({ runs, enabled: report.enabled }))
     })()`,
    { env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.endpoint } },
  )
  const r = lastJson(out)
  assert.ok(r.enabled.includes('mcp'))
  const spans = await received('mcp-mem', 2 * 9)
  for (const run of r.runs) {
    const mine = spans.filter((s) => s.trace_id === run.trace)
    const calls = mine.filter((s) => s.name === 'tools/call echo_meta' && s.kind === 'client')
    assert.equal(calls.length, 2, `line ${run.line}`)
    const [ownCall, malformedCall] = calls.sort((x, y) => Number(x.attributes['jsonrpc.request.id']) - Number(y.attributes['jsonrpc.request.id']))

    // The app's own key, untouched, next to the trace context of the client span.
    assert.equal(run.own['app.example/key'], 'kept')
    assert.equal(run.own.traceparent, `00-${run.trace}-${ownCall.span_id}-01`)
    assert.equal(typeof run.own['fivelens-context'], 'string')
    const handled = mine.find((s) => s.kind === 'server' && s.parent === ownCall.span_id)
    assert.ok(handled, `line ${run.line}: the server span under the client span`)
    assert.equal(handled.attributes['session.id'], `conversation-${run.line}`, 'the trace-scoped context crossed the hop')

    // The app's malformed traceparent is the app's: passed through; the server starts a new trace.
    assert.equal(run.malformed.traceparent, '00-not-a-trace-01')
    assert.equal(run.malformed['app.example/key'], 'kept')
    assert.equal(malformedCall.status, 'unset')
    const orphan = spans.filter((s) => s.kind === 'server' && s.name === 'tools/call echo_meta' && s.attributes['mcp.server.name'] === `mem${run.line}` && s.parent === '')
    assert.equal(orphan.length, 2, `line ${run.line}: malformed and missing traceparent each start a trace`)
    for (const s of orphan) {
      assert.notEqual(s.trace_id, run.trace)
      assert.equal(s.status, 'unset')
    }
    assert.equal(new Set(orphan.map((s) => s.trace_id)).size, 2)
    // The raw client got a result, not an error.
    assert.equal(r.runs[run.line - 1].missing.id, 41)
    assert.ok(r.runs[run.line - 1].missing.result, JSON.stringify(run.missing))

    // A list change outside any request: an event on the session's span (the span active at connect).
    const session = spans.find((s) => s.span_id === run.session)
    assert.deepEqual(notifications(session), ['notifications/tools/list_changed'])
  }
})

test('bundled apps: instrumentModules({ mcp }) with the 2.x ES modules as imported', () => {
  const out = runNode(
    `import * as fivelens from ${JSON.stringify(path.join(PKG, 'index.mjs'))}
     import * as clientModule from ${JSON.stringify(esmPath('@modelcontextprotocol/client'))}
     import * as serverModule from ${JSON.stringify(esmPath('@modelcontextprotocol/server'))}
     // As a bundled app would: fivelens does not find the SDK by itself.
     fivelens.instrument({ store: 'off', testing: true, integrations: ['opentelemetry'] })
     const { McpServer, InMemoryTransport } = serverModule
     const call = async () => {
       const server = new McpServer({ name: 'bundled', version: '1.0.0' })
       server.registerTool('ping_tool', { description: 'pong' }, async () => ({ content: [{ type: 'text', text: 'pong' }] }))
       const [ct, st] = InMemoryTransport.createLinkedPair()
       await server.connect(st)
       const client = new clientModule.Client({ name: 'agent', version: '1.0.0' })
       await client.connect(ct)
       await client.callTool({ name: 'ping_tool', arguments: {} })
       await client.close()
     }
     await call()
     await fivelens.flush()
     const before = fivelens.testing.finishedSpans().length
     const done = fivelens.instrumentModules({ mcp: [clientModule, serverModule] })
     await call()
     let bad = null
     try { fivelens.instrumentModules({ mcp: {} }) } catch (e) { bad = e.constructor.name + ': ' + e.message }
     await fivelens.flush()
     console.log(JSON.stringify({ done, bad, before, spans: fivelens.testing.finishedSpans().map((s) => s.kind + ' ' + s.name).sort() }))`,
    { ext: '.mjs' },
  )
  const r = lastJson(out)
  assert.deepEqual(r.done, ['mcp'])
  assert.equal(r.before, 0, 'nothing recorded before the modules were handed over')
  assert.deepEqual(r.spans, ['client initialize', 'client tools/call ping_tool', 'server initialize', 'server tools/call ping_tool'])
  assert.match(r.bad, /^TypeError: .*mcp is not an MCP SDK module/)
})

test('inside a LangChain.js tool run of the same tool, the tool span is the MCP call: the MCP attributes on it, no second span, the server span its child', async () => {
  const out = runNode(
    `const fivelens = require(${JSON.stringify(PKG)})
     const report = fivelens.instrument({ serviceName: 'mcp-lc-client', store: 'off' })
     const { tool } = require('@langchain/core/tools')
     const { z } = require('zod')
     const { Client } = require('@modelcontextprotocol/sdk/client/index.js')
     const { StdioClientTransport } = require('@modelcontextprotocol/sdk/client/stdio.js')
     ;(async () => {
       const transport = new StdioClientTransport({ command: process.execPath, args: [${JSON.stringify(SERVER_CJS)}], env: ${serverEnv('mcp-lc-server')}, stderr: 'inherit' })
       const client = new Client({ name: 'agent', version: '1.0.0' })
       const text = (r) => r.content[0].text
       // LangChain tools that call the MCP server's tool of the same name.
       const getWeather = tool(async ({ city }) => text(await client.callTool({ name: 'get_weather', arguments: { city } })), {
         name: 'get_weather', description: 'Weather for a city', schema: z.object({ city: z.string() }),
       })
       const fail = tool(async () => text(await client.callTool({ name: 'fail', arguments: {} })), {
         name: 'fail', description: 'Always fails', schema: z.object({}),
       })
       // A tool of another name making two MCP calls: each its own CLIENT span under the tool span.
       const compare = tool(async ({ a, b }) => {
         const x = text(await client.callTool({ name: 'get_weather', arguments: { city: a } }))
         const y = text(await client.callTool({ name: 'get_weather', arguments: { city: b } }))
         return x + ' / ' + y
       }, { name: 'compare_weather', description: 'Two cities', schema: z.object({ a: z.string(), b: z.string() }) })
       const out = {}
       await fivelens.withSpan('agent', async () => {
         await client.connect(transport)
         out.weather = await getWeather.invoke({ city: 'Quito' })
         out.failed = await fail.invoke({})
         out.compared = await compare.invoke({ a: 'Oslo', b: 'Rome' })
       })
       await client.close()
       await fivelens.flush()
       console.log(JSON.stringify({ out, enabled: report.enabled }))
     })()`,
    { env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.endpoint } },
  )
  const r = lastJson(out)
  assert.ok(r.enabled.includes('langchain') && r.enabled.includes('mcp'), JSON.stringify(r.enabled))
  assert.equal(r.out.weather, 'sunny in Quito')
  assert.equal(r.out.failed, 'the weather service is down')
  assert.equal(r.out.compared, 'sunny in Oslo / sunny in Rome')
  const client = await received('mcp-lc-client', 7)
  const server = await received('mcp-lc-server', 6)
  const agent = one(client, 'agent')
  for (const s of [...client, ...server]) assert.equal(s.trace_id, agent.trace_id, `${s.name} is in the agent's trace`)

  // The same tool: one span on the client side, the LangChain one, carrying the MCP call.
  const toolSpan = one(client, 'execute_tool get_weather')
  assert.equal(toolSpan.kind, 'internal')
  assert.equal(toolSpan.parent, agent.span_id)
  assert.equal(toolSpan.scope, 'fivelens.langchain')
  const a = toolSpan.attributes
  assert.equal(a['mcp.method.name'], 'tools/call')
  assert.equal(a['mcp.server.name'], 'weather')
  assert.equal(a['network.transport'], 'pipe')
  assert.match(a['mcp.protocol.version'], /^\d{4}-\d{2}-\d{2}$/)
  assert.equal(a['gen_ai.tool.name'], 'get_weather')
  assert.equal(a['gen_ai.tool.call.result'], 'sunny in Quito', "the tool run's own result")
  assert.deepEqual(JSON.parse(a['gen_ai.tool.call.arguments']), { city: 'Quito' })
  assert.equal(toolSpan.status, 'unset')
  const handled = server.find((s) => s.name === 'tools/call get_weather' && s.parent === toolSpan.span_id)
  assert.ok(handled, 'the server span is the child of the tool span')
  assert.equal(handled.kind, 'server')
  assert.equal(handled.attributes['jsonrpc.request.id'], a['jsonrpc.request.id'])
  assert.equal(server.find((s) => s.name === 'lookup weather' && s.parent === handled.span_id)?.kind, 'internal')
  // Notifications of the call: on the tool span.
  assert.deepEqual(notifications(toolSpan), ['notifications/message info looking up Quito'])

  // isError: the tool span is a failed tool call, though the tool returned normally.
  const failSpan = one(client, 'execute_tool fail')
  assert.equal(failSpan.status, 'error')
  assert.equal(failSpan.attributes['error.type'], 'tool_error')
  assert.equal(failSpan.attributes['mcp.method.name'], 'tools/call')
  assert.equal(one(server, 'tools/call fail').parent, failSpan.span_id)

  // Another tool's name: the MCP calls are CLIENT spans of their own under the tool span.
  const compare = one(client, 'execute_tool compare_weather')
  assert.equal(compare.attributes['mcp.method.name'], undefined)
  const calls = client.filter((s) => s.name === 'tools/call get_weather')
  assert.equal(calls.length, 2)
  for (const call of calls) {
    assert.equal(call.kind, 'client')
    assert.equal(call.parent, compare.span_id)
    assert.equal(server.filter((s) => s.parent === call.span_id && s.name === 'tools/call get_weather').length, 1)
  }
  assert.equal(client.filter((s) => s.name === 'tools/call fail').length, 0)
})
