'use strict'
// Snapshots, replay and datasets (issue 14) from Node: the real Anthropic and OpenAI SDKs at the
// repository's fake server, the embedded store; replay and dataset calls run off the JS thread.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const fs = require('node:fs')
const { startFakeLlm, tempDir } = require('./helpers')

let server
let fivelens
let home

before(async () => {
  server = await startFakeLlm()
  home = tempDir('fl-replay-')
  process.env.FIVELENS_HOME = home
  process.env.FIVELENS_USER_HASH_KEY = 'test-user-hash-key'
  fivelens = require('..')
  fivelens.instrument({ serviceName: 'replay-node', scheduleDelayMs: 10, canaryUsers: ['vip'], snapshotRate: 0 })
})
after(async () => {
  await fivelens.shutdown(5000)
  if (server) await server.stop()
})

test('a failed Anthropic call is snapshotted (redacted) and replayed to the local server with the same body', async () => {
  const { Anthropic } = require('@anthropic-ai/sdk')
  const client = new Anthropic({ baseURL: server.url, apiKey: 'k', maxRetries: 0 })
  await fivelens.withSpan('failing turn', async () => {
    await assert.rejects(
      client.messages.create(
        {
          model: 'claude-sonnet-4-5',
          max_tokens: 64,
          system: 'Be brief.',
          messages: [{ role: 'user', content: 'call me on bob@example.org please' }],
        },
        { headers: { 'x-fake-scenario': 'error-500' } },
      ),
    )
  })
  assert.equal(await fivelens.flush(5000), true)
  const [line] = await fivelens.exportDataset({ reason: 'error' })
  assert.ok(line, 'the failed call has a snapshot')
  const request = line.request
  assert.equal(request.system, 'Be brief.')
  assert.ok(!JSON.stringify(request).includes('bob@example.org'))
  assert.match(request.messages[0].content, /<EMAIL/)
  assert.equal(line.metadata.status, 'error')

  await server.clear()
  const [report] = await fivelens.replay(line.metadata.trace_id, { baseUrl: server.url, apiKey: 'k2' })
  const sent = (await server.requests()).filter((r) => r.path.startsWith('/v1/messages'))
  assert.equal(sent.length, 1)
  assert.deepEqual(sent[0].body, request)
  assert.equal(sent[0].headers['x-api-key'], 'k2')
  assert.equal(report.recorded.status, 'error')
  assert.equal(report.runs[0].status, 'ok')
  assert.equal(report.runs[0].output, 'echo: ' + request.messages[0].content)
  assert.ok(report.diff.includes('+ echo: ' + request.messages[0].content))
  assert.deepEqual(report.runs[0].finish_reasons, ['end_turn'])
})

test('canary calls get snapshots, others do not; a dataset export round-trips', async () => {
  const { OpenAI } = require('openai')
  const client = new OpenAI({ baseURL: server.url + '/v1', apiKey: 'k', maxRetries: 0 })
  const ask = (content) => client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] })
  await fivelens.withContext({ userId: 'vip' }, () => fivelens.withSpan('canary turn', () => ask('canary question')))
  await fivelens.withContext({ userId: 'other' }, () => fivelens.withSpan('plain turn', () => ask('plain question')))
  assert.equal(await fivelens.flush(5000), true)
  const out = path.join(home, 'canary.jsonl')
  const lines = await fivelens.exportDataset({ reason: 'canary', out })
  assert.deepEqual(
    lines.map((l) => l.expected_output),
    ['echo: canary question'],
  )
  assert.deepEqual(fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l)), lines)
  assert.deepEqual(lines[0].input, [{ role: 'user', content: 'canary question' }])
  const all = await fivelens.exportDataset({})
  assert.equal(all.length, 2, 'the failed call and the canary call only')
  const db = path.join(home, 'fivelens.db')
  assert.ok(fs.existsSync(db))
  await server.clear()
  const result = await fivelens.runDataset(out, { baseUrl: server.url + '/v1', model: 'gpt-4o' })
  assert.equal(result.summary.replayed, 1)
  assert.equal(result.summary.drift.max, 0)
  assert.equal((await server.requests())[0].body.model, 'gpt-4o')
  await assert.rejects(fivelens.replay('ffffffff'), /no trace/)
})
