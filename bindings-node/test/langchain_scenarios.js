'use strict'
// LangChain.js / LangGraph.js runs through fivelens: models, graphs and checks shared by the
// in-process tests (langchain.test.js, CommonJS copies) and the child processes that run the same
// scenario through `require` and through `import` (langchain-modules.test.js). Everything takes
// the LangChain modules as the caller loaded them (`lc`), since the two copies have separate
// classes.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const PKG = path.resolve(__dirname, '..')

/**
 * The LangChain modules the scenarios use, by module: CommonJS (`require`) or ES module paths
 * (for `import`), resolved through the packages' `exports` as the app would.
 */
const MODULES = {
  core: ['@langchain/core/language_models/chat_models', '@langchain/core/messages', '@langchain/core/tools', '@langchain/core/outputs', '@langchain/core/runnables', '@langchain/core/retrievers', '@langchain/core/documents', '@langchain/core/prompts', '@langchain/core/callbacks/base', '@langchain/core/utils/function_calling'],
  graph: ['@langchain/langgraph', '@langchain/langgraph/prebuilt'],
}

/**
 * The file `specifier` resolves to for `import` (the `import` / `default` condition of the
 * package's `exports`).
 * @param {string} specifier
 */
function esmPath(specifier) {
  const parts = specifier.split('/')
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]
  const sub = '.' + specifier.slice(name.length)
  const root = path.join(PKG, 'node_modules', name)
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  let entry = pkg.exports ? (typeof pkg.exports === 'string' && sub === '.' ? pkg.exports : pkg.exports[sub]) : pkg.module || pkg.main
  for (let i = 0; entry && typeof entry === 'object' && i < 5; i++) entry = entry.import ?? entry.default ?? entry.node
  if (typeof entry !== 'string') throw new Error(`no ES module entry for ${specifier}`)
  return path.join(root, entry)
}

/** Every module the scenarios use, merged into one object (their export names do not clash). */
function loadCjs() {
  /** @type {Record<string, any>} */
  const lc = {}
  for (const list of Object.values(MODULES)) for (const m of list) Object.assign(lc, require(m))
  lc.z = require('zod').z
  return lc
}

/** ES code that imports the same modules into `lc` (for a child `.mjs` script). */
function esmImports() {
  const all = Object.values(MODULES).flat()
  const lines = all.map((m, i) => `import * as m${i} from ${JSON.stringify(esmPath(m))}`)
  lines.push(`import { z } from ${JSON.stringify(esmPath('zod'))}`)
  lines.push(`const lc = Object.assign({}, ${all.map((_, i) => `m${i}`).join(', ')}, { z })`)
  return lines.join('\n')
}

/**
 * A chat model that answers from a script (cycling), like a provider would: usage, finish reason.
 * @param {any} lc
 * @param {any[]} responses
 * @param {string} [model]
 */
function scriptedModel(lc, responses, model = 'scripted-1') {
  class ScriptedChatModel extends lc.BaseChatModel {
    constructor() {
      super({})
      this.i = 0
    }
    _llmType() {
      return 'scripted'
    }
    /** @param {any} options */
    getLsParams(options) {
      return { ...super.getLsParams(options), ls_provider: 'openai', ls_model_name: model }
    }
    bindTools() {
      return this
    }
    async _generate() {
      const m = responses[this.i++ % responses.length]
      return { generations: [{ text: typeof m.content === 'string' ? m.content : '', message: m }] }
    }
  }
  return new ScriptedChatModel()
}

/** An AI message calling a tool. */
function call(lc, name, args, id, text = '') {
  return new lc.AIMessage({
    content: text,
    tool_calls: [{ id, name, args }],
    usage_metadata: { input_tokens: 12, output_tokens: 6, total_tokens: 18 },
    response_metadata: { finish_reason: 'tool_calls' },
  })
}

/** A final AI answer. */
function answer(lc, text) {
  return new lc.AIMessage({
    content: text,
    usage_metadata: { input_tokens: 20, output_tokens: 4, total_tokens: 24, input_token_details: { cache_read: 8 } },
    response_metadata: { finish_reason: 'stop' },
  })
}

/** The `add` tool; `withSpan` inside it when `fivelens` is given. */
function addTool(lc, fivelens) {
  return lc.tool(
    async ({ a, b }) => (fivelens ? fivelens.withSpan('add.compute', async () => String(a + b)) : String(a + b)),
    { name: 'add', description: 'Adds two numbers.', schema: lc.z.object({ a: lc.z.number(), b: lc.z.number() }) },
  )
}

/** A ReAct graph built by hand: agent -> (tools -> agent)*. */
function reactGraph(lc, model, tools, name = 'react') {
  const toolNode = new lc.ToolNode(tools)
  return new lc.StateGraph(lc.MessagesAnnotation)
    .addNode('agent', async (state) => ({ messages: [await model.invoke(state.messages)] }))
    .addNode('tools', toolNode)
    .addEdge(lc.START, 'agent')
    .addConditionalEdges('agent', lc.toolsCondition)
    .addEdge('tools', 'agent')
    .compile({ name })
}

/**
 * The main scenario: a ReAct graph invoked inside the app's own span; a span inside the tool.
 * @param {{fivelens: any, lc: any}} env
 */
async function runReact({ fivelens, lc }) {
  const model = scriptedModel(lc, [call(lc, 'add', { a: 2, b: 3 }, 'call-1', 'I should add them.'), answer(lc, 'The sum is 5.')])
  const graph = reactGraph(lc, model, [addTool(lc, fivelens)])
  const result = await fivelens.withSpan('request', () => graph.invoke({ messages: [new lc.HumanMessage('What is 2 + 3?')] }))
  return { answer: result.messages[result.messages.length - 1].content, count: result.messages.length }
}

/**
 * Spans from `testing.finishedSpans()` or from the OTLP receiver, in one shape.
 * @param {any} s
 */
function normalize(s) {
  if ('start' in s) return s
  if ('span_id' in s) {
    return {
      name: s.name,
      kind: ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'][s.kind],
      traceId: s.trace_id,
      spanId: s.span_id,
      parentSpanId: s.parent_span_id || '',
      start: Number(s.start_time_unix_nano),
      end: Number(s.end_time_unix_nano),
      attributes: s.attributes,
      events: (s.events || []).map((/** @type {any} */ e) => ({ name: e.name, attributes: e.attributes })),
      status: ['unset', 'ok', 'error'][s.status_code],
      scope: s.scope,
    }
  }
  return {
    name: s.name,
    kind: s.kind,
    traceId: s.traceId,
    spanId: s.spanId,
    parentSpanId: s.parentSpanId || '',
    start: Number(s.startTime),
    end: Number(s.endTime),
    attributes: s.attributes,
    events: s.events || [],
    status: s.status,
    scope: s.scope,
  }
}

/**
 * The span tree as indented lines, `name [kind]`, children in start order.
 * @param {any[]} spans normalized
 */
function tree(spans) {
  const ids = new Set(spans.map((s) => s.spanId))
  /** @type {Map<string, any[]>} */
  const children = new Map()
  for (const s of spans) {
    const p = ids.has(s.parentSpanId) ? s.parentSpanId : ''
    if (!children.has(p)) children.set(p, [])
    children.get(p).push(s)
  }
  /** @type {string[]} */
  const lines = []
  const walk = (/** @type {string} */ parent, /** @type {number} */ depth) => {
    for (const s of (children.get(parent) || []).sort((a, b) => a.start - b.start)) {
      lines.push('  '.repeat(depth) + `${s.name} [${s.kind}]`)
      walk(s.spanId, depth + 1)
    }
  }
  walk('', 0)
  return lines
}

/** @param {any[]} spans @param {string} name */
const named = (spans, name) => spans.filter((s) => s.name === name).sort((a, b) => a.start - b.start)

const REACT_TREE = [
  'request [internal]',
  '  invoke_workflow react [internal]',
  '    agent [internal]',
  '      chat scripted-1 [client]',
  '      RunnableLambda [internal]',
  '    tools [internal]',
  '      execute_tool add [internal]',
  '        add.compute [internal]',
  '    agent [internal]',
  '      chat scripted-1 [client]',
  '      RunnableLambda [internal]',
]

/**
 * Checks the main scenario's spans: the exact tree, one trace, the GenAI attributes.
 * @param {any} run what runReact returned
 * @param {any[]} raw spans as finished or received
 */
function verifyReact(run, raw) {
  assert.deepEqual(run, { answer: 'The sum is 5.', count: 4 })
  const spans = raw.map(normalize)
  assert.deepEqual(tree(spans), REACT_TREE)
  assert.equal(new Set(spans.map((s) => s.traceId)).size, 1, 'one trace')
  for (const s of spans) assert.ok(s.end >= s.start, `${s.name} ended: ${s.start} ${s.end}`)

  const root = named(spans, 'invoke_workflow react')[0]
  const ra = root.attributes
  assert.equal(ra['gen_ai.operation.name'], 'invoke_workflow')
  assert.equal(ra['gen_ai.workflow.name'], 'react')
  assert.equal(ra['fivelens.framework'], 'langgraph')
  assert.equal(ra['fivelens.framework.run_type'], 'chain')
  assert.equal(ra['fivelens.agent.iterations'], 3)
  assert.equal(ra['fivelens.rollup.llm_calls'], 2)
  assert.ok(!('fivelens.chain.input' in ra), 'chain input capture is off by default')
  assert.equal(root.status, 'unset')

  const nodes = [...named(spans, 'agent'), ...named(spans, 'tools')].sort((a, b) => a.start - b.start)
  assert.deepEqual(nodes.map((n) => n.name), ['agent', 'tools', 'agent'])
  assert.deepEqual(nodes.map((n) => n.attributes['fivelens.langgraph.step']), [1, 2, 3])
  assert.deepEqual(nodes.map((n) => n.attributes['fivelens.agent.iteration']), [1, 2, 3])
  assert.deepEqual(nodes.map((n) => n.attributes['fivelens.langgraph.node']), ['agent', 'tools', 'agent'])
  assert.deepEqual(nodes[0].attributes['fivelens.langgraph.triggers'], ['branch:to:agent'])
  assert.deepEqual(nodes[1].attributes['fivelens.langgraph.triggers'], ['branch:to:tools'])
  for (const n of nodes) {
    assert.equal(n.kind, 'internal')
    assert.equal(n.attributes['fivelens.framework'], 'langgraph')
    assert.equal(n.attributes['fivelens.framework.run_type'], 'chain')
    assert.match(n.attributes['fivelens.framework.run_id'], /^[0-9a-f-]{36}$/)
  }

  const chats = named(spans, 'chat scripted-1')
  assert.equal(chats.length, 2)
  const first = chats[0].attributes
  assert.equal(chats[0].scope, 'fivelens.langchain')
  assert.equal(first['gen_ai.operation.name'], 'chat')
  assert.equal(first['gen_ai.provider.name'], 'openai')
  assert.equal(first['gen_ai.request.model'], 'scripted-1')
  assert.equal(first['gen_ai.usage.input_tokens'], 12)
  assert.equal(first['gen_ai.usage.output_tokens'], 6)
  assert.deepEqual(first['gen_ai.response.finish_reasons'], ['tool_calls'])
  assert.match(first['fivelens.framework.run_id'], /^[0-9a-f-]{36}$/)
  assert.deepEqual(JSON.parse(first['gen_ai.input.messages']), [{ role: 'user', parts: [{ type: 'text', content: 'What is 2 + 3?' }] }])
  assert.deepEqual(JSON.parse(first['gen_ai.output.messages']), [
    {
      role: 'assistant',
      parts: [
        { type: 'text', content: 'I should add them.' },
        { type: 'tool_call', id: 'call-1', name: 'add', arguments: { a: 2, b: 3 } },
      ],
      finish_reason: 'tool_calls',
    },
  ])
  const second = chats[1].attributes
  assert.equal(second['gen_ai.usage.cache_read.input_tokens'], 8)
  assert.deepEqual(second['gen_ai.response.finish_reasons'], ['stop'])
  const secondInput = JSON.parse(second['gen_ai.input.messages'])
  assert.deepEqual(secondInput.map((/** @type {any} */ m) => m.role), ['user', 'assistant', 'tool'])
  assert.deepEqual(secondInput[2].parts[0], { type: 'tool_call_response', id: 'call-1', response: '5' })

  const tool = named(spans, 'execute_tool add')[0]
  const ta = tool.attributes
  assert.equal(tool.kind, 'internal')
  assert.equal(ta['gen_ai.operation.name'], 'execute_tool')
  assert.equal(ta['gen_ai.tool.name'], 'add')
  assert.equal(ta['gen_ai.tool.type'], 'function')
  assert.equal(ta['gen_ai.tool.call.id'], 'call-1')
  assert.deepEqual(JSON.parse(ta['gen_ai.tool.call.arguments']), { a: 2, b: 3 })
  assert.equal(ta['gen_ai.tool.call.result'], '5')
  assert.equal(ta['fivelens.framework.run_type'], 'tool')
  assert.equal(tool.status, 'unset')

  // The reasoning journal, on the iteration spans.
  const journal = nodes.flatMap((n) =>
    n.events.filter((/** @type {any} */ e) => e.name === 'fivelens.agent.step').map((/** @type {any} */ e) => [e.attributes['fivelens.step.kind'], e.attributes['fivelens.step.content']]),
  )
  assert.deepEqual(journal, [
    ['thought', 'I should add them.'],
    ['action', JSON.stringify({ tool: 'add', arguments: { a: 2, b: 3 } })],
    ['observation', '5'],
    ['final', 'The sum is 5.'],
  ])
}

module.exports = { MODULES, esmPath, esmImports, loadCjs, scriptedModel, call, answer, addTool, reactGraph, runReact, verifyReact, normalize, tree, named, REACT_TREE }
