'use strict'
// Spans from Node: nesting, attributes, errors, promises, bad input, configuration.

const { test, before, beforeEach } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { byName, runNode, tempDir, PKG } = require('./helpers')
const fivelens = require('..')

before(() => {
  process.env.FIVELENS_HOME = tempDir('fl-')
  process.env.FIVELENS_USER_HASH_KEY = 'node-test-key'
  const report = fivelens.instrument({ store: 'off', testing: true, scheduleDelayMs: 10, integrations: [] })
  assert.equal(report.recording, true)
})
beforeEach(() => fivelens.testing.clearFinishedSpans())

async function finished() {
  assert.equal(await fivelens.flush(5000), true)
  return byName(fivelens.testing.finishedSpans())
}

test('nested spans share a trace and parent correctly', async () => {
  let root, child
  fivelens.withSpan('root', {}, { kind: 'server' }, (r) => {
    root = r
    assert.equal(fivelens.currentSpan(), r)
    fivelens.withSpan('child', (c) => {
      child = c
      fivelens.withSpan('grandchild', () => {})
    })
    assert.equal(fivelens.currentSpan(), r)
  })
  assert.equal(fivelens.currentSpan(), undefined)
  const spans = await finished()
  assert.equal(spans.root.parentSpanId, '')
  assert.equal(spans.root.kind, 'server')
  assert.equal(spans.child.parentSpanId, root.spanId)
  assert.equal(spans.grandchild.parentSpanId, child.spanId)
  for (const s of Object.values(spans)) assert.equal(s.traceId, root.traceId)
})

test('async functions: the span ends when the promise settles, and awaits keep the parent', async () => {
  let outer
  const result = await fivelens.withSpan('outer', async (o) => {
    outer = o
    await new Promise((r) => setTimeout(r, 5))
    await Promise.all([
      fivelens.withSpan('a', async () => {
        await new Promise((r) => setImmediate(r))
      }),
      fivelens.withSpan('b', async () => {
        await Promise.resolve()
      }),
    ])
    setTimeout(() => fivelens.withSpan('timer', () => {}), 1)
    await new Promise((r) => setTimeout(r, 10))
    return 42
  })
  assert.equal(result, 42)
  const spans = await finished()
  for (const name of ['a', 'b', 'timer']) assert.equal(spans[name].parentSpanId, outer.spanId, name)
  assert.ok(spans.outer.endTime - spans.outer.startTime >= 10e6)
})

test('attribute types are kept and odd ones are made safe', async () => {
  class Explosive {
    toString() {
      throw new Error('toString was called')
    }
    toJSON() {
      throw new Error('toJSON was called')
    }
  }
  const cyclic = { name: 'c' }
  cyclic.self = cyclic
  fivelens.withSpan(
    'attrs',
    {
      s: 'text',
      b: true,
      i: 42,
      f: 1.5,
      big: 2n ** 80n,
      nan: NaN,
      strs: ['a', 'b'],
      nums: [1, 2, 3],
      mixed: [1, 'a', null],
      obj: { k: [1, { x: new Explosive() }] },
      cls: new Explosive(),
      fn: function named() {},
      undef: undefined,
      nul: null,
      date: new Date(0),
      surrogate: 'bad \ud800 text',
      cyclic,
      deep: { a: { b: { c: { d: { e: { f: { g: { h: { i: 1 } } } } } } } } },
    },
    (span) => {
      span.setAttribute('late', 3)
      span.setAttribute(123, 'ignored')
    },
  )
  const a = (await finished()).attrs.attributes
  assert.equal(a.s, 'text')
  assert.equal(a.b, true)
  assert.equal(a.i, 42)
  assert.equal(a.f, 1.5)
  assert.equal(a.big, (2n ** 80n).toString())
  assert.equal(a.nan, 'NaN')
  assert.deepEqual(a.strs, ['a', 'b'])
  assert.deepEqual(a.nums, [1, 2, 3])
  assert.equal(a.mixed, '[1,"a",null]')
  assert.equal(a.obj, '{"k":[1,{"x":"<Explosive>"}]}')
  assert.equal(a.cls, '<Explosive>')
  assert.equal(a.fn, '<function named>')
  assert.equal('undef' in a, false)
  assert.equal('nul' in a, false)
  assert.equal(a.date, '1970-01-01T00:00:00.000Z')
  assert.equal(a.surrogate, 'bad \ufffd text')
  assert.match(a.cyclic, /"self":\{"name":"c","self":\{/)
  assert.match(a.deep, /"<Object>"/)
  assert.equal(a.late, 3)
})

test('huge values are truncated with a marker', async () => {
  const st = require('../lib/state').state()
  const saved = st.maxAttributeBytes
  st.maxAttributeBytes = 1000
  try {
    fivelens.withSpan('big', { payload: 'é'.repeat(5000), small: 'ok' }, () => {})
  } finally {
    st.maxAttributeBytes = saved
  }
  const a = (await finished()).big.attributes
  assert.ok(a.payload.length <= 1000)
  assert.deepEqual(a['fivelens.truncated'], ['payload'])
  assert.equal(a.small, 'ok')
})

test('exceptions and rejections set error and pass through unchanged', async () => {
  class Boom extends Error {}
  const err = new Boom('it broke')
  assert.throws(
    () =>
      fivelens.withSpan('sync-fail', () => {
        throw err
      }),
    (e) => e === err,
  )
  const rejection = new TypeError('async broke')
  await assert.rejects(
    fivelens.withSpan('async-fail', async () => {
      throw rejection
    }),
    (e) => e === rejection,
  )
  const spans = await finished()
  assert.equal(spans['sync-fail'].status, 'error')
  assert.equal(spans['sync-fail'].statusMessage, 'it broke')
  assert.equal(spans['sync-fail'].attributes['error.type'], 'Boom')
  const ev = spans['sync-fail'].events[0]
  assert.equal(ev.name, 'exception')
  assert.equal(ev.attributes['exception.message'], 'it broke')
  assert.match(ev.attributes['exception.stacktrace'], /spans\.test\.js/)
  assert.equal(spans['async-fail'].attributes['error.type'], 'TypeError')
})

test('ending twice is a no-op, late calls are ignored, status OK is final', async () => {
  const span = fivelens.startSpan('manual')
  span.setStatus('ok')
  span.setStatus('error', 'ignored')
  span.addEvent('checkpoint', { step: 2 })
  span.end()
  span.end()
  span.setAttribute('after', 1)
  assert.equal(span.isRecording(), false)
  const s = (await finished()).manual
  assert.equal(s.status, 'ok')
  assert.equal('after' in s.attributes, false)
  assert.deepEqual(s.events[0].attributes, { step: 2 })
})

test('malformed traceparent starts a new root; a valid one continues the trace', async () => {
  const good = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
  for (const bad of ['', 'nonsense', '00-00000000000000000000000000000000-00f067aa0ba902b7-01', 'ff' + good.slice(2)]) {
    fivelens.withSpan(`bad:${bad}`, {}, { parent: bad }, (s) => assert.notEqual(s.traceId, '4bf92f3577b34da6a3ce929d0e0e4736'))
  }
  fivelens.withSpan('from-header', {}, { parent: { TraceParent: good } }, () => {})
  const spans = await finished()
  assert.equal(spans['from-header'].traceId, '4bf92f3577b34da6a3ce929d0e0e4736')
  assert.equal(spans['from-header'].parentSpanId, '00f067aa0ba902b7')
  for (const [name, s] of Object.entries(spans)) if (name.startsWith('bad:')) assert.equal(s.parentSpanId, '')
})

test('bad options throw a clear error naming the field', () => {
  const run = (options) =>
    runNode(`const f = require(${JSON.stringify(PKG)}); try { f.instrument(${JSON.stringify(options)}); console.log('no error') } catch (e) { console.log(e.message) }`)
  assert.match(run({ queueSize: 'big' }).stdout, /queue_size/)
  assert.match(run({ otlpEndpoint: 'localhost:4318' }).stdout, /otlp_endpoint.*http/)
  assert.match(run({ servceName: 'x' }).stdout, /servce_name.*service_name/)
  assert.throws(() => fivelens.withSpan('x', {}, { kind: 'sideways' }, () => {}), /kind/)
  assert.throws(() => fivelens.withSpan(42, () => {}), /name/)
})

test('instrument is idempotent and reports what it did', () => {
  const again = fivelens.instrument()
  assert.equal(again.recording, true)
  assert.deepEqual(fivelens.status().instrumentation.enabled, again.enabled)
})

test('the typed options match the core schema, and defaults equal the core defaults', () => {
  const dts = fs.readFileSync(path.join(PKG, 'types', 'lib', 'api.d.ts'), 'utf8')
  const block = dts.slice(dts.indexOf('export type InstrumentOptions'), dts.indexOf('};', dts.indexOf('export type InstrumentOptions')))
  const declared = [...block.matchAll(/^\s+(\w+)\?:/gm)].map((m) => m[1]).sort()
  const camel = (s) => s.replace(/_([a-z])/g, (_, c) => c.toUpperCase())
  const core = Object.keys(fivelens.testing.defaultConfig()).map(camel).sort()
  assert.deepEqual(declared, core)
  const out = runNode(`const f = require(${JSON.stringify(PKG)}); console.log(JSON.stringify(f.instrument({integrations: []}).config))`, {
    env: { FIVELENS_USER_HASH_KEY: '' },
  })
  const resolved = JSON.parse(out.stdout)
  resolved.integrations = null
  assert.deepEqual(resolved, fivelens.testing.defaultConfig())
})

test('status counts spans', async () => {
  const before = fivelens.status().spans.ended
  for (let i = 0; i < 5; i++) fivelens.withSpan('s' + i, () => {})
  await fivelens.flush()
  const s = fivelens.status()
  assert.equal(s.spans.ended - before, 5)
  assert.equal(s.spans.dropped_total, 0)
})
