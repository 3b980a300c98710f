'use strict'
// The ES module copies of the OpenAI and Anthropic SDKs (separate classes from the CommonJS
// ones) through fivelens: the cases of scenarios.js in a child process that imports everything.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { startFakeLlm, runNode, tempDir, PKG } = require('./helpers')
const { verify } = require('./scenarios')

let server
before(async () => {
  server = await startFakeLlm()
})
after(() => server && server.stop())

const imports = `
  import OpenAI from ${JSON.stringify(path.join(PKG, 'node_modules', 'openai', 'index.mjs'))}
  import Anthropic from ${JSON.stringify(path.join(PKG, 'node_modules', '@anthropic-ai', 'sdk', 'index.mjs'))}
  import * as fivelens from ${JSON.stringify(path.join(PKG, 'index.mjs'))}
  import { createRequire } from 'node:module'
  const require = createRequire(${JSON.stringify(path.join(PKG, 'test', 'x.js'))})
`

function lastJson(out) {
  assert.equal(out.status, 0, out.stderr + out.stdout)
  const lines = out.stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1])
}

test('ES module SDKs: patched at instrument(), every case gives one correct span', async () => {
  await server.clear()
  const out = runNode(
    `${imports}
     const report = fivelens.instrument({ store: 'off', testing: true, scheduleDelayMs: 10 })
     const { runScenarios } = require('./scenarios.js')
     const cjs = require('openai')
     const run = await runScenarios({ fivelens, OpenAI, Anthropic, url: process.env.FAKE_URL })
     await fivelens.flush()
     console.log(JSON.stringify({ run, spans: fivelens.testing.finishedSpans(), enabled: report.enabled, separate: cjs.OpenAI !== OpenAI }))`,
    { ext: '.mjs', env: { FAKE_URL: server.url } },
  )
  const r = lastJson(out)
  assert.equal(r.separate, true, 'the ES module classes are not the CommonJS ones')
  assert.ok(r.enabled.includes('openai') && r.enabled.includes('anthropic'))
  verify(r.run, r.spans, await server.requests(), server.url)
})

test('instrumentModules patches SDK modules handed over (bundled apps), and rejects others', () => {
  const out = runNode(
    `${imports}
     fivelens.instrument({ store: 'off', testing: true, integrations: [] })
     const client = new OpenAI({ baseURL: process.env.FAKE_URL + '/v1', apiKey: 'k', maxRetries: 0 })
     const before = await fivelens.withSpan('before', () => client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }))
     const done = fivelens.instrumentModules({ openai: OpenAI, anthropic: await import(${JSON.stringify(path.join(PKG, 'node_modules', '@anthropic-ai', 'sdk', 'index.mjs'))}) })
     await fivelens.withSpan('after', () => client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }))
     let bad = null
     try { fivelens.instrumentModules({ openai: {} }) } catch (e) { bad = e.constructor.name + ': ' + e.message }
     await fivelens.flush()
     console.log(JSON.stringify({ done, bad, spans: fivelens.testing.finishedSpans().map((s) => [s.name, s.parentSpanId]) }))`,
    { ext: '.mjs', env: { FAKE_URL: server.url } },
  )
  const r = lastJson(out)
  assert.deepEqual(r.done, ['openai', 'anthropic'])
  assert.match(r.bad, /^TypeError: .*openai/)
  const names = r.spans.map((s) => s[0]).sort()
  assert.deepEqual(names, ['after', 'before', 'chat gpt-4o-mini'], 'only the call after instrumentModules is recorded')
})

test('an app that cannot resolve the SDKs gets them reported as skipped', () => {
  const dir = tempDir()
  const out = runNode(
    `const f = require(${JSON.stringify(PKG)})
     const r = f.instrument({ store: 'off', testing: true })
     console.log(JSON.stringify({ enabled: r.enabled, skipped: r.skipped }))`,
    { cwd: dir, env: { NODE_PATH: '' } },
  )
  const r = lastJson(out)
  assert.equal(r.skipped.openai, 'openai is not installed')
  assert.equal(r.skipped.anthropic, '@anthropic-ai/sdk is not installed')
  assert.ok(!r.enabled.includes('openai'))
})
