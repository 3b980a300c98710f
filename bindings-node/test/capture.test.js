'use strict'
// Content capture off (option or OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=false): no
// prompt or completion text leaves the process, while tokens (estimated from the text inside
// the process), cost and the prompt hash still do. Checked on what the OTLP receiver got.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { runNode, startFakeLlm, startReceiver, PKG } = require('./helpers')

let server
before(async () => {
  server = await startFakeLlm()
})
after(() => server && server.stop())

const SECRET = 'ultramarine-pelican-7731'
const SYSTEM = 'confidential-system-prompt-4417'

async function exported(options, env) {
  const rx = await startReceiver()
  try {
    const out = runNode(
      `const f = require(${JSON.stringify(PKG)})
       f.instrument(${JSON.stringify(options)})
       const { OpenAI } = require('openai')
       const { Anthropic } = require('@anthropic-ai/sdk')
       const openai = new OpenAI({ baseURL: process.env.FAKE_URL + '/v1', apiKey: 'k', maxRetries: 0 })
       const anthropic = new Anthropic({ baseURL: process.env.FAKE_URL, apiKey: 'k', maxRetries: 0 })
       const messages = [{ role: 'system', content: ${JSON.stringify(SYSTEM)} }, { role: 'user', content: ${JSON.stringify(SECRET)} }]
       f.withSpan('root', async () => {
         await openai.chat.completions.create({ model: 'gpt-4o-mini', messages })
         const s = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true })
         for await (const _ of s) {}
         await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 20, system: ${JSON.stringify(SYSTEM)}, messages: messages.slice(1) })
         f.withLlmCall({ provider: 'gcp.gemini', model: 'gemini-2.5-pro' }, (call) => {
           call.setInput(messages)
           call.setOutput('echo: ${SECRET}')
         })
       }).then(() => f.flush())`,
      { env: { FAKE_URL: server.url, OTEL_EXPORTER_OTLP_ENDPOINT: rx.endpoint, ...env } },
    )
    assert.equal(out.status, 0, out.stderr)
    return await rx.waitFor(5)
  } finally {
    await rx.stop()
  }
}

function check(spans) {
  assert.equal(spans.length, 5, spans.map((s) => s.name).join(', '))
  const text = JSON.stringify(spans)
  assert.ok(!text.includes(SECRET), 'the prompt text is in no exported span')
  assert.ok(!text.includes(SYSTEM), 'the system prompt is in no exported span')
  const calls = spans.filter((s) => s.name !== 'root')
  assert.equal(calls.length, 4)
  for (const s of calls) {
    const a = s.attributes
    assert.equal(a['gen_ai.input.messages'], undefined, s.name)
    assert.equal(a['gen_ai.output.messages'], undefined, s.name)
    assert.equal(a['gen_ai.system_instructions'], undefined, s.name)
    assert.ok(a['gen_ai.usage.input_tokens'] > 0, `${s.name}: tokens still counted`)
    assert.ok(a['fivelens.cost.usd'] > 0, `${s.name}: cost`)
    assert.match(a['fivelens.prompt.hash'], /^[0-9a-f]+$/, `${s.name}: prompt hash`)
  }
  assert.ok(calls.some((s) => s.attributes['fivelens.usage.estimated'] === true), 'the stream and the Gemini call are estimated')
}

test('captureContent: false keeps content out of every exported span', async () => {
  check(await exported({ captureContent: false }, {}))
})

test('OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=false does the same', async () => {
  check(await exported({}, { OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'false' }))
})

test('with capture on, the content is exported (the check above can fail)', async () => {
  const spans = await exported({}, {})
  assert.ok(JSON.stringify(spans).includes(SECRET))
})
