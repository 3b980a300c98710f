'use strict'
// The logs lens at the real OTLP receiver: console, pino and winston records tied to the span
// they were logged in (a LangGraph.js agent's tool run), redacted, stopped by the per-trace
// budget, filtered by level; LLM events (inference details, the reasoning journal, evaluations)
// as log records; the app's own output and transports unchanged.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { Writable } = require('node:stream')
const { startReceiver, tempDir, runNode } = require('./helpers')
const S = require('./langchain_scenarios')

/** @type {any} */
let fivelens
/** @type {any} */
let receiver
/** @type {any} */
let lc

before(async () => {
  receiver = await startReceiver()
  process.env.FIVELENS_HOME = tempDir('fl-logs-')
  fivelens = require('..')
  const report = fivelens.instrument({
    otlpEndpoint: receiver.endpoint,
    serviceName: 'logs-node',
    scheduleDelayMs: 20,
    logsTraceBudgetBytes: 20000,
    logsQueueSize: 50000,
    inferenceEvents: true,
    agentJournal: 'logs',
  })
  for (const name of ['console', 'pino', 'winston', 'langchain']) assert.ok(report.enabled.includes(name), JSON.stringify(report))
  lc = S.loadCjs()
})
after(async () => {
  await fivelens.shutdown(5000)
  await receiver.stop()
})

/** Runs `fn` with stdout and stderr captured (what the app's console printed). */
function captured(fn) {
  const out = []
  const write = { stdout: process.stdout.write, stderr: process.stderr.write }
  process.stdout.write = /** @type {any} */ ((chunk) => out.push(['out', String(chunk)]) && true)
  process.stderr.write = /** @type {any} */ ((chunk) => out.push(['err', String(chunk)]) && true)
  try {
    fn()
  } finally {
    process.stdout.write = write.stdout
    process.stderr.write = write.stderr
  }
  return out
}

/** @param {any[]} logs @param {string} text */
function byBody(logs, text) {
  const found = logs.filter((r) => typeof r.body === 'string' && r.body.includes(text))
  assert.equal(found.length, 1, JSON.stringify(logs.map((r) => r.body)))
  return found[0]
}

async function flushedLogs(n) {
  assert.equal(await fivelens.flush(10000), true)
  return receiver.waitForLogs(n)
}

test('a record logged inside an agent run carries the run trace and span ids', async () => {
  const lookup = lc.tool(
    async ({ orderId }) => {
      console.warn('looking up order %s for jane.doe@example.com', orderId)
      return 'shipped'
    },
    { name: 'lookup_order', description: 'Looks an order up.', schema: lc.z.object({ orderId: lc.z.string() }) },
  )
  const model = S.scriptedModel(lc, [S.call(lc, 'lookup_order', { orderId: 'A-17' }, 'call-1', 'I should look the order up.'), S.answer(lc, 'It has shipped.')])
  const graph = S.reactGraph(lc, model, [lookup], 'support')
  let printed
  await fivelens.withContext({ sessionId: 's-42', userId: 'jane' }, async () => {
    printed = await new Promise((resolve) => {
      const out = []
      const write = process.stderr.write
      process.stderr.write = /** @type {any} */ ((chunk) => out.push(String(chunk)) && true)
      graph.invoke({ messages: [new lc.HumanMessage('Where is order A-17?')] }).then(
        () => {
          process.stderr.write = write
          resolve(out)
        },
        (e) => {
          process.stderr.write = write
          throw e
        },
      )
    })
  })
  // The app's own output is what it printed, unredacted and without added fields.
  assert.deepEqual(printed, ['looking up order A-17 for jane.doe@example.com\n'])
  const logs = await flushedLogs(3)
  const spans = await receiver.waitFor(5)
  const tool = spans.find((s) => s.name === 'execute_tool lookup_order')
  assert.ok(tool, JSON.stringify(spans.map((s) => s.name)))
  const record = byBody(logs, 'looking up order A-17')
  assert.equal(record.trace_id, tool.trace_id)
  assert.equal(record.span_id, tool.span_id)
  assert.equal(record.body, 'looking up order A-17 for <EMAIL>')
  assert.equal(record.severity_number, 13)
  assert.equal(record.attributes['session.id'], 's-42')
  assert.match(record.attributes['user.hash'], /^[0-9a-f]{16,}$/)
  assert.equal(record.attributes['fivelens.log.source'], 'console')
  assert.equal(record.resource['service.name'], 'logs-node')
  const chats = spans.filter((s) => s.name === 'chat scripted-1')
  const details = logs.filter((r) => r.event_name === 'gen_ai.client.inference.operation.details')
  assert.deepEqual(details.map((r) => r.span_id).sort(), chats.map((s) => s.span_id).sort())
  const thought = logs.find((r) => r.event_name === 'fivelens.agent.step' && String(r.body).includes('look the order up'))
  assert.ok(thought, JSON.stringify(logs.map((r) => [r.event_name, r.body])))
  assert.equal(thought.trace_id, tool.trace_id)
  // Metrics of the same run reach the receiver too.
  const names = new Set((await receiver.metrics()).map((p) => p.name))
  assert.ok(names.has('gen_ai.client.token.usage'), JSON.stringify([...names]))
})

test('PII in a log message is redacted; pino and winston records are correlated and their output unchanged', async () => {
  const pino = require('pino')
  const winston = require('winston')
  const pinoLines = []
  const dest = new Writable({ write: (chunk, _enc, cb) => (pinoLines.push(String(chunk)), cb()) })
  const plog = pino({ base: undefined, timestamp: false }, dest)
  const winstonSeen = []
  const sink = new winston.transports.Stream({ stream: new Writable({ write: (chunk, _enc, cb) => (winstonSeen.push(String(chunk)), cb()) }) })
  const wlog = winston.createLogger({ level: 'info', format: winston.format.json(), transports: [sink] })
  let ids
  const out = captured(() => {
    fivelens.withSpan('checkout', {}, (span) => {
      ids = { traceId: span.traceId, spanId: span.spanId }
      console.error('payment failed for %s with card %s', 'jane.doe@example.com', '4111 1111 1111 1111')
      plog.info({ customer: 'jane.doe@example.com', amount: 12 }, 'refund issued')
      wlog.warn('card declined', { phone: '+1 506 130 5127' })
      wlog.debug('below the logger level')
    })
  })
  assert.deepEqual(out, [['err', 'payment failed for jane.doe@example.com with card 4111 1111 1111 1111\n']])
  assert.deepEqual(pinoLines.map((l) => JSON.parse(l)), [{ level: 30, customer: 'jane.doe@example.com', amount: 12, msg: 'refund issued' }])
  await new Promise((r) => setImmediate(r))
  assert.deepEqual(winstonSeen.map((l) => JSON.parse(l)), [{ level: 'warn', message: 'card declined', phone: '+1 506 130 5127' }])
  const logs = await flushedLogs(3)
  const c = byBody(logs, 'payment failed')
  assert.equal(c.body, 'payment failed for <EMAIL> with card <CREDIT_CARD>')
  assert.equal(c.attributes['fivelens.redaction.email'], 1)
  const p = byBody(logs, 'refund issued')
  assert.deepEqual([p.trace_id, p.span_id], [ids.traceId, ids.spanId])
  assert.equal(p.attributes.customer, '<EMAIL>')
  assert.equal(p.attributes.amount, 12)
  assert.equal(p.attributes['fivelens.log.source'], 'pino')
  const w = byBody(logs, 'card declined')
  assert.deepEqual([w.trace_id, w.span_id], [ids.traceId, ids.spanId])
  assert.equal(w.attributes.phone, '<PHONE>')
  assert.equal(w.severity_number, 13)
  assert.equal(logs.filter((r) => String(r.body).includes('below the logger level')).length, 0)
})

test('the budget stops a flood', async () => {
  const before = fivelens.status().logs.dropped_budget
  let flood
  let other
  captured(() => {
    fivelens.withSpan('runaway agent', {}, (span) => {
      flood = span.traceId
      for (let i = 0; i < 3000; i++) console.info('iteration %d: still thinking about the same thing, again and again', i)
    })
    fivelens.withSpan('next request', {}, (span) => {
      other = span.traceId
      console.warn('a normal request')
    })
  })
  const logs = (await flushedLogs(2)).filter((r) => r.trace_id === flood || r.trace_id === other)
  const fromFlood = logs.filter((r) => r.trace_id === flood)
  assert.ok(fromFlood.length > 30 && fromFlood.length < 300, String(fromFlood.length))
  const marker = fromFlood.filter((r) => r.event_name === 'fivelens.logs.budget_exhausted')
  assert.equal(marker.length, 1)
  assert.equal(marker[0].attributes['fivelens.logs.budget_bytes'], 20000)
  assert.deepEqual(logs.filter((r) => r.trace_id === other).map((r) => r.body), ['a normal request'])
  assert.equal(fivelens.status().logs.dropped_budget - before, 3000 - (fromFlood.length - 1))
})

test('evaluations are gen_ai.evaluation.result events tied to their span', async () => {
  const judged = fivelens.startSpan('chat gpt-4o')
  judged.end()
  fivelens.recordEvaluation('relevance', { scoreValue: 0.25, scoreLabel: 'irrelevant', explanation: 'mentions jane.doe@example.com', responseId: 'resp-1', span: judged })
  const logs = await flushedLogs(1)
  const r = logs.find((l) => l.event_name === 'gen_ai.evaluation.result')
  assert.ok(r)
  assert.deepEqual([r.trace_id, r.span_id], [judged.traceId, judged.spanId])
  assert.equal(r.attributes['gen_ai.evaluation.name'], 'relevance')
  assert.equal(r.attributes['gen_ai.evaluation.score.value'], 0.25)
  assert.equal(r.attributes['gen_ai.evaluation.score.label'], 'irrelevant')
  assert.equal(r.attributes['gen_ai.evaluation.explanation'], 'mentions <EMAIL>')
  assert.equal(r.attributes['gen_ai.response.id'], 'resp-1')
  // logContext() for lines the app formats itself.
  fivelens.withSpan('ctx', {}, (span) => assert.equal(fivelens.logContext().span_id, span.spanId))
  assert.deepEqual(fivelens.logContext(), { trace_id: '', span_id: '', session_id: '', user_hash: '' })
})

test('the level filter, and logsInjectContext adding the fields to pino and winston output', async () => {
  const code = `
const { Writable } = require('node:stream')
const fivelens = require(${JSON.stringify(require.resolve('..'))})
fivelens.instrument({ otlpEndpoint: ${JSON.stringify(receiver.endpoint)}, logsLevel: 'warn', logsInjectContext: true, serviceName: 'inject' })
const pino = require('pino')
const winston = require('winston')
const lines = []
const plog = pino({ base: undefined, timestamp: false }, new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }))
const wlog = winston.createLogger({ format: winston.format.json(), transports: [new winston.transports.Stream({ stream: new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }) })] })
fivelens.withSpan('job', {}, (span) => {
  plog.info('pino info')
  plog.warn('pino warn')
  wlog.info('winston info')
  wlog.error('winston error')
  console.log(JSON.stringify({ span: span.spanId, lines }))
})
fivelens.flush(5000).then(() => setTimeout(() => process.stdout.write(JSON.stringify(lines) + '\\n'), 50))
`
  await fetch(receiver.endpoint + '/logs', { method: 'DELETE' })
  const res = runNode(code)
  assert.equal(res.status, 0, res.stderr)
  const [first, second] = res.stdout.trim().split('\n')
  const { span } = JSON.parse(first)
  const lines = JSON.parse(second)
  assert.equal(lines.length, 4)
  for (const l of lines) assert.equal(l.span_id, span, JSON.stringify(l))
  const bodies = (await receiver.waitForLogs(2)).filter((r) => r.resource['service.name'] === 'inject').map((r) => r.body)
  assert.deepEqual(bodies.sort(), ['pino warn', 'winston error'])
})
