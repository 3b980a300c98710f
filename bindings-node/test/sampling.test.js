'use strict'
// Sampling from Node: tail policies (errors, keepTrace, baseline) and head mode (spans of a
// dropped trace are not handed over, model calls still counted), checked at the OTLP receiver.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { runNode, startReceiver, PKG } = require('./helpers')

async function run(options, body) {
  const rx = await startReceiver()
  try {
    const out = runNode(
      `const f = require(${JSON.stringify(PKG)})
       f.instrument(${JSON.stringify(options)})
       ;(async () => {
         ${body}
         await f.flush()
       })()`,
      { env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.endpoint } },
    )
    assert.equal(out.status, 0, out.stderr)
    await new Promise((r) => setTimeout(r, 200))
    return { spans: await rx.spans(), stdout: out.stdout, metrics: await rx.metrics() }
  } finally {
    await rx.stop()
  }
}

test('tail: errors and keepTrace are kept under a zero baseline, whole traces, the decision on the root', async () => {
  const { spans, stdout } = await run(
    { store: 'off', sampling: 'errors,keep,baseline:0' },
    `for (let i = 0; i < 50; i++) {
       await f.withSpan('request', async () => {
         await f.withSpan('step', async () => {})
       })
     }
     await f.withSpan('failing', async () => {
       await f.withSpan('step', async () => { throw new Error('boom') })
     }).catch(() => {})
     await f.withSpan('flagged', async () => {
       await f.withSpan('guardrail', async () => { console.log(f.keepTrace('guardrail.block')) })
     })
     console.log(f.keepTrace())`,
  )
  assert.deepEqual(stdout.trim().split('\n'), ['true', 'false'])
  const roots = spans.filter((s) => !s.parent_span_id)
  assert.deepEqual(roots.map((s) => s.name).sort(), ['failing', 'flagged'])
  assert.equal(spans.length, 4)
  const reason = Object.fromEntries(roots.map((s) => [s.name, s.attributes['fivelens.sampling.reason']]))
  assert.deepEqual(reason, { failing: 'error', flagged: 'keep:guardrail.block' })
})

test('head: a dropped trace is not handed over, its traceparent says so, its model calls are counted', async () => {
  const { spans, stdout, metrics } = await run(
    { store: 'off', sampling: ['baseline:0.5'], samplingMode: 'head', metricsExporter: 'otlp' },
    `const kept = new Set()
     let unsampledParents = 0
     for (let i = 0; i < 200; i++) {
       await f.withSpan('request', async (root) => {
         if (root.traceparent.endsWith('-01')) kept.add(root.traceId)
         else unsampledParents++
         await f.withSpan('step', async () => {})
         await f.withLlmCall({ provider: 'acme', model: 'm1' }, async (call) => { call.setUsage({ inputTokens: 10, outputTokens: 1 }) })
       })
     }
     console.log(JSON.stringify({ kept: [...kept], unsampledParents }))`,
  )
  const { kept, unsampledParents } = JSON.parse(stdout.trim())
  assert.ok(kept.length > 60 && kept.length < 140, String(kept.length))
  assert.equal(kept.length + unsampledParents, 200)
  assert.deepEqual([...new Set(spans.map((s) => s.trace_id))].sort(), kept.sort())
  assert.equal(spans.length, kept.length * 3)
  const tokens = metrics.filter((p) => p.name === 'fivelens.llm.tokens')
  const last = Math.max(...tokens.map((p) => p.time_unix_nano))
  const byType = Object.fromEntries(tokens.filter((p) => p.time_unix_nano === last).map((p) => [p.attributes['fivelens.token.type'], p.value]))
  assert.deepEqual(byType, { input: 2000, output: 200 })
})
