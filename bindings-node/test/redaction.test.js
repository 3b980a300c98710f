'use strict'
// PII redaction from Node: `redact()` (offsets in UTF-16 code units), the redact* options of
// instrument(), and content redacted in what the OTLP receiver got (a streamed OpenAI answer that
// echoes the values word by word, so they arrive split across chunks).

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { runNode, startFakeLlm, startReceiver, PKG } = require('./helpers')

let server
before(async () => {
  server = await startFakeLlm()
})
after(() => server && server.stop())

test('redact(): placeholders, offsets in UTF-16 code units, type errors', () => {
  const out = runNode(
    `const f = require(${JSON.stringify(PKG)})
     const text = 'é😀 mail ana.silva@example.com, card 4111 1111 1111 1111'
     const r = f.redact(text)
     console.log(JSON.stringify({ r, slices: r.entities.map((e) => text.slice(e.start, e.end)) }))
     try { f.redact(42) } catch (e) { console.log(e.constructor.name + ': ' + e.message) }`,
  )
  assert.equal(out.status, 0, out.stderr)
  const [first, second] = out.stdout.trim().split('\n')
  const { r, slices } = JSON.parse(first)
  assert.equal(r.text, 'é😀 mail <EMAIL>, card <CREDIT_CARD>')
  assert.deepEqual(r.entities.map((e) => e.type), ['EMAIL', 'CREDIT_CARD'])
  assert.deepEqual(slices, ['ana.silva@example.com', '4111 1111 1111 1111'])
  assert.equal(second, 'TypeError: fivelens: redact text: expected a string, got number')
})

test('redact* options: actions, custom rules, allow list; a broken rule is an error from instrument()', () => {
  const out = runNode(
    `const f = require(${JSON.stringify(PKG)})
     f.instrument({ store: 'off', redactActions: { EMAIL: 'indexed' }, redactRules: [{ name: 'TICKET', pattern: 'TCK-\\\\d{5}' }], redactAllow: ['help@example.com'] })
     console.log(f.redact('a@b.io c@d.io a@b.io help@example.com TCK-12345').text)`,
  )
  assert.equal(out.status, 0, out.stderr)
  assert.equal(out.stdout.trim(), '<EMAIL_1> <EMAIL_2> <EMAIL_1> help@example.com <TICKET>')
  const bad = runNode(
    `const f = require(${JSON.stringify(PKG)})
     try { f.instrument({ store: 'off', redactRules: [{ name: 'T', pattern: '(' }] }) } catch (e) { console.log(e.message.split('\\n')[0]) }`,
  )
  assert.equal(bad.status, 0, bad.stderr)
  assert.match(bad.stdout, /^fivelens config: `redact_rules`: rule T: regex parse error/)
})

test('content reaches the receiver redacted, with per-type counts; redact: false keeps it', async () => {
  const values = ['ana.silva@example.com', '+44 20 7946 0958', '4111 1111 1111 1111', 'GB82 WEST 1234 5698 7654 32']
  const prompt = `reach me at ${values[0]} or ${values[1]}, card ${values[2]}, IBAN ${values[3]}`
  const run = async (options) => {
    const rx = await startReceiver()
    try {
      const out = runNode(
        `const f = require(${JSON.stringify(PKG)})
         f.instrument(${JSON.stringify(options)})
         const { OpenAI } = require('openai')
         const openai = new OpenAI({ baseURL: process.env.FAKE_URL + '/v1', apiKey: 'k', maxRetries: 0 })
         ;(async () => {
           const s = await openai.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: ${JSON.stringify(prompt)} }] })
           let text = ''
           for await (const c of s) text += c.choices[0]?.delta?.content ?? ''
           console.log(text)
           await f.flush()
         })()`,
        { env: { FAKE_URL: server.url, OTEL_EXPORTER_OTLP_ENDPOINT: rx.endpoint } },
      )
      assert.equal(out.status, 0, out.stderr)
      // The app gets the model's answer as it was.
      assert.ok(out.stdout.includes(values[2]))
      return await rx.waitFor(1)
    } finally {
      await rx.stop()
    }
  }
  const spans = await run({ store: 'off' })
  const text = JSON.stringify(spans)
  for (const v of values) assert.ok(!text.includes(v), `${v} was exported`)
  const a = spans[0].attributes
  assert.match(a['gen_ai.output.messages'], /<EMAIL> or <PHONE>, card <CREDIT_CARD>, IBAN <IBAN>/)
  for (const t of ['email', 'phone', 'credit_card', 'iban']) assert.equal(a[`fivelens.redaction.${t}`], 2, t)

  const plain = JSON.stringify(await run({ store: 'off', redact: false }))
  for (const v of values) assert.ok(plain.includes(v), `${v} kept with redact: false`)
})
