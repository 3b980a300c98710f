'use strict'
// The context window in Node: every model call's tokens by section, the window and the fill,
// growth across a conversation's turns and the 80% alert (the OpenAI SDK and LangChain.js against
// the repository's fake server, asserted at the OTLP receiver), the synchronous check, tiers,
// retrieval spans and verification loops.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { startFakeLlm, startReceiver, tempDir } = require('./helpers')
const S = require('./langchain_scenarios')

const SECTIONS = ['system', 'tools', 'history', 'tool_results', 'user_input']
const WINDOW = 3000

/** @type {any} */
let fivelens
/** @type {any} */
let server
/** @type {any} */
let receiver
/** @type {any} */
let lc

before(async () => {
  server = await startFakeLlm()
  receiver = await startReceiver()
  process.env.FIVELENS_HOME = tempDir('fl-')
  fivelens = require('..')
  fivelens.instrument({
    otlpEndpoint: receiver.endpoint,
    scheduleDelayMs: 10,
    contextLimits: [{ provider: 'openai', model: 'gpt-4o-mini', context_window: WINDOW, max_output_tokens: 500 }],
  })
  lc = S.loadCjs()
})
after(async () => {
  await fivelens.shutdown()
  if (server) server.stop()
  if (receiver) await receiver.stop()
})

const sections = (a) => Object.fromEntries(SECTIONS.map((s) => [s, a[`fivelens.context.tokens.${s}`]]))
const sum = (o) => Object.values(o).reduce((x, y) => x + y, 0)
const words = (messages) => messages.reduce((n, m) => n + String(m.content).split(/\s+/).filter(Boolean).length, 0)

test('a 50-iteration agent loop crosses 80% at the predicted turn and alerts exactly once', async () => {
  const { OpenAI } = require('openai')
  const client = new OpenAI({ baseURL: server.url + '/v1', apiKey: 'k', maxRetries: 0 })
  const messages = [{ role: 'system', content: Array.from({ length: 50 }, (_, i) => `rule${i}`).join(' ') }]
  const reported = []
  await fivelens.withContext({ sessionId: 'node-loop-1' }, async () => {
    for (let i = 0; i < 50; i++) {
      messages.push({ role: 'user', content: `step ${i} ` + Array(28).fill('w').join(' ') })
      const r = await client.chat.completions.create({ model: 'gpt-4o-mini', messages })
      assert.equal(r.usage.prompt_tokens, words(messages))
      reported.push(r.usage.prompt_tokens)
      messages.push({ role: 'assistant', content: r.choices[0].message.content })
    }
  })
  const predicted = reported.findIndex((n) => n >= 0.8 * WINDOW) + 1
  assert.equal(predicted, 40)
  assert.equal(await fivelens.flush(10000), true)
  const spans = (await receiver.waitFor(50))
    .filter((s) => s.attributes['session.id'] === 'node-loop-1' && s.attributes['gen_ai.operation.name'] === 'chat')
    .sort((a, b) => a.attributes['fivelens.context.turn'] - b.attributes['fivelens.context.turn'])
  assert.equal(spans.length, 50)
  const alerted = []
  spans.forEach((span, i) => {
    const a = span.attributes
    const turn = i + 1
    assert.equal(a['fivelens.context.turn'], turn)
    assert.equal(a['fivelens.context.input_tokens'], reported[i])
    assert.equal(sum(sections(a)), reported[i], 'the sections sum to the provider count')
    assert.equal(a['fivelens.context.window'], WINDOW)
    assert.ok(Math.abs(a['fivelens.context.fill'] - reported[i] / WINDOW) < 1e-12)
    if (turn > 1) assert.equal(a['fivelens.context.growth'], 61)
    if (span.events.some((e) => e.name === 'fivelens.context.threshold_crossed')) {
      alerted.push(turn)
      assert.equal(a['fivelens.context.alert'], true)
    }
  })
  assert.deepEqual(alerted, [predicted])
  const points = await receiver.metrics()
  const alerts = points.filter((p) => p.name === 'fivelens.context_window.alerts')
  assert.equal(Math.max(...alerts.map((p) => p.value)), 1)
})

test('LangChain.js model runs carry the breakdown; a model missing from the table gets no fill', async () => {
  const known = S.scriptedModel(lc, [S.answer(lc, 'fine')], 'gpt-4o-mini')
  const unknown = S.scriptedModel(lc, [S.answer(lc, 'fine')], 'scripted-1')
  const input = [new lc.SystemMessage('You are a planner.'), new lc.HumanMessage('Plan a day in Rome.')]
  await fivelens.withSpan('lc-context', async () => {
    await known.invoke(input)
    await unknown.invoke(input)
  })
  assert.equal(await fivelens.flush(10000), true)
  const all = await receiver.spans()
  const root = all.find((s) => s.name === 'lc-context')
  const calls = all.filter((s) => s.trace_id === root.trace_id && s.attributes['gen_ai.operation.name'] === 'chat')
  assert.equal(calls.length, 2)
  const byModel = Object.fromEntries(calls.map((s) => [s.attributes['gen_ai.request.model'], s.attributes]))
  for (const a of Object.values(byModel)) {
    const s = sections(a)
    assert.equal(sum(s), 20, 'scaled to the reported input tokens')
    assert.ok(s.system > 0 && s.user_input > 0, JSON.stringify(s))
  }
  assert.equal(byModel['gpt-4o-mini']['fivelens.context.window'], WINDOW)
  assert.ok(!('fivelens.context.fill' in byModel['scripted-1']))
  assert.ok(!('fivelens.context.window' in byModel['scripted-1']))
  const warnings = fivelens.status().messages.filter((m) => m.includes('no context window known') && m.includes('"scripted-1"'))
  assert.equal(warnings.length, 1)
})

test('contextWindow: the synchronous check with the configured limits', () => {
  const system = 'You are a code reviewer.'
  const check = fivelens.contextWindow('gpt-4o-mini', { system, history: [{ role: 'user', content: 'Review this.' }], retrieved: 2500 })
  assert.equal(check.sections.system, fivelens.countTokens(system, 'gpt-4o-mini'))
  assert.equal(check.sections.history, fivelens.countTokens('Review this.', 'gpt-4o-mini') + 3)
  assert.equal(check.sections.retrieved, 2500)
  assert.equal(check.tokens, sum(check.sections))
  assert.equal(check.limit, WINDOW)
  assert.equal(check.maxOutputTokens, 500)
  assert.equal(check.remaining, WINDOW - check.tokens)
  assert.equal(check.threshold, 0.8)
  assert.equal(check.overThreshold, true)
  const unknown = fivelens.contextWindow('my-local-model', { user_input: 'hi' })
  assert.equal(unknown.limit, null)
  assert.equal(unknown.fill, null)
  assert.throws(() => fivelens.contextWindow('gpt-4o', ['x']), TypeError)
})

test('tiers, retrieval spans and verification loops', async () => {
  const { OpenAI } = require('openai')
  const client = new OpenAI({ baseURL: server.url + '/v1', apiKey: 'k', maxRetries: 0 })
  const openFiles = 'function add(a, b) { return a + b }\n'.repeat(10)
  await fivelens.withSpan('coding-agent', async () => {
    await fivelens.withRetrieval({ dataSource: 'code-index', tier: 'similar', topK: 5, similarityThreshold: 0.7 }, async (r) => {
      r.record({ scanned: 900, selected: 3, cacheHits: 2 })
    })
    await fivelens.withContextTiers({ open_files: openFiles, signatures: 55 }, () =>
      client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: openFiles }] }),
    )
    await fivelens.withVerification('fix add', async (loop) => {
      while (!loop.succeeded && loop.attempts < 5) await loop.attempt(async () => loop.attempts === 2)
    })
  })
  assert.equal(await fivelens.flush(10000), true)
  const all = await receiver.spans()
  const root = all.find((s) => s.name === 'coding-agent')
  const mine = all.filter((s) => s.trace_id === root.trace_id)
  const one = (name) => mine.find((s) => s.name === name)
  const chat = one('chat gpt-4o').attributes
  assert.equal(chat['fivelens.context.tier_tokens.open_files'], fivelens.countTokens(openFiles, 'gpt-4o'))
  assert.equal(chat['fivelens.context.tier_tokens.signatures'], 55)
  const r = one('retrieval code-index').attributes
  assert.equal(r['gen_ai.operation.name'], 'retrieval')
  assert.equal(r['gen_ai.retrieval.top_k'], 5)
  assert.equal(r['fivelens.retrieval.similarity_threshold'], 0.7)
  assert.deepEqual([r['fivelens.retrieval.scanned'], r['fivelens.retrieval.selected'], r['fivelens.retrieval.cache_hits']], [900, 3, 2])
  assert.equal(r['fivelens.context.tier'], 'similar')
  const loop = one('verify fix add')
  assert.equal(loop.attributes['fivelens.verification.attempts'], 2)
  assert.equal(loop.attributes['fivelens.verification.passed'], true)
  const attempts = mine
    .filter((s) => s.name === 'verify_attempt fix add')
    .sort((a, b) => a.attributes['fivelens.verification.attempt'] - b.attributes['fivelens.verification.attempt'])
  assert.deepEqual(attempts.map((s) => s.attributes['fivelens.verification.passed']), [false, true])
  assert.ok(attempts.every((s) => s.parent_span_id === loop.span_id))
  const tiers = (await receiver.metrics()).filter((p) => p.name === 'fivelens.context_window.tokens_by_tier')
  assert.ok(tiers.some((p) => p.attributes['fivelens.context.tier'] === 'signatures' && p.sum === 55))
})
