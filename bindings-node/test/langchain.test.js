'use strict'
// LangChain.js and LangGraph.js, unmodified, under instrument(): each run one trace whose span
// tree follows the framework's run tree (graph -> node -> model / tool), with the OpenAI SDK's
// span in the chat-model run's place. The real @langchain/core and @langchain/langgraph (CommonJS
// copies), offline: scripted chat models and the repository's fake OpenAI server.

const { test, before, after, beforeEach } = require('node:test')
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
  process.env.FIVELENS_HOME = tempDir('fl-')
  fivelens = require('..')
  const report = fivelens.instrument({ store: 'off', testing: true, scheduleDelayMs: 10 })
  assert.ok(report.enabled.includes('langchain'), JSON.stringify(report))
  // Required after instrument(): patched when the app requires them.
  lc = S.loadCjs()
})
after(() => server && server.stop())
beforeEach(() => fivelens.testing.clearFinishedSpans())

/** The spans finished since the last call. */
async function finished() {
  assert.equal(await fivelens.flush(5000), true)
  const spans = fivelens.testing.finishedSpans().map(S.normalize)
  fivelens.testing.clearFinishedSpans()
  return spans
}

function internalErrors() {
  return fivelens.status().internal_errors
}

/**
 * A chat model backed by the real OpenAI SDK (the shape of `ChatOpenAI`): the first call of a
 * conversation asks the fake server for a tool call, the next for an answer.
 */
function openaiModel(OpenAI, model = 'gpt-4o-mini') {
  const client = new OpenAI({ baseURL: server.url + '/v1', apiKey: 'sk-test', maxRetries: 0 })
  const role = { human: 'user', ai: 'assistant', system: 'system', tool: 'tool' }
  const wire = (messages) =>
    messages.map((m) => {
      const out = { role: role[m._getType()], content: typeof m.content === 'string' ? m.content : '' }
      if (m.tool_calls && m.tool_calls.length) out.tool_calls = m.tool_calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.args) } }))
      if (m.tool_call_id) out.tool_call_id = m.tool_call_id
      return out
    })
  class SdkChatModel extends lc.BaseChatModel {
    constructor(tools) {
      super({})
      this.tools = tools || []
    }
    _llmType() {
      return 'openai-sdk'
    }
    getLsParams(options) {
      return { ...super.getLsParams(options), ls_provider: 'openai', ls_model_name: model }
    }
    bindTools(tools) {
      return new SdkChatModel(tools)
    }
    request(messages) {
      const answered = messages.some((m) => m._getType() === 'tool')
      const body = { model, messages: wire(messages) }
      if (this.tools.length) body.tools = this.tools.map((t) => lc.convertToOpenAITool(t))
      return [body, { headers: answered ? {} : { 'x-fake-scenario': 'tools' } }]
    }
    async _generate(messages) {
      const [body, options] = this.request(messages)
      const r = await client.chat.completions.create(body, options)
      const choice = r.choices[0]
      const message = new lc.AIMessage({
        content: choice.message.content || '',
        tool_calls: (choice.message.tool_calls || []).map((c) => ({ id: c.id, name: c.function.name, args: JSON.parse(c.function.arguments) })),
        usage_metadata: { input_tokens: r.usage.prompt_tokens, output_tokens: r.usage.completion_tokens, total_tokens: r.usage.total_tokens },
        response_metadata: { finish_reason: choice.finish_reason, model_name: r.model },
      })
      return { generations: [{ text: message.content, message }] }
    }
    async *_streamResponseChunks(messages, _options, runManager) {
      const [body, options] = this.request(messages)
      const stream = await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } }, options)
      for await (const chunk of stream) {
        const text = (chunk.choices[0] && chunk.choices[0].delta.content) || ''
        if (!text) continue
        yield new lc.ChatGenerationChunk({ text, message: new lc.AIMessageChunk({ content: text }) })
        await runManager?.handleLLMNewToken(text)
      }
    }
  }
  return new SdkChatModel()
}

test('a ReAct graph (agent -> tools -> agent) is one trace: iterations, one chat span per model call, the tool, the journal', async () => {
  const run = await S.runReact({ fivelens, lc })
  S.verifyReact(run, await finished())
  assert.equal(internalErrors(), 0)
})

test('a graph built by createReactAgent is an agent: invoke_agent with gen_ai.agent.name', async () => {
  const model = S.scriptedModel(lc, [S.call(lc, 'add', { a: 1, b: 2 }, 'r1'), S.answer(lc, '3')])
  const agent = lc.createReactAgent({ llm: model, tools: [S.addTool(lc)], name: 'calculator' })
  const result = await agent.invoke({ messages: [new lc.HumanMessage('1+2')] })
  assert.equal(result.messages[result.messages.length - 1].content, '3')
  // The same graph with a config on top is still the agent.
  await agent.withConfig({ tags: ['x'] }).invoke({ messages: [new lc.HumanMessage('1+2')] })
  const spans = await finished()
  const roots = S.named(spans, 'invoke_agent calculator')
  assert.equal(roots.length, 2)
  for (const root of roots) {
    assert.equal(root.kind, 'internal')
    assert.equal(root.parentSpanId, '')
    assert.equal(root.attributes['gen_ai.operation.name'], 'invoke_agent')
    assert.equal(root.attributes['gen_ai.agent.name'], 'calculator')
    assert.equal(root.attributes['fivelens.framework'], 'langgraph')
    assert.equal(root.attributes['fivelens.agent.iterations'], 3)
  }
  const first = spans.filter((s) => s.traceId === roots[0].traceId)
  assert.deepEqual(S.tree(first), [
    'invoke_agent calculator [internal]',
    '  agent [internal]',
    '    RunnableSequence [internal]',
    '      prompt [internal]',
    '      chat scripted-1 [client]',
    '    RunnableLambda [internal]',
    '  tools [internal]',
    '    execute_tool add [internal]',
    '  agent [internal]',
    '    RunnableSequence [internal]',
    '      prompt [internal]',
    '      chat scripted-1 [client]',
    '    RunnableLambda [internal]',
  ])
  // A graph built by hand is a workflow.
  const graph = new lc.StateGraph(lc.MessagesAnnotation).addNode('only', async () => ({ messages: [] })).addEdge(lc.START, 'only').compile()
  await graph.invoke({ messages: [] })
  const plain = (await finished()).find((s) => s.parentSpanId === '')
  assert.equal(plain.name, 'invoke_workflow LangGraph')
  assert.equal(plain.attributes['gen_ai.workflow.name'], 'LangGraph')
})

test('a chat model invoked on its own: one chat span, made without LangChain\'s callback machinery; a handler the app passes still gets its callbacks', async () => {
  const model = S.scriptedModel(lc, [S.call(lc, 'add', { a: 2, b: 3 }, 'call-1', 'I should add them.'), S.answer(lc, 'It is 5.')])
  const input = [new lc.SystemMessage('You add.'), new lc.HumanMessage('What is 2 + 3?')]
  // Inside an app span: the chat span nests under it.
  const first = await fivelens.withSpan('handler', async () => model.invoke(input))
  // As without fivelens: no LangChain run, so no run id on the message.
  assert.equal(first.id, undefined)
  const spans = await finished()
  assert.deepEqual(S.tree(spans), ['handler [internal]', '  chat scripted-1 [client]'])
  const chat = S.named(spans, 'chat scripted-1')[0]
  const a = chat.attributes
  assert.equal(chat.scope, 'fivelens.langchain')
  assert.equal(a['gen_ai.operation.name'], 'chat')
  assert.equal(a['gen_ai.provider.name'], 'openai')
  assert.equal(a['gen_ai.request.model'], 'scripted-1')
  assert.equal(a['fivelens.framework'], 'langchain')
  assert.equal(a['fivelens.framework.run_id'], undefined)
  assert.equal(a['gen_ai.usage.input_tokens'], 12)
  assert.equal(a['gen_ai.usage.output_tokens'], 6)
  assert.deepEqual(a['gen_ai.response.finish_reasons'], ['tool_calls'])
  assert.deepEqual(JSON.parse(a['gen_ai.input.messages']), [
    { role: 'system', parts: [{ type: 'text', content: 'You add.' }] },
    { role: 'user', parts: [{ type: 'text', content: 'What is 2 + 3?' }] },
  ])
  assert.deepEqual(JSON.parse(a['gen_ai.output.messages']), [
    {
      role: 'assistant',
      parts: [
        { type: 'text', content: 'I should add them.' },
        { type: 'tool_call', id: 'call-1', name: 'add', arguments: { a: 2, b: 3 } },
      ],
      finish_reason: 'tool_calls',
    },
  ])
  assert.ok(chat.end >= chat.start)

  // A handler given by the app: LangChain runs its callbacks, and the span is the same.
  const seen = []
  const handler = { handleChatModelStart: () => seen.push('start'), handleLLMEnd: () => seen.push('end') }
  const second = await model.invoke(input, { callbacks: [handler] })
  assert.match(second.id, /^run-/)
  await fivelens.flush(5000)
  const [viaHandler] = await finished()
  assert.deepEqual(seen, ['start', 'end'])
  assert.equal(viaHandler.name, 'chat scripted-1')
  assert.equal(viaHandler.parentSpanId, '')
  assert.match(viaHandler.attributes['fivelens.framework.run_id'], /^[0-9a-f-]{36}$/)
  assert.equal(viaHandler.attributes['gen_ai.usage.cache_read.input_tokens'], 8)
  assert.deepEqual(JSON.parse(viaHandler.attributes['gen_ai.output.messages'])[0].parts, [{ type: 'text', content: 'It is 5.' }])

  // A failing model: the span is an error, the error reaches the app unchanged.
  class Broken extends lc.BaseChatModel {
    _llmType() {
      return 'broken'
    }
    async _generate() {
      throw new RangeError('model down')
    }
  }
  await assert.rejects(new Broken({}).invoke('hi'), /model down/)
  const [failed] = await finished()
  assert.equal(failed.status, 'error')
  assert.equal(failed.attributes['error.type'], 'RangeError')
  assert.equal(internalErrors(), 0)
})

test('an OpenAI SDK call under a chat model invoked on its own is the one span, with the run\'s framework', async () => {
  const { OpenAI } = require('openai')
  await server.clear()
  const out = await openaiModel(OpenAI).invoke([new lc.HumanMessage('hello')])
  assert.equal(out.tool_calls.length, 1)
  assert.equal((await server.requests()).length, 1)
  const spans = await finished()
  assert.deepEqual(S.tree(spans), ['chat gpt-4o-mini [client]'])
  assert.equal(spans[0].scope, 'fivelens.openai')
  assert.equal(spans[0].attributes['fivelens.framework'], 'langchain')
  assert.ok(spans[0].attributes['gen_ai.usage.input_tokens'] > 0)
  assert.equal(internalErrors(), 0)
})

test('a multi-node graph: spans the app and OpenTelemetry libraries start in a node nest under it; the app span around invoke is the root', async () => {
  const api = require('@opentelemetry/api')
  const tracer = api.trace.getTracer('app.library')
  const writer = S.scriptedModel(lc, [S.answer(lc, 'a draft')])
  const reviewer = S.scriptedModel(lc, [S.answer(lc, 'looks good')])
  const State = lc.Annotation.Root({ question: lc.Annotation(), draft: lc.Annotation(), verdict: lc.Annotation() })
  const graph = new lc.StateGraph(State)
    .addNode('write', async (state) => {
      await fivelens.withSpan('app.lookup', async () => {
        assert.equal(fivelens.currentSpan().name, 'app.lookup')
        await tracer.startActiveSpan('library.query', async (span) => span.end())
      })
      return { draft: (await writer.invoke(state.question)).content }
    })
    .addNode('review', async (state) => {
      tracer.startSpan('library.check').end()
      assert.equal(fivelens.currentSpan().name, 'review', 'currentSpan() inside a node is the node span')
      return { verdict: (await reviewer.invoke(state.draft)).content }
    })
    .addEdge(lc.START, 'write')
    .addEdge('write', 'review')
    .addEdge('review', lc.END)
    .compile({ name: 'drafting' })
  const out = await fivelens.withSpan('request', () => graph.invoke({ question: 'q' }))
  assert.equal(out.verdict, 'looks good')
  const spans = await finished()
  assert.deepEqual(S.tree(spans), [
    'request [internal]',
    '  invoke_workflow drafting [internal]',
    '    write [internal]',
    '      app.lookup [internal]',
    '        library.query [internal]',
    '      chat scripted-1 [client]',
    '    review [internal]',
    '      library.check [internal]',
    '      chat scripted-1 [client]',
  ])
  assert.equal(new Set(spans.map((s) => s.traceId)).size, 1)
  const root = S.named(spans, 'invoke_workflow drafting')[0].attributes
  assert.equal(root['gen_ai.workflow.name'], 'drafting')
  assert.equal(root['fivelens.agent.iterations'], 2)
  assert.ok(!('fivelens.chain.input' in root) && !('fivelens.chain.output' in root))
})

test('OpenAI SDK under a chat model: the SDK span takes the chat run\'s place (one chat span, parent the node)', async () => {
  const { OpenAI } = require('openai')
  await server.clear()
  const agent = lc.createReactAgent({ llm: openaiModel(OpenAI), tools: [S.addTool(lc)], name: 'calc' })
  const result = await agent.invoke({ messages: [new lc.HumanMessage('add 1 and 2')] })
  assert.equal(result.messages.length, 4)
  assert.equal((await server.requests()).length, 2)
  const spans = await finished()
  assert.deepEqual(S.tree(spans), [
    'invoke_agent calc [internal]',
    '  agent [internal]',
    '    RunnableSequence [internal]',
    '      prompt [internal]',
    '      chat gpt-4o-mini [client]',
    '    RunnableLambda [internal]',
    '  tools [internal]',
    '    execute_tool add [internal]',
    '  agent [internal]',
    '    RunnableSequence [internal]',
    '      prompt [internal]',
    '      chat gpt-4o-mini [client]',
    '    RunnableLambda [internal]',
  ])
  const chats = S.named(spans, 'chat gpt-4o-mini')
  assert.equal(chats.length, 2, 'exactly one span per model call')
  const sequences = S.named(spans, 'RunnableSequence')
  const agentRunIds = []
  for (const [i, chat] of chats.entries()) {
    assert.equal(chat.scope, 'fivelens.openai', 'the OpenAI integration\'s span')
    assert.equal(chat.parentSpanId, sequences[i].spanId, 'parent: the chat run\'s parent')
    assert.equal(chat.attributes['fivelens.framework'], 'langgraph')
    assert.match(chat.attributes['fivelens.framework.run_id'], /^[0-9a-f-]{36}$/)
    assert.equal(chat.attributes['gen_ai.provider.name'], 'openai')
    assert.ok(chat.attributes['gen_ai.usage.input_tokens'] > 0)
    agentRunIds.push(chat.attributes['fivelens.framework.run_id'])
  }
  assert.notEqual(agentRunIds[0], agentRunIds[1])
  assert.deepEqual(chats.map((c) => c.attributes['gen_ai.response.finish_reasons']), [['tool_calls'], ['stop']])

  // Directly in a node (no sequence between): the node is the parent.
  const model = openaiModel(OpenAI)
  const graph = new lc.StateGraph(lc.MessagesAnnotation)
    .addNode('ask', async (state) => ({ messages: [await model.invoke(state.messages)] }))
    .addEdge(lc.START, 'ask')
    .compile({ name: 'direct' })
  await graph.invoke({ messages: [new lc.HumanMessage('hello')] })
  const direct = await finished()
  assert.deepEqual(S.tree(direct), ['invoke_workflow direct [internal]', '  ask [internal]', '    chat gpt-4o-mini [client]'])
  assert.equal(S.named(direct, 'chat gpt-4o-mini')[0].parentSpanId, S.named(direct, 'ask')[0].spanId)
  assert.equal(internalErrors(), 0)
})

test('streaming ends every span: graph.stream (whole and broken out of), streamEvents, model.stream through the SDK', async () => {
  const { OpenAI } = require('openai')
  const fresh = () => S.reactGraph(lc, S.scriptedModel(lc, [S.call(lc, 'add', { a: 1, b: 1 }, 's1'), S.answer(lc, '2')]), [S.addTool(lc)])
  let chunks = 0
  for await (const _ of await fresh().stream({ messages: [new lc.HumanMessage('1+1')] }, { streamMode: 'updates' })) chunks++
  assert.equal(chunks, 3)
  let events = 0
  for await (const _ of fresh().streamEvents({ messages: [new lc.HumanMessage('1+1')] }, { version: 'v2' })) events++
  assert.ok(events > 10)
  const full = await finished()
  assert.equal(new Set(full.map((s) => s.traceId)).size, 2)
  for (const traceId of new Set(full.map((s) => s.traceId))) {
    const spans = full.filter((s) => s.traceId === traceId)
    assert.deepEqual(S.tree(spans), [
      'invoke_workflow react [internal]',
      '  agent [internal]',
      '    chat scripted-1 [client]',
      '    RunnableLambda [internal]',
      '  tools [internal]',
      '    execute_tool add [internal]',
      '  agent [internal]',
      '    chat scripted-1 [client]',
      '    RunnableLambda [internal]',
    ])
    assert.ok(spans.every((s) => s.status === 'unset'))
  }

  // Broken out of after the first update: what ran ends as it did; what was still running
  // (the graph run at least) is cancelled by the app, which is not an error.
  for await (const _ of await fresh().stream({ messages: [new lc.HumanMessage('1+1')] }, { streamMode: 'updates' })) break
  await new Promise((r) => setTimeout(r, 20))
  const broken = await finished()
  const root = broken.find((s) => s.parentSpanId === '')
  assert.equal(root.name, 'invoke_workflow react')
  assert.ok(broken.length >= 3, S.tree(broken).join('\n'))
  assert.equal(root.attributes['fivelens.framework.run_cancelled'], true)
  assert.deepEqual(broken.filter((s) => s.status !== 'unset').map((s) => s.name), [])
  assert.ok(!broken.some((s) => 'error.type' in s.attributes), 'a cancelled run is not an error')

  // A step timeout, by contrast, is a failure: LangGraph ends the graph run with the same
  // `Error('Abort')`, and its node saw a TimeoutError.
  const slow = new lc.StateGraph(lc.MessagesAnnotation)
    .addNode('slow', async (_state, config) => {
      await new Promise((resolve, reject) => {
        const t = setTimeout(resolve, 500)
        config.signal?.addEventListener('abort', () => { clearTimeout(t); reject(config.signal.reason) }, { once: true })
      })
      return { messages: [] }
    })
    .addEdge(lc.START, 'slow')
    .compile({ name: 'slow' })
  slow.stepTimeout = 20
  await assert.rejects(slow.invoke({ messages: [new lc.HumanMessage('wait')] }))
  const timedOut = await finished()
  const slowRoot = timedOut.find((s) => s.parentSpanId === '')
  assert.equal(slowRoot.name, 'invoke_workflow slow')
  assert.equal(slowRoot.status, 'error')
  assert.equal(slowRoot.attributes['fivelens.framework.run_cancelled'], undefined)

  // A chat model streamed directly, through the OpenAI SDK: the SDK's streamed span is the one span.
  const model = openaiModel(OpenAI)
  let text = ''
  for await (const chunk of await model.stream([new lc.HumanMessage('tell me'), new lc.ToolMessage({ content: 'x', tool_call_id: 't' })])) text += chunk.content
  assert.ok(text.length > 0)
  const streamed = await finished()
  assert.deepEqual(S.tree(streamed), ['chat gpt-4o-mini [client]'])
  assert.equal(streamed[0].scope, 'fivelens.openai')
  assert.equal(streamed[0].attributes['gen_ai.request.stream'], true)
  assert.equal(streamed[0].attributes['fivelens.framework'], 'langchain')
  assert.match(streamed[0].attributes['fivelens.framework.run_id'], /^[0-9a-f-]{36}$/)
  // And a scripted one: the run is the span.
  for await (const _ of await S.scriptedModel(lc, [S.answer(lc, 'hi there')]).stream('hi')) {
  }
  const own = await finished()
  assert.deepEqual(S.tree(own), ['chat scripted-1 [client]'])
  assert.equal(own[0].attributes['gen_ai.usage.output_tokens'], 4)
  assert.equal(internalErrors(), 0)
})

test('a failing tool: the tool span is an error with the error class; the model is told and answers', async () => {
  class QuotaError extends Error {}
  const broken = lc.tool(
    async () => {
      throw new QuotaError('backend unavailable')
    },
    { name: 'lookup', description: 'Looks up.', schema: lc.z.object({ key: lc.z.string() }) },
  )
  const model = S.scriptedModel(lc, [S.call(lc, 'lookup', { key: 'k' }, 'f1'), S.call(lc, 'lookup', { key: 'k' }, 'f2'), S.answer(lc, 'sorry')])
  const graph = S.reactGraph(lc, model, [broken], 'fails')
  const result = await graph.invoke({ messages: [new lc.HumanMessage('look k up')] })
  assert.equal(result.messages[result.messages.length - 1].content, 'sorry')
  const spans = await finished()
  const tools = S.named(spans, 'execute_tool lookup')
  assert.equal(tools.length, 2)
  for (const t of tools) {
    assert.equal(t.status, 'error')
    assert.equal(t.attributes['error.type'], 'QuotaError')
  }
  // Called again after it failed: a retry by the model.
  assert.equal(tools[0].attributes['fivelens.retry.attempt'], undefined)
  assert.equal(tools[1].attributes['fivelens.retry.attempt'], 2)
  assert.equal(tools[1].attributes['fivelens.retry.reason'], 'QuotaError')
  // ToolNode turned the error into a message: the graph did not fail.
  for (const s of spans.filter((s) => !s.name.startsWith('execute_tool'))) assert.equal(s.status, 'unset', s.name)

  // An exception that escapes fails the tool, its node and the graph.
  const boom = lc.tool(
    async () => {
      throw new RangeError('boom')
    },
    { name: 'broken', description: 'Fails.', schema: lc.z.object({ x: lc.z.number() }) },
  )
  const State = lc.Annotation.Root({ x: lc.Annotation() })
  const escaping = new lc.StateGraph(State)
    .addNode('use_tool', async (state) => ({ x: await boom.invoke({ x: state.x }) }))
    .addEdge(lc.START, 'use_tool')
    .compile({ name: 'escapes' })
  await assert.rejects(escaping.invoke({ x: 1 }), /boom/)
  const failed = await finished()
  for (const name of ['invoke_workflow escapes', 'use_tool', 'execute_tool broken']) {
    const s = S.named(failed, name)[0]
    assert.equal(s.status, 'error', name)
    assert.equal(s.attributes['error.type'], 'RangeError', name)
  }
})

test('an interrupt is not an error: the graph span says interrupted; the resumed run continues the trace', async () => {
  const State = lc.Annotation.Root({ amount: lc.Annotation(), approved: lc.Annotation() })
  const graph = new lc.StateGraph(State)
    .addNode('approve', async (state) => ({ approved: !!lc.interrupt({ amount: state.amount }) }))
    .addEdge(lc.START, 'approve')
    .addEdge('approve', lc.END)
    .compile({ checkpointer: new lc.MemorySaver(), name: 'approval' })
  const config = { configurable: { thread_id: 'order-7' } }
  const first = await graph.invoke({ amount: 10, approved: false }, config)
  assert.ok(first.__interrupt__)
  const second = await graph.invoke(new lc.Command({ resume: true }), config)
  assert.equal(second.approved, true)
  const spans = await finished()
  assert.equal(new Set(spans.map((s) => s.traceId)).size, 1)
  assert.deepEqual(S.tree(spans), ['invoke_workflow approval [internal]', '  approve [internal]', '  invoke_workflow approval [internal]', '    approve [internal]'])
  assert.ok(spans.every((s) => s.status === 'unset'))
  const roots = S.named(spans, 'invoke_workflow approval')
  assert.equal(roots[0].attributes['fivelens.langgraph.interrupted'], true)
  assert.equal(roots[1].attributes['fivelens.langgraph.interrupted'], undefined)
  assert.equal(S.named(spans, 'approve')[0].attributes['fivelens.langgraph.interrupted'], true)
})

test('50 concurrent invokes are 50 separate traces, each with its own tree', async () => {
  const graphs = Array.from({ length: 50 }, (_, i) =>
    S.reactGraph(lc, S.scriptedModel(lc, [S.call(lc, 'add', { a: i, b: 1 }, `c${i}`), S.answer(lc, `done ${i}`)]), [S.addTool(lc, fivelens)], `g${i}`),
  )
  const results = await Promise.all(graphs.map((g, i) => g.invoke({ messages: [new lc.HumanMessage(`q${i}`)] })))
  assert.deepEqual(
    results.map((r) => r.messages[r.messages.length - 1].content),
    graphs.map((_, i) => `done ${i}`),
  )
  const spans = await finished()
  const byTrace = new Map()
  for (const s of spans) byTrace.set(s.traceId, [...(byTrace.get(s.traceId) || []), s])
  assert.equal(byTrace.size, 50)
  for (const trace of byTrace.values()) {
    const root = trace.find((s) => s.parentSpanId === '')
    const i = Number(root.attributes['gen_ai.workflow.name'].slice(1))
    assert.deepEqual(S.tree(trace), [
      `invoke_workflow g${i} [internal]`,
      '  agent [internal]',
      '    chat scripted-1 [client]',
      '    RunnableLambda [internal]',
      '  tools [internal]',
      '    execute_tool add [internal]',
      '      add.compute [internal]',
      '  agent [internal]',
      '    chat scripted-1 [client]',
      '    RunnableLambda [internal]',
    ])
    assert.deepEqual(JSON.parse(S.named(trace, 'execute_tool add')[0].attributes['gen_ai.tool.call.arguments']), { a: i, b: 1 })
  }
})

test('flush() waits for LangChain\'s background callbacks', async () => {
  // An app's own handler, run in LangChain's background queue (its default), that records a
  // span late: flush() right after invoke must still deliver it.
  class SlowHandler extends lc.BaseCallbackHandler {
    constructor() {
      super()
      this.name = 'slow'
      this.awaitHandlers = false
    }
    async handleChainEnd(_outputs, _runId, parentRunId) {
      if (parentRunId) return
      await new Promise((r) => setTimeout(r, 150))
      fivelens.withSpan('background.audit', () => {})
    }
  }
  const graph = new lc.StateGraph(lc.MessagesAnnotation).addNode('n', async () => ({ messages: [] })).addEdge(lc.START, 'n').compile({ name: 'bg' })
  await graph.invoke({ messages: [] }, { callbacks: [new SlowHandler()] })
  assert.equal(await fivelens.flush(5000), true)
  const names = fivelens.testing.finishedSpans().map((s) => s.name)
  assert.ok(names.includes('background.audit'), names.join(', '))
  assert.ok(names.includes('invoke_workflow bg'))
})

test('a plain chain (prompt | model) and a retriever', async () => {
  class Docs extends lc.BaseRetriever {
    constructor() {
      super({})
      this.lc_namespace = ['test']
    }
    async _getRelevantDocuments() {
      return [new lc.Document({ pageContent: 'Paris', id: 'doc-1', metadata: { score: 0.9 } })]
    }
  }
  const docs = await new Docs().invoke('capital of France')
  const prompt = lc.ChatPromptTemplate.fromMessages([
    ['system', 'Answer briefly.'],
    ['human', '{q}'],
  ])
  const chain = prompt.pipe(S.scriptedModel(lc, [S.answer(lc, 'Paris')]))
  const out = await chain.invoke({ q: docs[0].pageContent })
  assert.equal(out.content, 'Paris')
  const spans = await finished()
  assert.deepEqual(S.tree(spans), ['retrieval Docs [client]', 'RunnableSequence [internal]', '  ChatPromptTemplate [internal]', '  chat scripted-1 [client]'])
  const r = S.named(spans, 'retrieval Docs')[0].attributes
  assert.equal(r['gen_ai.operation.name'], 'retrieval')
  assert.equal(r['gen_ai.data_source.id'], 'Docs')
  assert.equal(r['gen_ai.retrieval.query.text'], 'capital of France')
  assert.deepEqual(JSON.parse(r['gen_ai.retrieval.documents']), [{ id: 'doc-1', score: 0.9 }])
  const seq = S.named(spans, 'RunnableSequence')[0].attributes
  assert.equal(seq['fivelens.framework'], 'langchain')
  assert.equal(seq['gen_ai.operation.name'], undefined)
  const chat = S.named(spans, 'chat scripted-1')[0].attributes
  assert.equal(chat['fivelens.framework'], 'langchain')
  assert.ok(chat['fivelens.prompt.hash'], 'the system prompt as sent is hashed')
  assert.equal(JSON.parse(chat['gen_ai.input.messages'])[0].role, 'system')
})

test('a runnable nested in a function keeps its parent run; callbacks never throw into the app', async () => {
  const model = S.scriptedModel(lc, [S.answer(lc, 'inner')])
  const outer = lc.RunnableLambda.from(async (x) => (await model.invoke(x)).content).withConfig({ runName: 'outer' })
  assert.equal(await outer.invoke('hi'), 'inner')
  assert.deepEqual(S.tree(await finished()), ['outer [internal]', '  chat scripted-1 [client]'])
  // Odd values from a model (no message, no usage) are recorded as far as they go.
  class Odd extends lc.BaseChatModel {
    _llmType() {
      return 'odd'
    }
    async _generate() {
      return { generations: [{ text: 'x', message: new lc.AIMessage({ content: [{ type: 'image_url', image_url: 'u' }, 'plain'] }) }] }
    }
  }
  await new Odd({}).invoke([{ role: 'user', content: [{ type: 'text', text: 'a' }] }])
  const odd = (await finished())[0]
  assert.equal(odd.name, 'chat')
  assert.equal(odd.attributes['gen_ai.provider.name'], 'Odd')
  assert.equal(internalErrors(), 0)
})
