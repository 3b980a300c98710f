'use strict'
// The OpenAI and Anthropic SDKs (CommonJS copies) through fivelens, against the repository's
// fake provider server: every case of scenarios.js, checked on the processed spans.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { startFakeLlm, tempDir } = require('./helpers')
const { runScenarios, verify } = require('./scenarios')

let server
let fivelens

before(async () => {
  server = await startFakeLlm()
  process.env.FIVELENS_HOME = tempDir('fl-')
  fivelens = require('..')
  const report = fivelens.instrument({ store: 'off', testing: true, scheduleDelayMs: 10 })
  assert.ok(report.enabled.includes('openai'), JSON.stringify(report))
  assert.ok(report.enabled.includes('anthropic'), JSON.stringify(report))
})
after(() => server && server.stop())

test('CommonJS SDKs: every case gives one correct model-call span and the SDK behaves as without fivelens', async () => {
  // Required after instrument(): patched when the app requires them.
  const { OpenAI } = require('openai')
  const { Anthropic } = require('@anthropic-ai/sdk')
  await server.clear()
  const run = await runScenarios({ fivelens, OpenAI, Anthropic, url: server.url })
  assert.equal(await fivelens.flush(5000), true)
  verify(run, fivelens.testing.finishedSpans(), await server.requests(), server.url)
})

test('a stream never read and a promise never awaited end their spans when collected', async () => {
  const v8 = require('node:v8')
  v8.setFlagsFromString('--expose-gc')
  const gc = require('node:vm').runInNewContext('gc')
  const { OpenAI } = require('openai')
  const client = new OpenAI({ baseURL: server.url + '/v1', apiKey: 'k', maxRetries: 0 })
  fivelens.testing.clearFinishedSpans()
  await (async () => {
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'dropped stream' }], stream: true })
    client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'never awaited' }] })
  })()
  let spans = []
  for (let i = 0; i < 50 && spans.length < 2; i++) {
    await new Promise((r) => setTimeout(r, 20))
    gc()
    await fivelens.flush()
    spans = fivelens.testing.finishedSpans()
  }
  assert.deepEqual(spans.map((s) => s.name), ['chat gpt-4o-mini', 'chat gpt-4o-mini'])
  assert.deepEqual(spans.map((s) => s.attributes['gen_ai.request.stream'] === true).sort(), [false, true])
})
