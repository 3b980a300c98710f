'use strict'
// Model calls recorded by hand (withLlmCall / startLlmCall) for providers fivelens does not
// wrap; stage and prompt labels; token counting.

const { test, before, beforeEach } = require('node:test')
const assert = require('node:assert/strict')
const { byName, tempDir } = require('./helpers')
const fivelens = require('..')

before(() => {
  process.env.FIVELENS_HOME = tempDir('fl-')
  fivelens.instrument({ store: 'off', testing: true, scheduleDelayMs: 10, integrations: [] })
})
beforeEach(() => fivelens.testing.clearFinishedSpans())

async function finished() {
  assert.equal(await fivelens.flush(5000), true)
  return byName(fivelens.testing.finishedSpans())
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

test('withLlmCall: a Gemini call with usage gets its span, cost, TTFC and content', async () => {
  let parent
  const reply = await fivelens.withSpan('agent', async (agent) => {
    parent = agent
    return fivelens.withLlmCall(
      { provider: 'gcp.gemini', model: 'gemini-2.5-pro', serverAddress: 'generativelanguage.googleapis.com', serverPort: 443, stream: true, temperature: 0.3, maxTokens: 512, stopSequences: 'END' },
      async (call) => {
        assert.equal(fivelens.currentSpan(), call.span, 'the call is the active span')
        call.setInput([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Why is the sky blue?' }])
        await sleep(20)
        call.chunk('Rayleigh ')
        await sleep(5)
        call.chunk('scattering.')
        call.setUsage({ inputTokens: 1000, outputTokens: 200 })
        call.setResponse({ id: 'resp-1', model: 'gemini-2.5-pro-001', finishReasons: ['stop'] })
        return 'done'
      },
    )
  })
  assert.equal(reply, 'done')
  const s = (await finished())['chat gemini-2.5-pro']
  const a = s.attributes
  assert.equal(s.kind, 'client')
  assert.equal(s.parentSpanId, parent.spanId)
  assert.equal(s.scope, 'fivelens')
  assert.equal(a['gen_ai.provider.name'], 'gcp.gemini')
  assert.equal(a['gen_ai.operation.name'], 'chat')
  assert.equal(a['gen_ai.request.temperature'], 0.3)
  assert.equal(a['gen_ai.request.max_tokens'], 512)
  assert.deepEqual(a['gen_ai.request.stop_sequences'], ['END'])
  assert.equal(a['gen_ai.request.stream'], true)
  assert.equal(a['server.address'], 'generativelanguage.googleapis.com')
  assert.equal(a['server.port'], 443)
  assert.equal(a['gen_ai.response.id'], 'resp-1')
  assert.equal(a['gen_ai.response.model'], 'gemini-2.5-pro-001')
  assert.ok(Math.abs(a['fivelens.cost.usd'] - (1000 * 1.25 + 200 * 10) / 1e6) < 1e-12, String(a['fivelens.cost.usd']))
  assert.equal(a['fivelens.usage.estimated'], undefined)
  const ttfc = a['gen_ai.response.time_to_first_chunk']
  assert.ok(ttfc >= 0.015 && ttfc < 2, `ttfc ${ttfc} s`)
  assert.deepEqual(JSON.parse(a['gen_ai.output.messages']), [{ role: 'assistant', parts: [{ type: 'text', content: 'Rayleigh scattering.' }] }])
  assert.equal(JSON.parse(a['gen_ai.input.messages'])[1].parts[0].content, 'Why is the sky blue?')
  assert.match(a['fivelens.prompt.hash'], /^[0-9a-f]+$/)
  for (const k of Object.keys(a)) assert.ok(!k.startsWith('fivelens._'), k)
})

test('without reported usage the tokens are estimated; a call failing before output is not', async () => {
  fivelens.withLlmCall({ provider: 'ollama', model: 'llama3.1', operation: 'text_completion' }, (call) => {
    call.setInput('Tell me a joke about tokens')
    call.setOutput('Why did the token cross the road?', { finishReasons: 'stop' })
  })
  const boom = new RangeError('model exploded')
  await assert.rejects(
    fivelens.withLlmCall({ provider: 'ollama', model: 'failing' }, async (call) => {
      call.setInput('this never gets an answer')
      throw boom
    }),
    (e) => e === boom,
  )
  const spans = await finished()
  const a = spans['text_completion llama3.1'].attributes
  assert.equal(a['fivelens.usage.estimated'], true)
  assert.ok(a['gen_ai.usage.input_tokens'] > 0 && a['gen_ai.usage.output_tokens'] > 0)
  assert.deepEqual(a['gen_ai.response.finish_reasons'], ['stop'])
  assert.equal(JSON.parse(a['gen_ai.output.messages'])[0].finish_reason, 'stop')
  const f = spans['chat failing']
  assert.equal(f.status, 'error')
  assert.equal(f.statusMessage, 'model exploded')
  assert.equal(f.attributes['error.type'], 'RangeError')
  assert.equal(f.attributes['gen_ai.usage.input_tokens'], undefined)
  assert.equal(f.attributes['fivelens.usage.estimated'], undefined)
})

test('startLlmCall: explicit end time, fail with a message, bad options throw a TypeError naming them', async () => {
  const call = fivelens.startLlmCall({ provider: 'aws.bedrock', model: 'titan', operation: 'embeddings', encodingFormats: 'float', attributes: { 'app.kind': 'x' } })
  assert.notEqual(fivelens.currentSpan(), call.span, 'not made active')
  call.fail('quota exceeded')
  call.end(Date.now() + 1000)
  call.end()
  assert.equal(call.ended, true)
  assert.throws(() => fivelens.startLlmCall({ provider: 'x', modle: 'typo' }), (e) => e instanceof TypeError && /modle/.test(e.message) && /maxTokens/.test(e.message))
  assert.throws(() => fivelens.startLlmCall({ model: 'm' }), (e) => e instanceof TypeError && /provider/.test(e.message))
  assert.throws(() => fivelens.startLlmCall({ provider: 'x', maxTokens: 1.5 }), (e) => e instanceof TypeError && /maxTokens/.test(e.message))
  assert.throws(() => fivelens.withLlmCall({ provider: 'x' }), TypeError)
  const s = (await finished())['embeddings titan']
  assert.equal(s.status, 'error')
  assert.equal(s.statusMessage, 'quota exceeded')
  assert.equal(s.attributes['error.type'], '_OTHER')
  assert.deepEqual(s.attributes['gen_ai.request.encoding_formats'], ['float'])
  assert.equal(s.attributes['app.kind'], 'x')
  assert.ok(s.endTime - s.startTime >= 900e6)
})

test('withStage and withPrompt label model calls only, through awaits, nested, and return what fn returns', async () => {
  const result = await fivelens.withStage('planner', async () => {
    await fivelens.withSpan('plain', async () => {
      await sleep(2)
      fivelens.withLlmCall({ provider: 'ollama', model: 'in-stage' }, () => {})
    })
    const v = await fivelens.withPrompt('summarize', 'v2', async () => {
      await sleep(2)
      fivelens.withStage('synthesis', () => fivelens.withLlmCall({ provider: 'ollama', model: 'nested' }, () => {}))
      return 41
    })
    fivelens.withContext({ sessionId: 's1' }, () => fivelens.withLlmCall({ provider: 'ollama', model: 'with-context' }, () => {}))
    return v + 1
  })
  assert.equal(result, 42)
  assert.equal(fivelens.withPrompt('no-version', () => 'sync'), 'sync')
  fivelens.withLlmCall({ provider: 'ollama', model: 'outside' }, () => {})
  const spans = await finished()
  assert.equal(spans['chat in-stage'].attributes['fivelens.stage'], 'planner')
  assert.equal(spans.plain.attributes['fivelens.stage'], undefined, 'not on other spans')
  const nested = spans['chat nested'].attributes
  assert.equal(nested['fivelens.stage'], 'synthesis', 'the inner stage wins')
  assert.equal(nested['gen_ai.prompt.name'], 'summarize')
  assert.equal(nested['gen_ai.prompt.version'], 'v2')
  assert.equal(spans['chat with-context'].attributes['fivelens.stage'], 'planner')
  assert.equal(spans['chat with-context'].attributes['session.id'], 's1')
  assert.equal(spans['chat outside'].attributes['fivelens.stage'], undefined)
  assert.throws(() => fivelens.withStage('', () => {}), (e) => e instanceof TypeError && /name/.test(e.message))
  assert.throws(() => fivelens.withStage(3, () => {}), TypeError)
  assert.throws(() => fivelens.withPrompt('p', {}, () => {}), (e) => e instanceof TypeError && /version/.test(e.message))
  assert.throws(() => fivelens.withStage('s'), TypeError)
})

test('countTokens and tokenEncoding', () => {
  assert.equal(fivelens.tokenEncoding('gpt-4o'), 'o200k_base')
  assert.equal(fivelens.tokenEncoding('gpt-4'), 'cl100k_base')
  assert.equal(fivelens.tokenEncoding('claude-haiku-4-5'), null)
  assert.equal(fivelens.countTokens('hello world', 'gpt-4o'), 2)
  assert.equal(fivelens.countTokens(''), 0)
  assert.ok(fivelens.countTokens('hello world '.repeat(100), null, { encoding: 'cl100k_base' }) >= 200)
  assert.throws(() => fivelens.countTokens('x', null, { encoding: 'p50k' }), /p50k/)
  assert.throws(() => fivelens.countTokens(42), TypeError)
})
