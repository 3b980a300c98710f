'use strict'
// The Anthropic SDK's built-in OpenTelemetry spans: off by default per client (fivelens records
// the call), kept and adopted when the app turned them on explicitly (option or environment).
// Each case runs in a fresh process: the OpenTelemetry globals can be registered once.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { runNode, startFakeLlm, byCase, PKG } = require('./helpers')

let server
before(async () => {
  server = await startFakeLlm()
})
after(() => server && server.stop())

function run(code, env = {}) {
  const out = runNode(code, { env: { FAKE_URL: server.url, ...env } })
  assert.equal(out.status, 0, out.stderr + out.stdout)
  const lines = out.stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1])
}

const CALLS = `
  const { Anthropic } = require('@anthropic-ai/sdk')
  const opts = { baseURL: process.env.FAKE_URL, apiKey: 'k', maxRetries: 0 }
  const body = { model: 'claude-haiku-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'hello there' }] }
  const clients = {
    default: new Anthropic(opts),
    explicit: new Anthropic({ ...opts, openTelemetry: { traces: { enabled: true } } }),
  }
  clients.copy = clients.default.withOptions({ timeout: 5000 })
  clients.explicitOff = new Anthropic({ ...opts, openTelemetry: false })
  async function calls() {
    for (const [name, client] of Object.entries(clients)) {
      await f.withSpan('case:' + name, async () => {
        await client.messages.create(body)
        const stream = await client.messages.create({ ...body, stream: true })
        for await (const _ of stream) {}
      })
    }
  }
`

/** The spans under each case: [name, scope, storeOnly, cost]. */
function summary(spans) {
  const out = {}
  for (const [name, list] of Object.entries(byCase(spans))) {
    out[name] = list.map((s) => [s.name, s.scope, s.storeOnly, s.attributes['fivelens.cost.usd'] > 0, s.attributes['gen_ai.request.stream'] === true]).sort()
  }
  return out
}

const OURS = [
  ['chat claude-haiku-4-5', 'fivelens.anthropic', false, true, false],
  ['chat claude-haiku-4-5', 'fivelens.anthropic', false, true, true],
]

test('with an app OpenTelemetry SDK provider: one span per call, ours by default, the SDK one (adopted) when explicit', () => {
  const r = run(`
    const api = require('@opentelemetry/api')
    const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks')
    const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base')
    const f = require(${JSON.stringify(PKG)})
    api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
    const exporter = new InMemorySpanExporter()
    api.trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter), f.spanProcessor()] }))
    f.instrument({ store: 'off', testing: true, scheduleDelayMs: 10 })
    ${CALLS}
    calls().then(async () => {
      await f.flush()
      console.log(JSON.stringify({
        spans: f.testing.finishedSpans(),
        appExported: exporter.getFinishedSpans().map((s) => s.name),
        env: Object.keys(process.env).filter((k) => k.startsWith('ANTHROPIC_OPEN_TELEMETRY')),
        enabled: { default: !!clients.default._tracer, explicit: !!clients.explicit._tracer, copy: !!clients.copy._tracer },
      }))
    })
  `)
  const s = summary(r.spans)
  assert.deepEqual(s.default, OURS)
  assert.deepEqual(s.copy, OURS, 'a withOptions() copy keeps the default')
  assert.deepEqual(s.explicitOff, OURS)
  assert.deepEqual(s.explicit, [
    ['anthropic.messages.create', 'com.anthropic.sdk.typescript', true, true, false],
    ['anthropic.messages.create', 'com.anthropic.sdk.typescript', true, true, true],
  ])
  assert.deepEqual(r.appExported, ['anthropic.messages.create', 'anthropic.messages.create'], "the app's pipeline exports the SDK's spans, fivelens stores them")
  assert.deepEqual(r.enabled, { default: false, explicit: true, copy: false })
  assert.deepEqual(r.env, [], 'nothing left in the environment')
})

test('no app provider (fivelens is the delegate): the same policy; an ANTHROPIC_OPEN_TELEMETRY* variable keeps the SDK spans', () => {
  const code = `
    const f = require(${JSON.stringify(PKG)})
    f.instrument({ store: 'off', testing: true, scheduleDelayMs: 10 })
    ${CALLS}
    calls().then(async () => {
      await f.flush()
      console.log(JSON.stringify({ spans: f.testing.finishedSpans() }))
    })
  `
  const s = summary(run(code).spans)
  assert.deepEqual(s.default, OURS)
  assert.deepEqual(s.explicit.map((x) => [x[0], x[1], x[3]]), [
    ['anthropic.messages.create', 'com.anthropic.sdk.typescript', true],
    ['anthropic.messages.create', 'com.anthropic.sdk.typescript', true],
  ])
  const withEnv = summary(run(code, { ANTHROPIC_OPEN_TELEMETRY_TRACES_CONTENT_MODE: 'metadata_only' }).spans)
  assert.deepEqual(withEnv.default.map((x) => x[1]), ['com.anthropic.sdk.typescript', 'com.anthropic.sdk.typescript'])
  assert.deepEqual(withEnv.explicitOff, OURS)
})
