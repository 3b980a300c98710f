'use strict'
// LangChain.js in fresh processes: the main scenario through `require` and through `import`
// (separate copies of LangChain, with separate classes), exported to the repository's OTLP
// receiver; the explicit form for bundled apps; the options that change the tree or the content.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { startReceiver, runNode, tempDir, PKG } = require('./helpers')
const S = require('./langchain_scenarios')

/** @type {any} */
let rx
before(async () => {
  rx = await startReceiver()
})
after(() => rx && rx.stop())

const SCENARIOS = JSON.stringify(path.join(PKG, 'test', 'langchain_scenarios.js'))

const ESM_HEAD = `
  import * as fivelens from ${JSON.stringify(path.join(PKG, 'index.mjs'))}
  import { createRequire } from 'node:module'
  ${S.esmImports()}
  const require = createRequire(${JSON.stringify(path.join(PKG, 'test', 'x.js'))})
  const S = require(${SCENARIOS})
`

const CJS_HEAD = `
  const fivelens = require(${JSON.stringify(PKG)})
  const S = require(${SCENARIOS})
`

/** @param {any} out */
function lastJson(out) {
  assert.equal(out.status, 0, out.stderr + out.stdout)
  const lines = out.stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1])
}

/** Spans received for the traces of service `service`. */
async function received(service, n) {
  const spans = await rx.waitFor(1e9, 0)
  let mine = spans.filter((/** @type {any} */ s) => s.resource['service.name'] === service)
  for (let i = 0; i < 200 && mine.length < n; i++) {
    await new Promise((r) => setTimeout(r, 25))
    mine = (await rx.spans()).filter((/** @type {any} */ s) => s.resource['service.name'] === service)
  }
  return mine
}

const env = () => ({ OTEL_EXPORTER_OTLP_ENDPOINT: rx.endpoint })

test('require: LangChain loaded and the graph built before instrument(); the trace at the OTLP receiver', async () => {
  const out = runNode(
    `${CJS_HEAD}
     const lc = S.loadCjs()
     // Built before instrument(): runnables made earlier are seen too.
     const early = S.reactGraph(lc, S.scriptedModel(lc, [S.answer(lc, 'early')]), [S.addTool(lc)], 'early')
     const report = fivelens.instrument({ serviceName: 'lc-cjs', store: 'off' })
     ;(async () => {
       const run = await S.runReact({ fivelens, lc })
       await early.invoke({ messages: [new lc.HumanMessage('hi')] })
       await fivelens.flush()
       console.log(JSON.stringify({ run, enabled: report.enabled }))
     })()`,
    { env: env() },
  )
  const r = lastJson(out)
  assert.ok(r.enabled.includes('langchain'))
  const spans = await received('lc-cjs', S.REACT_TREE.length + 4)
  const early = spans.filter((/** @type {any} */ s) => s.trace_id === spans.find((/** @type {any} */ x) => x.name === 'invoke_workflow early').trace_id)
  assert.deepEqual(S.tree(early.map(S.normalize)), ['invoke_workflow early [internal]', '  agent [internal]', '    chat scripted-1 [client]', '    RunnableLambda [internal]'])
  S.verifyReact(
    r.run,
    spans.filter((/** @type {any} */ s) => !early.includes(s)),
  )
})

test('import: the ES module copies (imported before instrument()) give the same trace', async () => {
  const out = runNode(
    `${ESM_HEAD}
     const report = fivelens.instrument({ serviceName: 'lc-esm', store: 'off' })
     const cjs = require('@langchain/core/callbacks/manager')
     const esm = await import(${JSON.stringify(S.esmPath('@langchain/core/callbacks/manager'))})
     const run = await S.runReact({ fivelens, lc })
     await fivelens.flush()
     console.log(JSON.stringify({ run, enabled: report.enabled, separate: cjs.CallbackManager !== esm.CallbackManager }))`,
    { ext: '.mjs', env: env() },
  )
  const r = lastJson(out)
  assert.equal(r.separate, true, 'the ES module classes are not the CommonJS ones')
  assert.ok(r.enabled.includes('langchain'))
  S.verifyReact(r.run, await received('lc-esm', S.REACT_TREE.length))
})

test('bundled apps: instrumentModules({ langchain }) with the modules as imported', () => {
  const out = runNode(
    `${ESM_HEAD}
     const manager = await import(${JSON.stringify(S.esmPath('@langchain/core/callbacks/manager'))})
     const promises = await import(${JSON.stringify(S.esmPath('@langchain/core/callbacks/promises'))})
     const chatModels = await import(${JSON.stringify(S.esmPath('@langchain/core/language_models/chat_models'))})
     const langgraph = await import(${JSON.stringify(S.esmPath('@langchain/langgraph'))})
     // As a bundled app would: fivelens does not find LangChain by itself.
     fivelens.instrument({ store: 'off', testing: true, integrations: ['opentelemetry'] })
     const graph = () => S.reactGraph(lc, S.scriptedModel(lc, [S.answer(lc, 'ok')]), [S.addTool(lc)], 'bundled')
     await graph().invoke({ messages: [new lc.HumanMessage('before')] })
     const before = fivelens.testing.finishedSpans().length
     const done = fivelens.instrumentModules({ langchain: [manager, promises, chatModels, langgraph] })
     const run = await S.runReact({ fivelens, lc })
     let bad = null
     try { fivelens.instrumentModules({ langchain: {} }) } catch (e) { bad = e.constructor.name + ': ' + e.message }
     await fivelens.flush()
     console.log(JSON.stringify({ done, bad, before, run, spans: fivelens.testing.finishedSpans() }))`,
    { ext: '.mjs' },
  )
  const r = lastJson(out)
  assert.deepEqual(r.done, ['langchain'])
  assert.equal(r.before, 0, 'nothing recorded before the modules were handed over')
  assert.match(r.bad, /^TypeError: .*langchain/)
  S.verifyReact(r.run, r.spans)
})

test('collapseChains and captureChainIo: plumbing runs leave the tree; chain inputs and outputs are recorded', () => {
  const out = runNode(
    `${CJS_HEAD}
     fivelens.instrument({ store: 'off', testing: true, collapseChains: true, captureChainIo: true })
     const lc = S.loadCjs()
     const model = S.scriptedModel(lc, [S.call(lc, 'add', { a: 1, b: 2 }, 'r1'), S.answer(lc, '3')])
     const agent = lc.createReactAgent({ llm: model, tools: [S.addTool(lc)], name: 'react' })
     ;(async () => {
       await agent.invoke({ messages: [new lc.HumanMessage('1+2')] })
       await fivelens.flush()
       console.log(JSON.stringify(fivelens.testing.finishedSpans()))
     })()`,
  )
  const spans = lastJson(out).map(S.normalize)
  // The prompt, the sequence around the model and the routers are plumbing: collapsed.
  assert.deepEqual(S.tree(spans), [
    'invoke_agent react [internal]',
    '  agent [internal]',
    '    chat scripted-1 [client]',
    '  tools [internal]',
    '    execute_tool add [internal]',
    '  agent [internal]',
    '    chat scripted-1 [client]',
  ])
  const root = S.named(spans, 'invoke_agent react')[0].attributes
  assert.equal(JSON.parse(root['fivelens.chain.input']).messages[0].content, '1+2')
  assert.equal(JSON.parse(root['fivelens.chain.input']).messages[0].type, 'human')
  assert.equal(JSON.parse(root['fivelens.chain.output']).messages.length, 4)
  assert.ok(S.named(spans, 'agent')[0].attributes['fivelens.chain.output'])
})

test('captureContent off: the same tree, and no content anywhere (messages, tool arguments, journal, chain I/O)', () => {
  const out = runNode(
    `${CJS_HEAD}
     fivelens.instrument({ store: 'off', testing: true, captureContent: false, captureChainIo: true })
     const lc = S.loadCjs()
     const model = S.scriptedModel(lc, [S.call(lc, 'add', { a: 1, b: 2 }, 'n1', 'secret plan'), S.answer(lc, 'secret answer')])
     const graph = S.reactGraph(lc, model, [S.addTool(lc)], 'quiet')
     ;(async () => {
       await graph.invoke({ messages: [new lc.HumanMessage('my secret question')] })
       await fivelens.flush()
       console.log(JSON.stringify(fivelens.testing.finishedSpans()))
     })()`,
  )
  const raw = lastJson(out)
  const spans = raw.map(S.normalize)
  assert.equal(S.tree(spans).length, 9)
  assert.ok(!JSON.stringify(raw).includes('secret'), 'no content')
  for (const s of spans) {
    for (const k of Object.keys(s.attributes)) assert.ok(!/^gen_ai\.(input|output)|^gen_ai\.tool\.call\.(arguments|result)|^fivelens\.chain\./.test(k), k)
    for (const e of s.events) assert.ok(!('fivelens.step.content' in e.attributes))
  }
  // Usage is still there.
  assert.equal(S.named(spans, 'chat scripted-1')[0].attributes['gen_ai.usage.input_tokens'], 12)
})

test('LangChain alone (no LangGraph, no @langchain/core/context): a runnable nested in a function keeps its parent', () => {
  // An app with @langchain/core only: LangGraph (which would set up LangChain's storage) is not
  // there to be loaded.
  const app = tempDir()
  fs.mkdirSync(path.join(app, 'node_modules', '@langchain'), { recursive: true })
  fs.symlinkSync(path.join(PKG, 'node_modules', '@langchain', 'core'), path.join(app, 'node_modules', '@langchain', 'core'))
  const out = runNode(
    `${CJS_HEAD}
     fivelens.instrument({ store: 'off', testing: true })
     const appRequire = require('node:module').createRequire(${JSON.stringify(path.join(app, 'x.js'))})
     const { RunnableLambda } = appRequire('@langchain/core/runnables')
     const { BaseChatModel } = appRequire('@langchain/core/language_models/chat_models')
     const { AIMessage } = appRequire('@langchain/core/messages')
     class Echo extends BaseChatModel {
       _llmType() { return 'echo' }
       async _generate() { const message = new AIMessage('echo'); return { generations: [{ text: 'echo', message }] } }
     }
     const model = new Echo({})
     const outer = RunnableLambda.from(async (x) => (await model.invoke(x)).content).withConfig({ runName: 'outer' })
     ;(async () => {
       await outer.invoke('hi')
       await fivelens.flush()
       console.log(JSON.stringify({ langgraph: Object.keys(require.cache).some((f) => f.includes('langgraph')), spans: fivelens.testing.finishedSpans() }))
     })()`,
    { cwd: app, env: { NODE_PATH: '' } },
  )
  const r = lastJson(out)
  assert.equal(r.langgraph, false)
  assert.deepEqual(S.tree(r.spans.map(S.normalize)), ['outer [internal]', '  chat [client]'])
})

test('an app that cannot resolve @langchain/core gets it reported as skipped', () => {
  const out = runNode(
    `const f = require(${JSON.stringify(PKG)})
     const r = f.instrument({ store: 'off', testing: true })
     console.log(JSON.stringify({ enabled: r.enabled, skipped: r.skipped }))`,
    { cwd: tempDir(), env: { NODE_PATH: '' } },
  )
  const r = lastJson(out)
  assert.equal(r.skipped.langchain, '@langchain/core is not installed')
  assert.ok(!r.enabled.includes('langchain'))
})
