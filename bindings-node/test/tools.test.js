'use strict'
// Tool calls as dependencies, in Node: `withTool` for plain functions, the tool metrics, the
// circuit breaker at the tool boundary (enforce and observe, in real LangGraph.js agents and at an
// MCP client) and the loop and budget guards (a runaway agent against the fake OpenAI server).
// The breakers and budgets are the core's, the same as Python's.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { startFakeLlm, tempDir } = require('./helpers')
const S = require('./langchain_scenarios')

/** @type {any} */
let fivelens
/** @type {any} */
let lc
/** @type {any} */
let server

before(async () => {
  server = await startFakeLlm()
  process.env.FIVELENS_HOME = tempDir('fl-tools-')
  fivelens = require('..')
  await setup({})
  lc = S.loadCjs()
})
after(async () => {
  await fivelens.shutdown(2000)
  if (server) await server.stop()
})

/** Reconfigures fivelens (testing mode) with `options`. */
async function setup(/** @type {Record<string, any>} */ options) {
  await fivelens.shutdown(2000)
  const report = fivelens.instrument({ store: 'off', testing: true, scheduleDelayMs: 10, ...options })
  assert.ok(report.recording)
  fivelens.testing.clearFinishedSpans()
  return report
}

async function finished() {
  assert.equal(await fivelens.flush(5000), true)
  return fivelens.testing.finishedSpans().map(S.normalize)
}

/** @param {any[]} spans @param {string} name */
const toolSpans = (spans, name) => S.named(spans, `execute_tool ${name}`)
/** @param {any} span */
const breakerEvents = (span) => (span.events || []).filter((/** @type {any} */ e) => e.name === 'fivelens.tool.breaker.state_change').map((/** @type {any} */ e) => e.attributes)

/** Calls 3, 6, 9, 13, 16, 19, 23...: 30%; the default breaker (10% over >= 20 calls) opens at the 23rd. */
const fails30 = (/** @type {number} */ n) => [3, 6, 9].includes(n % 10)

/**
 * A chat model that calls its tool again after every result (as a model retrying a failing tool
 * does) until a result says `degraded mode`, or `limit` results came back.
 */
function runawayModel(/** @type {string} */ toolName, limit = 1000) {
  class RunawayChatModel extends lc.BaseChatModel {
    _llmType() {
      return 'runaway'
    }
    /** @param {any} options */
    getLsParams(options) {
      return { ...super.getLsParams(options), ls_provider: 'openai', ls_model_name: 'runaway-1' }
    }
    bindTools() {
      return this
    }
    /** @param {any[]} messages */
    async _generate(messages) {
      const results = messages.filter((m) => m._getType() === 'tool')
      const last = results[results.length - 1]
      const usage = { input_tokens: 10, output_tokens: 5, total_tokens: 15 }
      const message =
        (last && String(last.content).includes('degraded mode')) || results.length >= limit
          ? new lc.AIMessage({ content: `Sorry, ${toolName} is unavailable right now.`, usage_metadata: usage })
          : new lc.AIMessage({ content: '', tool_calls: [{ id: `call-${results.length}`, name: toolName, args: { symbol: 'ACME' } }], usage_metadata: usage })
      return { generations: [{ text: typeof message.content === 'string' ? message.content : '', message }] }
    }
  }
  return new RunawayChatModel({})
}

/** A stock price tool that fails 30% of the time; `calls` counts its executions. */
function stockPrice(/** @type {{n: number}} */ calls) {
  return lc.tool(
    async ({ symbol }) => {
      calls.n++
      if (fails30(calls.n)) throw new Error(`quote backend failed (call ${calls.n})`)
      return `${symbol}: 12.5`
    },
    { name: 'stock_price', description: 'The stock price of a symbol.', schema: lc.z.object({ symbol: lc.z.string() }) },
  )
}

test('withTool: a span per call, arguments and result, kind, HTTP and payload errors by category, retries in a trace', async () => {
  await setup({})
  let n = 0
  const quote = () =>
    fivelens.withTool('quote', { arguments: { symbol: 'ACME' } }, async (/** @type {any} */ call) => {
      n++
      if (n === 1) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' })
      call.setResult({ price: 12.5 })
      return 12.5
    })
  await fivelens.withSpan('agent', async () => {
    await assert.rejects(quote(), /ECONNREFUSED/)
    assert.equal(await quote(), 12.5)
    fivelens.withTool('weather_api', { kind: 'http', server: 'api.weather.example' }, (/** @type {any} */ call) => call.setStatusCode(429))
    fivelens.withTool('search', { kind: 'mcp', server: 'docs', description: 'Search the docs' }, (/** @type {any} */ call) => call.setErrorResult('index not ready'))
    // The function a framework's tool (or an outer withTool) wraps: one span, not two.
    fivelens.withTool('search', () => fivelens.withTool('search', () => 'inner'))
  })
  const spans = await finished()
  const quotes = toolSpans(spans, 'quote')
  assert.equal(quotes.length, 2)
  const [failed, retried] = quotes.map((s) => s.attributes)
  assert.equal(failed['gen_ai.operation.name'], 'execute_tool')
  assert.equal(failed['fivelens.tool.kind'], 'function')
  assert.equal(failed['fivelens.tool.breaker.state'], 'closed')
  assert.equal(failed['error.type'], 'ECONNREFUSED')
  assert.equal(failed['fivelens.tool.error.category'], 'unavailable')
  assert.equal(failed['gen_ai.tool.call.arguments'], '{"symbol":"ACME"}')
  assert.equal(retried['fivelens.retry.attempt'], 2)
  assert.equal(retried['fivelens.retry.reason'], 'ECONNREFUSED')
  assert.equal(retried['fivelens.retry.source'], 'caller')
  assert.equal(retried['gen_ai.tool.call.result'], '{"price":12.5}')
  const http = toolSpans(spans, 'weather_api')[0]
  assert.equal(http.status, 'error')
  assert.equal(http.attributes['server.address'], 'api.weather.example')
  assert.equal(http.attributes['gen_ai.tool.type'], 'extension')
  assert.equal(http.attributes['fivelens.tool.error.category'], 'rate_limited')
  const search = toolSpans(spans, 'search')
  assert.equal(search.length, 2)
  assert.equal(search[0].attributes['mcp.server.name'], 'docs')
  assert.equal(search[0].attributes['fivelens.tool.error.category'], 'tool_error')
  assert.equal(search[1].attributes['gen_ai.tool.call.result'], 'inner')
})

test('enforce: a LangGraph.js agent whose tool fails 30% of the time gets the degraded-mode message instead of retrying unboundedly', async () => {
  await setup({ toolBreaker: 'enforce' })
  const calls = { n: 0 }
  const agent = lc.createReactAgent({ llm: runawayModel('stock_price'), tools: [stockPrice(calls)], name: 'trader' })
  const result = await agent.invoke({ messages: [new lc.HumanMessage('Price of ACME?')] }, { recursionLimit: 500 })
  assert.equal(calls.n, 23)
  const results = result.messages.filter((/** @type {any} */ m) => m._getType() === 'tool')
  const last = results[results.length - 1]
  assert.equal(last.status, 'error')
  assert.match(String(last.content), /^tool stock_price unavailable, degraded mode: its circuit breaker is open after 7 errors in the last 23 calls/)
  assert.equal(result.messages[result.messages.length - 1].content, 'Sorry, stock_price is unavailable right now.')

  const spans = toolSpans(await finished(), 'stock_price')
  assert.equal(spans.length, 24)
  assert.deepEqual(breakerEvents(spans[22]).map((e) => e['fivelens.breaker.to']), ['open'])
  assert.equal(breakerEvents(spans[22])[0]['fivelens.breaker.mode'], 'enforce')
  assert.equal(spans.filter((s) => s.status === 'error').length, 8)
  const rejected = spans[23].attributes
  assert.equal(rejected['fivelens.tool.breaker.rejected'], true)
  assert.equal(rejected['error.type'], 'circuit_open')
  assert.match(rejected['gen_ai.tool.call.result'], /degraded mode/)
  assert.equal(spans[3].attributes['fivelens.retry.source'], 'model')
  const status = fivelens.status().tools
  assert.equal(status.mode, 'enforce')
  assert.ok(status.breakers.some((/** @type {any} */ b) => b.tool === 'stock_price' && b.state === 'open'))
})

test('observe (the default): nothing changes, and what enforce would do is recorded', async () => {
  await setup({})
  const calls = { n: 0 }
  const agent = lc.createReactAgent({ llm: runawayModel('stock_price', 30), tools: [stockPrice(calls)], name: 'observed' })
  const result = await agent.invoke({ messages: [new lc.HumanMessage('go')] }, { recursionLimit: 500 })
  assert.equal(calls.n, 30)
  assert.ok(!result.messages.some((/** @type {any} */ m) => m._getType() === 'tool' && String(m.content).includes('degraded mode')))
  const spans = toolSpans(await finished(), 'stock_price')
  assert.equal(spans.length, 30)
  assert.deepEqual(breakerEvents(spans[22]).map((e) => [e['fivelens.breaker.to'], e['fivelens.breaker.mode']]), [['open', 'observe']])
  assert.equal(spans.filter((s) => s.attributes['fivelens.tool.breaker.would_reject']).length, 7)
  assert.ok(!spans.some((s) => s.attributes['fivelens.tool.breaker.rejected']))
})

test('MCP: an isError result is an error; a failing server opens its breaker and the client gets an isError result with the degraded message', async () => {
  await setup({ toolBreaker: 'enforce', toolBreakerMinCalls: 3, toolBreakerErrorRate: 0.5 })
  const { McpServer, InMemoryTransport } = require('@modelcontextprotocol/server')
  const { Client } = require('@modelcontextprotocol/client')
  const { z } = require('zod')
  const mcp = new McpServer({ name: 'quotes', version: '1.0.0' })
  let sent = 0
  mcp.registerTool('quote', { description: 'A quote', inputSchema: z.object({ symbol: z.string() }) }, async () => {
    sent++
    return { isError: true, content: [{ type: 'text', text: 'no quote' }] }
  })
  const [ct, st] = InMemoryTransport.createLinkedPair()
  await mcp.connect(st)
  const client = new Client({ name: 'agent', version: '1.0.0' })
  await client.connect(ct)
  /** @type {any[]} */
  const results = []
  for (let i = 0; i < 4; i++) results.push(await client.callTool({ name: 'quote', arguments: { symbol: 'ACME' } }))
  await client.close()
  assert.equal(sent, 3)
  assert.ok(results.every((r) => r.isError === true))
  assert.match(results[3].content[0].text, /^tool quote unavailable, degraded mode/)
  const calls = S.named(await finished(), 'tools/call quote').filter((s) => s.kind === 'client')
  assert.equal(calls.length, 4)
  for (const s of calls.slice(0, 3)) {
    assert.equal(s.status, 'error')
    assert.equal(s.attributes['error.type'], 'tool_error')
    assert.equal(s.attributes['fivelens.tool.error.category'], 'tool_error')
    assert.equal(s.attributes['fivelens.tool.kind'], 'mcp')
  }
  assert.equal(calls[3].attributes['fivelens.tool.breaker.rejected'], true)
  assert.deepEqual(breakerEvents(calls[2]).map((e) => e['fivelens.breaker.scope']).sort(), ['server', 'tool'])
})

test('a cost budget stops a runaway LangGraph.js agent at the configured spend; the trace is kept by the keep flag', async () => {
  const budget = 0.0002
  await setup({ traceCostBudgetUsd: budget, sampling: ['keep', 'baseline:0'] })
  const { OpenAI } = require('openai')
  const client = new OpenAI({ baseURL: server.url + '/v1', apiKey: 'sk-test', maxRetries: 0 })
  class SdkChatModel extends lc.BaseChatModel {
    _llmType() {
      return 'openai-sdk'
    }
    /** @param {any} options */
    getLsParams(options) {
      return { ...super.getLsParams(options), ls_provider: 'openai', ls_model_name: 'gpt-4o-mini' }
    }
    bindTools() {
      return this
    }
    /** @param {any[]} messages */
    async _generate(messages) {
      const role = /** @type {Record<string, string>} */ ({ human: 'user', ai: 'assistant', tool: 'tool' })
      const wire = messages.map((m) => {
        /** @type {any} */
        const out = { role: role[m._getType()], content: typeof m.content === 'string' ? m.content : '' }
        if (m.tool_calls && m.tool_calls.length) out.tool_calls = m.tool_calls.map((/** @type {any} */ c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.args) } }))
        if (m.tool_call_id) out.tool_call_id = m.tool_call_id
        return out
      })
      const tools = [{ type: 'function', function: { name: 'search', parameters: { type: 'object', properties: { query: { type: 'string' } } } } }]
      const r = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: wire, tools }, { headers: { 'x-fake-scenario': 'tools' } })
      const c = r.choices[0]
      const message = new lc.AIMessage({
        content: c.message.content || '',
        tool_calls: (c.message.tool_calls || []).map((/** @type {any} */ t) => ({ id: t.id, name: t.function.name, args: JSON.parse(t.function.arguments) })),
      })
      return { generations: [{ text: '', message }] }
    }
  }
  const search = lc.tool(async () => 'nothing new '.repeat(20), { name: 'search', description: 'Search the web.', schema: lc.z.object({ query: lc.z.string() }) })
  const agent = lc.createReactAgent({ llm: new SdkChatModel({}), tools: [search], name: 'runaway' })
  await assert.rejects(agent.invoke({ messages: [new lc.HumanMessage('find everything')] }, { recursionLimit: 1000 }), (/** @type {any} */ e) => {
    assert.ok(e instanceof fivelens.BudgetExceededError, String(e))
    assert.equal(e.kind, 'cost')
    assert.equal(e.scope, 'trace')
    assert.equal(e.limit, budget)
    assert.ok(e.used >= budget)
    assert.match(e.message, /traceCostBudgetUsd|trace_cost_budget_usd/)
    return true
  })
  const spans = await finished()
  const chats = spans.filter((s) => s.name.startsWith('chat ')).sort((a, b) => a.start - b.start)
  const costs = chats.map((s) => s.attributes['fivelens.cost.usd'])
  const total = costs.reduce((a, b) => a + b, 0)
  assert.ok(chats.length > 3, `${chats.length} calls`)
  assert.ok(total - costs[costs.length - 1] < budget && budget <= total + 1e-12, `${costs}`)
  const marked = spans.filter((s) => s.attributes['fivelens.sampling.keep'] === 'guard:cost')
  assert.equal(marked.length, 1)
  assert.ok(marked[0].events.some((/** @type {any} */ e) => e.name === 'fivelens.guard.exceeded' && e.attributes['fivelens.guard.kind'] === 'cost'))
  const root = S.named(spans, 'invoke_agent runaway')[0]
  assert.equal(root.attributes['fivelens.sampling.reason'], 'keep:guard:cost')
})

test('maxAgentIterations refuses the model call of a later iteration; withLlmCall is refused too', async () => {
  await setup({ maxAgentIterations: 3, traceTokenBudget: 1000 })
  const noop = lc.tool(async () => 'ok', { name: 'noop', description: 'Does nothing.', schema: lc.z.object({ symbol: lc.z.string() }) })
  const agent = lc.createReactAgent({ llm: runawayModel('noop'), tools: [noop], name: 'looper' })
  await assert.rejects(agent.invoke({ messages: [new lc.HumanMessage('go')] }, { recursionLimit: 100 }), fivelens.IterationLimitExceededError)
  const spans = await finished()
  const nodes = spans.filter((s) => s.attributes['fivelens.langgraph.node'] === 'agent')
  assert.deepEqual(nodes.map((s) => s.attributes['fivelens.agent.iteration']).sort(), [1, 3, 5])
  assert.equal(spans.filter((s) => s.attributes['gen_ai.operation.name'] === 'chat').length, 2)
  assert.equal(nodes.find((s) => s.attributes['fivelens.agent.iteration'] === 5).attributes['fivelens.sampling.keep'], 'guard:iterations')

  await fivelens.withSpan('work', async () => {
    await fivelens.withLlmCall({ provider: 'ollama', model: 'llama3.1' }, (/** @type {any} */ call) => call.setUsage({ inputTokens: 900, outputTokens: 200 }))
    assert.throws(() => fivelens.startLlmCall({ provider: 'ollama', model: 'llama3.1' }), fivelens.BudgetExceededError)
  })
})
