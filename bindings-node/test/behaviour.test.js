'use strict'
// The behaviour lens from Node at the real OTLP receiver: guardrail spans, counters and the keep
// flag; false positives and resubmissions; signals; drift against golden outputs; a slow
// evaluator that does not delay the response and a saturated pool; Time-To-Good-Output over two
// regenerations and `fivelens stats`.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { runNode, startReceiver, PKG } = require('./helpers')

async function run(options, body) {
  const rx = await startReceiver()
  try {
    const out = runNode(
      `const f = require(${JSON.stringify(PKG)})
       f.instrument(${JSON.stringify({ metricsExporter: 'otlp', ...options })})
       ;(async () => {
         ${body}
         await f.waitForEvaluations()
         await f.flush()
       })().catch((e) => { console.error(e); process.exit(1) })`,
      { env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.endpoint } },
    )
    assert.equal(out.status, 0, out.stderr)
    return { spans: await rx.spans(), metrics: await rx.metrics(), logs: await rx.logs(), stdout: out.stdout, dir: out.dir }
  } finally {
    await rx.stop()
  }
}

function latest(metrics, name) {
  const points = metrics.filter((p) => p.name === name)
  if (points.length === 0) return []
  const last = Math.max(...points.map((p) => p.time_unix_nano))
  return points.filter((p) => p.time_unix_nano === last)
}

const named = (spans, name) => spans.filter((s) => s.name === name)

test('withGuardrail records the check, counts verdicts and a block keeps its trace', async () => {
  const { spans, metrics } = await run(
    { store: 'off', sampling: 'keep,baseline:0' },
    `await f.withSpan('allowed request', () => f.withGuardrail('toxicity', (c) => c.record('pass', { scores: { toxicity: 0.1 } })))
     await f.withSpan('blocked request', () => f.withGuardrail('toxicity', async (c) => { c.record('block', { action: 'refuse', scores: { toxicity: 0.97 } }) }))
     await f.withSpan('flagged request', () => f.withGuardrail('pii', () => ({ verdict: 'flag', scores: { pii: 0.7 } })))`,
  )
  assert.deepEqual(new Set(spans.map((s) => s.name)), new Set(['blocked request', 'guardrail toxicity']))
  const check = named(spans, 'guardrail toxicity')[0]
  assert.equal(check.attributes['fivelens.guardrail.verdict'], 'block')
  assert.equal(check.attributes['fivelens.guardrail.action'], 'refuse')
  assert.equal(check.attributes['fivelens.guardrail.score.toxicity'], 0.97)
  assert.equal(check.attributes['fivelens.sampling.keep'], 'guardrail:toxicity')
  assert.equal(check.parent_span_id, named(spans, 'blocked request')[0].span_id)
  const verdicts = Object.fromEntries(
    latest(metrics, 'fivelens.guardrail.verdicts').map((p) => [
      `${p.attributes['fivelens.guardrail.policy']}/${p.attributes['fivelens.guardrail.verdict']}/${p.attributes['fivelens.guardrail.action']}`,
      p.value,
    ]),
  )
  assert.deepEqual(verdicts, { 'toxicity/pass/allow': 1, 'toxicity/block/refuse': 1, 'pii/flag/allow': 1 })
  assert.equal(latest(metrics, 'fivelens.guardrail.duration').reduce((n, p) => n + p.count, 0), 3)
})

test('false positives, over-redaction reports and resubmissions', async () => {
  const { spans, metrics, stdout } = await run(
    { store: 'off' },
    `let blocked
     await f.withSpan('first submit', () => f.withGuardrail('jailbreak', (c) => { c.record('block'); blocked = c.span }))
     await f.withSpan('other submit', () => f.withGuardrail('jailbreak', (c) => c.record('flag')))
     if (!f.feedback.falsePositive(blocked.traceparent, 'jailbreak', { reason: 'a recipe question' })) throw new Error('not recorded')
     f.feedback.overRedaction(blocked.traceId, 'phone')
     await f.withSpan('resubmit', () => f.withGuardrail('jailbreak', { resubmissionOf: blocked }, (c) => c.record('pass')))
     console.log(JSON.stringify([blocked.traceId, blocked.spanId]))`,
  )
  const [traceId, spanId] = JSON.parse(stdout)
  const fp = named(spans, 'feedback false_positive')[0]
  assert.equal(fp.trace_id, traceId)
  assert.equal(fp.parent_span_id, spanId)
  assert.equal(fp.attributes['fivelens.feedback.reason'], 'a recipe question')
  const resubmitted = named(spans, 'guardrail jailbreak').find((s) => s.attributes['fivelens.guardrail.verdict'] === 'pass')
  assert.equal(resubmitted.attributes['fivelens.guardrail.resubmission'], true)
  assert.deepEqual(resubmitted.links.map((l) => [l.trace_id, l.span_id]), [[traceId, spanId]])
  assert.deepEqual(latest(metrics, 'fivelens.guardrail.false_positives').map((p) => p.value), [1])
  assert.deepEqual(latest(metrics, 'fivelens.guardrail.false_positive_rate').map((p) => [p.kind, p.value]), [['gauge', 0.5]])
  assert.deepEqual(latest(metrics, 'fivelens.guardrail.resubmissions').map((p) => p.value), [1])
  assert.deepEqual(latest(metrics, 'fivelens.redaction.over_redactions').map((p) => [p.attributes['fivelens.pii.type'], p.value]), [['PHONE', 1]])
})

test('confidence, intent with the low-confidence threshold, re-ranker spread, drift against goldens', async () => {
  const { spans, metrics } = await run(
    { store: 'on', intentLowConfidenceThreshold: 0.6 },
    `await f.withSpan('classify', () => {
       f.recordConfidence(0.83, { source: 'answer' })
       const top = f.recordIntent({ refund: 0.55, cancel: 0.3, other: 0.15 })
       if (top[0] !== 'refund') throw new Error('top intent')
     })
     await f.withSpan('retrieve', () => { f.recordRerank([0.91, 0.4, 0.12]) })
     f.registerGolden('v1', 'Refunds take five business days.')
     await f.withSpan('same', () => f.checkDrift('Refunds take five business days.', { promptVersion: 'v1' }))
     await f.withSpan('drifted', () => f.checkDrift('Refunds take seven business days.', { promptVersion: 'v1' }))`,
  )
  const a = named(spans, 'classify')[0].attributes
  assert.equal(a['fivelens.confidence.score'], 0.83)
  assert.equal(a['fivelens.intent.name'], 'refund')
  assert.equal(a['fivelens.intent.low_confidence'], true)
  assert.equal(named(spans, 'retrieve')[0].attributes['fivelens.rerank.documents'], 3)
  assert.ok(Math.abs(named(spans, 'same')[0].attributes['fivelens.drift.similarity'] - 1) < 1e-9)
  const drifted = named(spans, 'drifted')[0].attributes['fivelens.drift.similarity']
  assert.ok(drifted > 0.5 && drifted < 1, String(drifted))
  assert.ok(!spans.some((s) => Object.keys(s.attributes).some((k) => k.startsWith('fivelens._'))))
  assert.deepEqual(latest(metrics, 'fivelens.confidence').map((p) => p.count), [1])
  assert.deepEqual(latest(metrics, 'fivelens.intent.low_confidence').map((p) => [p.attributes['fivelens.intent.name'], p.value]), [['refund', 1]])
  const spread = latest(metrics, 'fivelens.rerank.spread')
  assert.ok(Math.abs(spread[0].sum - 0.79) < 1e-9)
  assert.deepEqual(latest(metrics, 'fivelens.drift.similarity').map((p) => [p.attributes['fivelens.drift.prompt_version'], p.count]), [['v1', 2]])
})

test('a slow evaluator never delays the response; its result is attached to the judged span', async () => {
  const { logs, metrics, stdout } = await run(
    { store: 'off' },
    `let release
     const released = new Promise((r) => { release = r })
     const finished = []
     f.registerEvaluator('hallucination', async (sample) => {
       await released
       finished.push(sample.output)
       return { score: 0.2, label: 'hallucinated', explanation: 'not in the context' }
     })
     const [response, ids] = await f.withSpan('request', async (span) => {
       const queued = f.evaluate({ output: 'The moon is cheese.', context: ['The moon is rock.'] })
       if (queued !== 1) throw new Error('not queued')
       return ['The moon is cheese.', [span.traceId, span.spanId]]
     })
     // The response is back; the evaluator cannot have finished (it waits for the release).
     const before = finished.length
     release()
     await f.waitForEvaluations()
     console.log(JSON.stringify({ response, ids, before, after: finished.length }))`,
  )
  const out = JSON.parse(stdout)
  assert.equal(out.response, 'The moon is cheese.')
  assert.equal(out.before, 0)
  assert.equal(out.after, 1)
  const records = logs.filter((r) => r.event_name === 'gen_ai.evaluation.result')
  assert.equal(records.length, 1)
  assert.deepEqual([records[0].trace_id, records[0].span_id], out.ids)
  assert.equal(records[0].attributes['gen_ai.evaluation.score.label'], 'hallucinated')
  assert.deepEqual(latest(metrics, 'fivelens.evaluation.hallucination_rate').map((p) => p.value), [1])
  assert.deepEqual(latest(metrics, 'fivelens.evaluation.score').map((p) => p.count), [1])
})

test('a saturated evaluation pool drops and counts', async () => {
  const { metrics, stdout } = await run(
    { store: 'off', evaluationWorkers: 1, evaluationQueueSize: 2 },
    `let release
     const released = new Promise((r) => { release = r })
     f.registerEvaluator('slow', async () => { await released; return 1 })
     let queued = 0
     await f.withSpan('burst', () => { for (let i = 0; i < 6; i++) queued += f.evaluate({ output: 'answer ' + i }) })
     release()
     console.log(queued)`,
  )
  const queued = Number(stdout.trim())
  assert.equal(queued, 2)
  assert.deepEqual(latest(metrics, 'fivelens.evaluation.dropped').map((p) => [p.attributes['gen_ai.evaluation.name'], p.value]), [['slow', 4]])
})

test('TTGO spans all three attempts of a session with two regenerations; fivelens stats shows it', async () => {
  const { spans, metrics, dir } = await run(
    { store: 'on' },
    `const attempt = (name) => f.withContext({ sessionId: 's-42' }, () => f.withSpan(name, (s) => s.traceparent))
     const first = attempt('submit 1')
     f.recordOutcome(first, 'regenerated')
     await new Promise((r) => setTimeout(r, 5))
     const second = attempt('submit 2')
     f.recordOutcome(second, 'regenerated')
     await new Promise((r) => setTimeout(r, 5))
     const third = attempt('submit 3')
     if (!f.recordOutcome(third, 'accepted')) throw new Error('not recorded')
     if (f.recordOutcome(third, 'liked')) throw new Error('an unknown outcome was recorded')`,
  )
  const accepted = named(spans, 'outcome accepted')[0]
  assert.equal(accepted.trace_id, named(spans, 'submit 3')[0].trace_id)
  assert.equal(accepted.attributes['fivelens.ttgo.attempts'], 3)
  assert.equal(accepted.attributes['session.id'], 's-42')
  const first = named(spans, 'submit 1')[0]
  const third = named(spans, 'submit 3')[0]
  // From the first submit's start to the acceptance: it covers all three attempts.
  assert.ok(accepted.attributes['fivelens.ttgo'] * 1e9 >= third.end_time_unix_nano - first.start_time_unix_nano)
  assert.ok(Math.abs(accepted.attributes['fivelens.ttgo'] - (accepted.end_time_unix_nano - first.start_time_unix_nano) / 1e9) < 1e-3)
  assert.deepEqual(latest(metrics, 'fivelens.ttgo').map((p) => p.count), [1])
  const rate = latest(metrics, 'fivelens.regenerate_rate')
  assert.ok(Math.abs(rate[0].value - 2 / 3) < 1e-9)
  const cli = spawnSync(process.execPath, [path.join(PKG, 'bin', 'fivelens.js'), 'stats', '--json'], {
    env: { ...process.env, FIVELENS_HOME: path.join(dir, 'home') },
    encoding: 'utf8',
  })
  assert.equal(cli.status, 0, cli.stderr)
  const behaviour = JSON.parse(cli.stdout).behaviour
  assert.deepEqual(behaviour.outcomes, { accepted: 1, regenerated: 2 })
  assert.equal(behaviour.ttgo_sessions, 1)
})
