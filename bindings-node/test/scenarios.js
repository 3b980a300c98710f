'use strict'
// Calls through the real OpenAI and Anthropic SDKs against the fake server, and what their
// model-call spans must say. Run in process with the CommonJS SDKs (openai.test.js) and in a
// child process with the ES module SDKs (esm.test.js): the same cases, the same checks.

const assert = require('node:assert/strict')

const ORIGINAL = Symbol.for('fivelens.original')

/** @param {any} e */
function describeError(e) {
  return {
    name: e && e.constructor && e.constructor.name,
    status: e && e.status,
    message: e && e.message,
    error: e && e.error,
  }
}

/**
 * Runs every case, each inside a span `case:<name>`; returns what the SDKs returned.
 * @param {{fivelens: any, OpenAI: any, Anthropic: any, url: string}} env
 */
async function runScenarios({ fivelens, OpenAI, Anthropic, url }) {
  const tag = Math.random().toString(36).slice(2)
  const openai = new OpenAI({ baseURL: url + '/v1', apiKey: 'sk-test', maxRetries: 0 })
  const retrying = new OpenAI({ baseURL: url + '/v1', apiKey: 'sk-test', maxRetries: 2 })
  const anthropic = new Anthropic({ baseURL: url, apiKey: 'sk-ant-test', maxRetries: 0 })
  const hdr = (/** @type {string} */ scenario, /** @type {string} */ key = '') => ({
    headers: { ...(scenario ? { 'x-fake-scenario': scenario } : {}), 'x-fake-key': `${tag}-${key}` },
  })
  const user = (/** @type {string} */ text) => [{ role: 'user', content: text }]
  /** @type {Record<string, any>} */
  const results = {}
  /**
   * @param {string} name
   * @param {() => Promise<any>} fn
   */
  const run = async (name, fn) => {
    try {
      results[name] = { value: await fivelens.withSpan(`case:${name}`, fn) }
    } catch (e) {
      results[name] = { error: describeError(e) }
    }
  }
  /** @param {AsyncIterable<any>} stream */
  const chatText = async (stream) => {
    let text = ''
    for await (const chunk of stream) text += (chunk.choices[0] && chunk.choices[0].delta.content) || ''
    return text
  }

  await run('chat', async () => {
    const r = await openai.chat.completions.create(
      {
        model: 'gpt-4o-mini',
        messages: [{ role: 'system', content: 'You are terse.' }, ...user('What is the capital of France?')],
        temperature: 0.5,
        max_tokens: 50,
        seed: 7,
        tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: {} } } }],
      },
      hdr('', 'chat'),
    )
    return { id: r.id, model: r.model, text: r.choices[0].message.content, usage: r.usage, requestId: r._request_id }
  })
  await run('chatStream', async () => {
    const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: user('stream without usage please'), stream: true })
    return { text: await chatText(stream), isStream: typeof stream.tee === 'function' }
  })
  await run('chatStreamUsage', async () => {
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: user('stream with usage please'),
      stream: true,
      stream_options: { include_usage: true },
    })
    let usage = null
    let text = ''
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage
      text += (chunk.choices[0] && chunk.choices[0].delta.content) || ''
    }
    return { text, usage }
  })
  await run('withResponse', async () => {
    const { data, response, request_id } = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: user('with response') }).withResponse()
    return { id: data.id, status: response.status, requestId: request_id, bodyUsed: response.bodyUsed }
  })
  await run('asResponse', async () => {
    const response = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: user('as response') }).asResponse()
    const body = await response.json()
    return { status: response.status, text: body.choices[0].message.content }
  })
  await run('parse', async () => {
    const r = await openai.chat.completions.parse({
      model: 'gpt-4o-mini',
      messages: user('give me a city'),
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'city', strict: true, schema: { type: 'object', properties: { name: { type: 'string' }, population: { type: 'integer' } }, required: ['name', 'population'], additionalProperties: false } },
      },
    })
    return { parsed: r.choices[0].message.parsed }
  })
  await run('streamHelper', async () => {
    const stream = openai.chat.completions.stream({ model: 'gpt-4o-mini', messages: user('helper stream to the end') })
    const final = await stream.finalChatCompletion()
    return { text: final.choices[0].message.content }
  })
  await run('streamHelperBreak', async () => {
    const stream = openai.chat.completions.stream({ model: 'gpt-4o-mini', messages: user('one two three four five six seven') }, hdr('slow-50'))
    let chunks = 0
    for await (const _ of stream) {
      if (++chunks === 2) break
    }
    return { chunks }
  })
  await run('rawBreak', async () => {
    const stream = await openai.chat.completions.create(
      { model: 'gpt-4o-mini', messages: user('one two three four five six seven'), stream: true },
      hdr('slow-50'),
    )
    let first = ''
    for await (const chunk of stream) {
      first += (chunk.choices[0] && chunk.choices[0].delta.content) || ''
      if (first) break
    }
    return { first }
  })
  await run('tee', async () => {
    const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: user('tee me'), stream: true })
    const [a, b] = stream.tee()
    const [ta, tb] = await Promise.all([chatText(a), chatText(b)])
    return { ta, tb }
  })
  await run('readable', async () => {
    const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: user('readable stream'), stream: true })
    const reader = stream.toReadableStream().getReader()
    let lines = 0
    for (;;) {
      const { done } = await reader.read()
      if (done) break
      lines++
    }
    return { lines }
  })
  await run('abort', async () => {
    const stream = await openai.chat.completions.create(
      { model: 'gpt-4o-mini', messages: user('one two three four five six seven'), stream: true },
      hdr('slow-50'),
    )
    let chunks = 0
    for await (const _ of stream) {
      if (++chunks === 2) stream.controller.abort()
    }
    return { chunks }
  })
  await run('responses', async () => {
    const r = await openai.responses.create({ model: 'gpt-4o-mini', instructions: 'Answer briefly.', input: 'What is two plus two?', max_output_tokens: 40 })
    return { id: r.id, text: r.output_text, usage: r.usage }
  })
  await run('responsesStream', async () => {
    const stream = openai.responses.stream({ model: 'gpt-4o-mini', input: 'stream a response' })
    const final = await stream.finalResponse()
    return { id: final.id, text: final.output_text, usage: final.usage }
  })
  await run('embeddings', async () => {
    const r = await openai.embeddings.create({ model: 'text-embedding-3-small', input: 'embed this text' })
    return { length: r.data[0].embedding.length, first: r.data[0].embedding[0], usage: r.usage }
  })
  await run('error400', async () => {
    const body = { model: 'gpt-4o-mini', messages: user('bad request') }
    const completions = openai.chat.completions
    const original = Object.getPrototypeOf(completions).create[ORIGINAL]
    /** @type {any} */
    let without = null
    try {
      await original.call(completions, body, hdr('error-400'))
    } catch (e) {
      without = describeError(e)
    }
    try {
      await completions.create(body, hdr('error-400'))
    } catch (e) {
      return { with: describeError(e), without, isApiError: e instanceof OpenAI.BadRequestError }
    }
    throw new Error('no error')
  })
  await run('error500', () => retrying.chat.completions.create({ model: 'gpt-4o-mini', messages: user('server error') }, hdr('error-500', 'error500')))
  await run('rateLimitOnce', async () => {
    const r = await retrying.chat.completions.create({ model: 'gpt-4o-mini', messages: user('rate limited once') }, hdr('rate-limit-once', 'rl'))
    return { text: r.choices[0].message.content }
  })
  await run('cutStream', async () => {
    const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: user('this stream will be cut short'), stream: true }, hdr('cut-stream'))
    await chatText(stream)
  })
  await run('malformed', () => openai.chat.completions.create({ model: 'gpt-4o-mini', messages: user('malformed body') }, hdr('malformed')))
  await run('timeout', () =>
    openai.chat.completions.create({ model: 'gpt-4o-mini', messages: user('too slow') }, { ...hdr('slow-3000'), timeout: 300 }),
  )
  await run('labels', () =>
    fivelens.withStage('synthesis', () =>
      fivelens.withPrompt('answer', 3, async () => {
        await new Promise((r) => setTimeout(r, 1))
        const r = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: user('labelled call') })
        return { id: r.id }
      }),
    ),
  )

  // Anthropic
  await run('aCreate', async () => {
    const m = await anthropic.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 100,
      system: 'You are a careful assistant.',
      messages: user('Hello Claude'),
      temperature: 0.2,
      top_k: 5,
    })
    return { id: m.id, text: m.content[0].text, usage: m.usage, stop: m.stop_reason }
  })
  await run('aStream', async () => {
    const stream = await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 100, messages: user('stream it claude'), stream: true })
    let text = ''
    /** @type {any} */
    let output = null
    for await (const ev of stream) {
      if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text
      if (ev.type === 'message_delta') output = ev.usage.output_tokens
    }
    return { text, output }
  })
  await run('aHelper', async () => {
    const final = await anthropic.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 100, messages: user('helper final message') }).finalMessage()
    return { text: final.content[0].text, usage: final.usage }
  })
  await run('aBeta', async () => {
    const m = await anthropic.beta.messages.create({ model: 'claude-haiku-4-5', max_tokens: 100, messages: user('beta hello') })
    return { id: m.id }
  })
  await run('aCache', async () => {
    const m = await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 100, messages: user('cache these tokens please now') }, hdr('cache'))
    return { usage: m.usage }
  })
  await run('a529', () => anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 10, messages: user('overloaded') }, hdr('error-529')))
  await run('aCut', async () => {
    const stream = await anthropic.messages.create(
      { model: 'claude-haiku-4-5', max_tokens: 100, messages: user('cut this claude stream'), stream: true },
      hdr('cut-stream'),
    )
    for await (const _ of stream) {
    }
  })
  return { results, tag }
}

/**
 * The model-call span under each `case:<name>` span.
 * @param {any[]} spans finished spans
 * @returns {Record<string, any[]>}
 */
function byCase(spans) {
  const roots = new Map(spans.filter((s) => s.name.startsWith('case:')).map((s) => [s.spanId, s.name.slice(5)]))
  /** @type {Record<string, any[]>} */
  const out = {}
  for (const s of spans) {
    const name = roots.get(s.parentSpanId)
    if (name) (out[name] ||= []).push(s)
  }
  return out
}

/**
 * Checks what the SDKs returned and what the spans say.
 * @param {{results: Record<string, any>, tag: string}} run
 * @param {any[]} spans finished spans (after the core's processing)
 * @param {any[]} requests what the fake server received
 * @param {string} url
 */
function verify({ results, tag }, spans, requests, url) {
  const port = Number(new URL(url).port)
  const cases = byCase(spans)
  const one = (/** @type {string} */ name) => {
    const list = cases[name] || []
    assert.equal(list.length, 1, `${name}: ${list.length} model spans (${list.map((s) => s.name)})`)
    return list[0]
  }
  const ok = (/** @type {string} */ name) => {
    assert.ok(results[name], `${name} did not run`)
    assert.equal(results[name].error, undefined, `${name} failed: ${JSON.stringify(results[name].error)}`)
    return results[name].value
  }
  const err = (/** @type {string} */ name) => {
    assert.ok(results[name] && results[name].error, `${name} should have failed`)
    return results[name].error
  }
  const sent = (/** @type {string} */ key) => requests.filter((r) => r.headers['x-fake-key'] === `${tag}-${key}`).length
  const json = (/** @type {any} */ s, /** @type {string} */ key) => JSON.parse(s.attributes[key])
  for (const s of spans) {
    for (const k of Object.keys(s.attributes)) assert.ok(!k.startsWith('fivelens._'), `${s.name}: private ${k} left`)
  }

  // chat
  let r = ok('chat')
  let s = one('chat')
  let a = s.attributes
  assert.equal(s.name, 'chat gpt-4o-mini')
  assert.equal(s.kind, 'client')
  assert.equal(s.scope, 'fivelens.openai')
  assert.equal(s.status, 'unset')
  assert.equal(a['gen_ai.operation.name'], 'chat')
  assert.equal(a['gen_ai.provider.name'], 'openai')
  assert.equal(a['gen_ai.request.model'], 'gpt-4o-mini')
  assert.equal(a['gen_ai.response.model'], r.model)
  assert.equal(a['gen_ai.response.id'], r.id)
  assert.equal(a['server.address'], '127.0.0.1')
  assert.equal(a['server.port'], port)
  assert.equal(a['gen_ai.request.temperature'], 0.5)
  assert.equal(a['gen_ai.request.max_tokens'], 50)
  assert.equal(a['gen_ai.request.seed'], 7)
  assert.deepEqual(a['gen_ai.response.finish_reasons'], ['stop'])
  assert.equal(a['gen_ai.usage.input_tokens'], r.usage.prompt_tokens)
  assert.equal(a['gen_ai.usage.output_tokens'], r.usage.completion_tokens)
  assert.equal(a['fivelens.usage.estimated'], undefined)
  const expected = (r.usage.prompt_tokens * 0.15 + r.usage.completion_tokens * 0.6) / 1e6
  assert.ok(Math.abs(a['fivelens.cost.usd'] - expected) < 1e-12, `cost ${a['fivelens.cost.usd']} != ${expected}`)
  assert.match(a['fivelens.prompt.hash'], /^[0-9a-f]+$/)
  assert.deepEqual(json(s, 'gen_ai.input.messages'), [
    { role: 'system', parts: [{ type: 'text', content: 'You are terse.' }] },
    { role: 'user', parts: [{ type: 'text', content: 'What is the capital of France?' }] },
  ])
  assert.deepEqual(json(s, 'gen_ai.output.messages'), [{ role: 'assistant', parts: [{ type: 'text', content: r.text }], finish_reason: 'stop' }])
  assert.deepEqual(json(s, 'gen_ai.tool.definitions'), [{ type: 'function', name: 'lookup' }])
  assert.match(r.requestId, /./, '_request_id kept')

  // streams
  r = ok('chatStream')
  a = one('chatStream').attributes
  assert.equal(r.isStream, true)
  assert.equal(a['gen_ai.request.stream'], true)
  assert.equal(a['fivelens.usage.estimated'], true, 'no include_usage: estimated')
  assert.ok(a['gen_ai.usage.input_tokens'] > 0 && a['gen_ai.usage.output_tokens'] > 0)
  assert.ok(a['gen_ai.response.time_to_first_chunk'] > 0 && a['gen_ai.response.time_to_first_chunk'] < 10)
  assert.deepEqual(json(one('chatStream'), 'gen_ai.output.messages')[0].parts, [{ type: 'text', content: r.text }])
  assert.deepEqual(a['gen_ai.response.finish_reasons'], ['stop'])
  r = ok('chatStreamUsage')
  a = one('chatStreamUsage').attributes
  assert.equal(a['fivelens.usage.estimated'], undefined)
  assert.equal(a['gen_ai.usage.input_tokens'], r.usage.prompt_tokens)
  assert.equal(a['gen_ai.usage.output_tokens'], r.usage.completion_tokens)
  assert.ok(a['fivelens.cost.usd'] > 0)

  // APIPromise helpers
  r = ok('withResponse')
  assert.equal(r.status, 200)
  assert.match(r.requestId, /./)
  assert.equal(one('withResponse').attributes['gen_ai.response.id'], r.id)
  r = ok('asResponse')
  assert.equal(r.status, 200)
  assert.match(r.text, /^echo: as response/)
  s = one('asResponse')
  assert.equal(s.status, 'unset')
  assert.equal(s.attributes['gen_ai.output.messages'], undefined, 'the body was never parsed by the SDK')
  r = ok('parse')
  assert.equal(typeof r.parsed.name, 'string')
  assert.equal(typeof r.parsed.population, 'number')
  assert.equal(one('parse').attributes['gen_ai.output.type'], 'json')
  r = ok('streamHelper')
  s = one('streamHelper')
  assert.deepEqual(json(s, 'gen_ai.output.messages')[0].parts, [{ type: 'text', content: r.text }])
  assert.deepEqual(s.attributes['gen_ai.response.finish_reasons'], ['stop'])
  for (const name of ['streamHelperBreak', 'rawBreak', 'abort']) {
    ok(name)
    s = one(name)
    assert.equal(s.status, 'unset', name)
    assert.deepEqual(s.attributes['gen_ai.response.finish_reasons'], ['error'], `${name}: cut before the finish reason`)
    assert.equal(s.attributes['fivelens.usage.estimated'], true, name)
  }
  r = ok('tee')
  assert.equal(r.ta, r.tb)
  assert.deepEqual(json(one('tee'), 'gen_ai.output.messages')[0].parts, [{ type: 'text', content: r.ta }])
  r = ok('readable')
  assert.ok(r.lines > 1)
  assert.deepEqual(one('readable').attributes['gen_ai.response.finish_reasons'], ['stop'])

  // responses, embeddings
  r = ok('responses')
  s = one('responses')
  a = s.attributes
  assert.equal(s.name, 'chat gpt-4o-mini')
  assert.equal(a['gen_ai.response.id'], r.id)
  assert.equal(a['gen_ai.request.max_tokens'], 40)
  assert.equal(a['gen_ai.usage.input_tokens'], r.usage.input_tokens)
  assert.equal(a['gen_ai.usage.output_tokens'], r.usage.output_tokens)
  assert.deepEqual(json(s, 'gen_ai.system_instructions'), [{ type: 'text', content: 'Answer briefly.' }])
  assert.deepEqual(json(s, 'gen_ai.output.messages')[0].parts, [{ type: 'text', content: r.text }])
  r = ok('responsesStream')
  a = one('responsesStream').attributes
  assert.equal(a['gen_ai.response.id'], r.id)
  assert.equal(a['gen_ai.usage.output_tokens'], r.usage.output_tokens)
  assert.equal(a['fivelens.usage.estimated'], undefined)
  assert.ok(a['gen_ai.response.time_to_first_chunk'] > 0)
  r = ok('embeddings')
  s = one('embeddings')
  a = s.attributes
  assert.equal(r.length, 8)
  assert.equal(typeof r.first, 'number', 'the SDK still decodes base64')
  assert.equal(s.name, 'embeddings text-embedding-3-small')
  assert.equal(a['gen_ai.operation.name'], 'embeddings')
  assert.equal(a['gen_ai.embeddings.dimension.count'], 8)
  assert.deepEqual(a['gen_ai.request.encoding_formats'], ['base64'])
  assert.equal(a['gen_ai.usage.input_tokens'], r.usage.prompt_tokens)
  assert.ok(a['fivelens.cost.usd'] > 0)

  // errors
  r = ok('error400')
  assert.deepEqual(r.with, r.without, 'the same error as without fivelens')
  assert.equal(r.with.name, 'BadRequestError')
  assert.equal(r.with.status, 400)
  assert.equal(r.isApiError, true)
  s = one('error400')
  assert.equal(s.status, 'error')
  assert.equal(s.attributes['error.type'], 'BadRequestError')
  assert.equal(s.attributes['gen_ai.usage.input_tokens'], undefined, 'a call that failed before any output is not estimated')
  assert.equal(s.attributes['fivelens.cost.usd'], undefined)
  let e = err('error500')
  assert.equal(e.name, 'InternalServerError')
  assert.equal(sent('error500'), 3, 'two retries')
  s = one('error500')
  assert.equal(s.status, 'error')
  assert.equal(s.attributes['error.type'], 'InternalServerError')
  ok('rateLimitOnce')
  assert.equal(sent('rl'), 2, 'one retry')
  assert.equal(one('rateLimitOnce').status, 'unset')
  e = err('cutStream')
  s = one('cutStream')
  assert.equal(s.status, 'error')
  assert.equal(s.attributes['error.type'], e.name)
  assert.deepEqual(s.attributes['gen_ai.response.finish_reasons'], ['error'])
  assert.equal(s.attributes['fivelens.usage.estimated'], true, 'output arrived before the cut: estimated')
  e = err('malformed')
  s = one('malformed')
  assert.equal(s.status, 'error')
  assert.equal(s.attributes['error.type'], e.name)
  e = err('timeout')
  assert.equal(e.name, 'APIConnectionTimeoutError')
  s = one('timeout')
  assert.equal(s.attributes['error.type'], 'APIConnectionTimeoutError')
  assert.ok((s.endTime - s.startTime) / 1e6 < 2500, 'ended with the timeout')

  // labels
  ok('labels')
  s = one('labels')
  assert.equal(s.attributes['fivelens.stage'], 'synthesis')
  assert.equal(s.attributes['gen_ai.prompt.name'], 'answer')
  assert.equal(s.attributes['gen_ai.prompt.version'], '3')
  const labelRoot = spans.find((x) => x.name === 'case:labels')
  assert.equal(labelRoot.attributes['fivelens.stage'], undefined, 'labels are for model calls only')

  // Anthropic
  r = ok('aCreate')
  s = one('aCreate')
  a = s.attributes
  assert.equal(s.name, 'chat claude-haiku-4-5')
  assert.equal(s.scope, 'fivelens.anthropic')
  assert.equal(a['gen_ai.provider.name'], 'anthropic')
  assert.equal(a['server.port'], port)
  assert.equal(a['gen_ai.request.max_tokens'], 100)
  assert.equal(a['gen_ai.request.top_k'], 5)
  assert.equal(a['gen_ai.response.id'], r.id)
  assert.deepEqual(a['gen_ai.response.finish_reasons'], [r.stop])
  assert.equal(a['gen_ai.usage.input_tokens'], r.usage.input_tokens)
  assert.equal(a['gen_ai.usage.output_tokens'], r.usage.output_tokens)
  assert.deepEqual(json(s, 'gen_ai.system_instructions'), [{ type: 'text', content: 'You are a careful assistant.' }])
  assert.match(a['fivelens.prompt.hash'], /^[0-9a-f]+$/)
  assert.ok(a['fivelens.cost.usd'] > 0)
  r = ok('aStream')
  a = one('aStream').attributes
  assert.equal(a['gen_ai.usage.output_tokens'], r.output, 'the cumulative message_delta count')
  assert.ok(r.output > 1)
  assert.equal(a['fivelens.usage.estimated'], undefined)
  assert.ok(a['gen_ai.response.time_to_first_chunk'] > 0)
  assert.deepEqual(json(one('aStream'), 'gen_ai.output.messages')[0].parts, [{ type: 'text', content: r.text }])
  r = ok('aHelper')
  a = one('aHelper').attributes
  assert.equal(a['gen_ai.usage.output_tokens'], r.usage.output_tokens)
  assert.deepEqual(json(one('aHelper'), 'gen_ai.output.messages')[0].parts, [{ type: 'text', content: r.text }])
  r = ok('aBeta')
  assert.equal(one('aBeta').attributes['gen_ai.response.id'], r.id)
  r = ok('aCache')
  a = one('aCache').attributes
  assert.ok(r.usage.cache_read_input_tokens > 0 && r.usage.cache_creation_input_tokens > 0)
  assert.equal(a['gen_ai.usage.input_tokens'], r.usage.input_tokens + r.usage.cache_read_input_tokens + r.usage.cache_creation_input_tokens)
  assert.equal(a['gen_ai.usage.cache_read.input_tokens'], r.usage.cache_read_input_tokens)
  assert.equal(a['gen_ai.usage.cache_write.input_tokens'], r.usage.cache_creation_input_tokens)
  e = err('a529')
  assert.equal(e.name, 'OverloadedError')
  assert.equal(e.status, 529)
  assert.equal(one('a529').attributes['error.type'], 'OverloadedError')
  err('aCut')
  s = one('aCut')
  assert.equal(s.status, 'error')
  assert.notEqual(s.attributes['gen_ai.usage.output_tokens'], 1, "not message_start's placeholder")
  assert.ok(s.attributes['gen_ai.usage.input_tokens'] > 0, "message_start's input count")
}

module.exports = { runScenarios, verify, byCase }
