'use strict'
// The active span follows async work; trace-scoped attributes reach every descendant; inject
// and extract carry the trace and the scope (never the raw user id).

const { test, before, beforeEach } = require('node:test')
const assert = require('node:assert/strict')
const { EventEmitter } = require('node:events')
const { byName } = require('./helpers')
const fivelens = require('..')

before(() => {
  process.env.FIVELENS_USER_HASH_KEY = 'node-test-key'
  fivelens.instrument({ store: 'off', testing: true, scheduleDelayMs: 10, integrations: [] })
})
beforeEach(() => fivelens.testing.clearFinishedSpans())

async function finished() {
  assert.equal(await fivelens.flush(5000), true)
  return byName(fivelens.testing.finishedSpans())
}

test('context attributes stamp every descendant across awaits, timers and callbacks', async () => {
  const emitter = new EventEmitter()
  await fivelens.withContext({ sessionId: 'sess-1', userId: 'alice', tenant: 'acme', tags: ['beta'], deploy: 'canary' }, async () => {
    await fivelens.withSpan('root', async () => {
      fivelens.withSpan('child', () => {})
      await new Promise((resolve) =>
        setTimeout(() => {
          fivelens.withSpan('in-timer', () => {})
          resolve()
        }, 2),
      )
      const bound = fivelens.bindContext(() => fivelens.withSpan('bound-callback', () => {}))
      emitter.once('go', bound)
      await fivelens.withContext({ sessionId: 'sess-2' }, async () => {
        fivelens.withSpan('inner-scope', () => {})
      })
    })
  })
  emitter.emit('go')
  fivelens.withSpan('after', () => {})
  const spans = await finished()
  const hash = spans.root.attributes['user.hash']
  assert.match(hash, /^[0-9a-f]{32}$/)
  for (const name of ['root', 'child', 'in-timer', 'bound-callback']) {
    const a = spans[name].attributes
    assert.equal(a['session.id'], 'sess-1', name)
    assert.equal(a['user.hash'], hash, name)
    assert.equal(a['fivelens.tenant'], 'acme')
    assert.deepEqual(a['fivelens.tags'], ['beta'])
    assert.equal(a.deploy, 'canary')
    assert.ok(!JSON.stringify(a).includes('alice'))
  }
  assert.equal(spans['bound-callback'].parentSpanId, spans.root.spanId)
  assert.equal(spans['inner-scope'].attributes['session.id'], 'sess-2')
  assert.equal(spans['inner-scope'].attributes['fivelens.tenant'], 'acme')
  assert.equal(spans['inner-scope'].parentSpanId, spans.root.spanId)
  assert.equal('session.id' in spans.after.attributes, false)
})

test('inject and extract carry the trace and the scope but not the raw user id', async () => {
  let client
  let headers
  fivelens.withContext({ sessionId: 'sess-9', userId: 'bob' }, () =>
    fivelens.withSpan('client', (c) => {
      client = c
      headers = fivelens.inject({})
    }),
  )
  assert.equal(headers.traceparent, client.traceparent)
  assert.ok(!headers['fivelens-context'].includes('bob'))
  const remote = fivelens.extract(headers)
  assert.equal(remote.isValid(), true)
  fivelens.withSpan('server', {}, { parent: remote, kind: 'server' }, () => fivelens.withSpan('server-child', () => {}))
  const spans = await finished()
  assert.equal(spans.server.parentSpanId, client.spanId)
  assert.equal(spans.server.traceId, client.traceId)
  for (const name of ['server', 'server-child']) {
    assert.equal(spans[name].attributes['session.id'], 'sess-9')
    assert.equal(spans[name].attributes['user.hash'], spans.client.attributes['user.hash'])
  }
})

test('a worker thread shares the process pipeline', async () => {
  const { Worker } = require('node:worker_threads')
  const code = `
    const fivelens = require(${JSON.stringify(require.resolve('..'))})
    const { parentPort, workerData } = require('node:worker_threads')
    fivelens.instrument({ store: 'off', testing: true, integrations: [] })
    fivelens.withSpan('in-worker', {}, { parent: workerData }, () => {})
    fivelens.flush().then(() => parentPort.postMessage('done'))
  `
  let traceparent
  fivelens.withSpan('main', (s) => {
    traceparent = s.traceparent
  })
  await new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: traceparent })
    w.once('message', resolve)
    w.once('error', reject)
  })
  const spans = await finished()
  assert.equal(spans['in-worker'].parentSpanId, spans.main.spanId)
})
