'use strict'
// The request and response bodies the integrations hand to the core (mapped there to the GenAI
// attributes): kept whole past the attribute size limit, dropped past their own bound (with a
// message in status()), the response text taken from the SDK's one read when it reads a
// standard Response, the parsed object otherwise, and an odd body never breaks the call.

const { test, before, after, beforeEach } = require('node:test')
const assert = require('node:assert/strict')
const { startFakeLlm, tempDir } = require('./helpers')
const { byCase } = require('./scenarios')

const ORIGINAL = Symbol.for('fivelens.original')

let server
let fivelens
let OpenAI

before(async () => {
  server = await startFakeLlm()
  process.env.FIVELENS_HOME = tempDir('fl-')
  fivelens = require('..')
  fivelens.instrument({ store: 'off', testing: true, scheduleDelayMs: 10 })
  OpenAI = require('openai').OpenAI
})
after(() => server && server.stop())
beforeEach(() => fivelens.testing.clearFinishedSpans())

/** The model-call span under `case:<name>`. */
async function span(name) {
  assert.equal(await fivelens.flush(5000), true)
  const list = byCase(fivelens.testing.finishedSpans())[name] || []
  assert.equal(list.length, 1, `${name}: ${list.length} model spans`)
  for (const k of Object.keys(list[0].attributes)) assert.ok(!k.startsWith('fivelens._'), `private ${k} left`)
  return list[0]
}

const client = () => new OpenAI({ baseURL: server.url + '/v1', apiKey: 'k', maxRetries: 0 })

test('a body over the attribute size limit is kept whole; one over 16 x maxContentBytes is dropped and reported', async () => {
  const openai = client()
  const medium = 'lorem '.repeat(40_000) // 240 kB: over the 128 KiB attribute limit
  await fivelens.withSpan('case:medium', () =>
    openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: medium }], temperature: 0.2 }),
  )
  let a = (await span('medium')).attributes
  assert.equal(a['gen_ai.request.temperature'], 0.2, 'the request body was read')
  assert.ok(a['gen_ai.input.messages'].length <= 64 * 1024 + 256, 'the content is cut by the content stage')
  assert.deepEqual(a['fivelens.truncated'], ['gen_ai.input.messages'])
  assert.equal(JSON.parse(a['gen_ai.input.messages'])[0].role, 'user', 'and stays JSON')

  const big = 'ipsum '.repeat(200_000) // 1.2 MB
  const r = await fivelens.withSpan('case:big', () =>
    openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: big }], temperature: 0.2 }),
  )
  a = (await span('big')).attributes
  assert.equal(a['gen_ai.request.model'], 'gpt-4o-mini')
  assert.equal(a['gen_ai.request.temperature'], undefined, 'the request body was not kept')
  assert.equal(a['gen_ai.input.messages'], undefined)
  assert.equal(a['gen_ai.response.id'], r.id, 'the response body still was')
  assert.equal(a['gen_ai.usage.input_tokens'], r.usage.prompt_tokens)
  assert.ok(
    fivelens.status().messages.some((/** @type {string} */ m) => m.includes('16 x max_content_bytes')),
    JSON.stringify(fivelens.status().messages),
  )
})

test("the response text is the SDK's one read (the Response is left as it was); other fetch results are serialised", async () => {
  const openai = client()
  const { data, response } = await fivelens.withSpan('case:withResponse', () =>
    openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'read once' }] }).withResponse(),
  )
  assert.equal(response.bodyUsed, true)
  assert.equal(Object.prototype.hasOwnProperty.call(response, 'json'), false, 'no property of ours left on the Response')
  assert.equal(typeof response.json, 'function')
  let s = await span('withResponse')
  assert.equal(s.attributes['gen_ai.response.id'], data.id)
  assert.deepEqual(JSON.parse(s.attributes['gen_ai.output.messages']), [
    { role: 'assistant', parts: [{ type: 'text', content: data.choices[0].message.content }], finish_reason: 'stop' },
  ])

  // A custom fetch whose results are not standard Responses: never touched.
  /** @type {any[]} */
  const made = []
  const custom = new OpenAI({
    baseURL: server.url + '/v1',
    apiKey: 'k',
    maxRetries: 0,
    fetch: async (/** @type {any} */ url, /** @type {any} */ init) => {
      const r = await fetch(url, init)
      const like = { ok: r.ok, status: r.status, statusText: r.statusText, headers: r.headers, url: r.url, body: r.body, json: () => r.json(), text: () => r.text() }
      made.push(like)
      return like
    },
  })
  const c = await fivelens.withSpan('case:custom', () => custom.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'custom fetch' }] }))
  assert.equal(made.length, 1)
  assert.deepEqual(Object.keys(made[0]).sort(), ['body', 'headers', 'json', 'ok', 'status', 'statusText', 'text', 'url'])
  s = await span('custom')
  assert.equal(s.attributes['gen_ai.response.id'], c.id)
  assert.equal(s.attributes['gen_ai.usage.output_tokens'], c.usage.completion_tokens)
})

test('a body JSON cannot encode fails as it does without fivelens, and the call is recorded', async () => {
  const openai = client()
  const cyclic = () => {
    /** @type {any} */
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'loop' }], metadata: {} }
    body.metadata.self = body
    return body
  }
  const completions = openai.chat.completions
  const original = Object.getPrototypeOf(completions).create[ORIGINAL]
  const without = await original.call(completions, cyclic()).then(
    () => null,
    (/** @type {any} */ e) => [e.constructor.name, e.message],
  )
  const withFl = await fivelens.withSpan('case:cyclic', () =>
    completions.create(cyclic()).then(
      () => null,
      (/** @type {any} */ e) => [e.constructor.name, e.message],
    ),
  )
  assert.ok(without, 'the SDK refuses the body')
  assert.deepEqual(withFl, without)
  const s = await span('cyclic')
  assert.equal(s.status, 'error')
  assert.equal(s.attributes['gen_ai.request.model'], 'gpt-4o-mini')
})
