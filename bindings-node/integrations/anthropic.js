'use strict'
// Anthropic SDK (`@anthropic-ai/sdk`): `messages.create` (plain and `stream: true`), and what goes
// through it: `messages.stream()` (`finalMessage()`...), `parse`, the tool runner; the same for the
// beta messages.
//
// The SDK's built-in OpenTelemetry spans. Recent versions make their own span per call when a
// tracer provider is registered (fivelens's bridge is one); with fivelens's own span that would
// double every call. fivelens decides per client:
//
// * a client given no `openTelemetry` option (and no `ANTHROPIC_OPEN_TELEMETRY*` variable in the
//   environment) has the SDK's spans switched off, and fivelens records the call (content, prompt
//   hash, cost); its `withOptions()` copies keep that;
// * a client whose owner turned the SDK's tracing on explicitly keeps it: fivelens records no span
//   of its own for that client and adopts the SDK's spans, which reach the pipeline through the
//   OpenTelemetry bridge (inside a fivelens trace) and get cost and metrics there.
//
// Usage follows the conventions: `gen_ai.usage.input_tokens` is Anthropic's `input_tokens` plus
// the cache-read and cache-write tokens (Anthropic's own count leaves them out), and a stream's
// output tokens are the last cumulative count of `message_delta`.
//
// As for OpenAI, the request body and a non-streamed response are handed to the core as the
// provider's JSON and mapped there (`core/src/providers.rs`); streams are assembled here.

const path = require('node:path')
const sc = require('../lib/semconv')
const { state } = require('../lib/state')
const { startCall, textPart } = require('../lib/llm')
const stainless = require('./stainless')

const INSTRUMENTATION = 'fivelens.anthropic'
const OTEL_ENV = 'ANTHROPIC_OPEN_TELEMETRY'
/** The client's tracer, behind the accessor fivelens puts on the prototype. */
const TRACER = Symbol.for('fivelens.anthropic.tracer')
/** Whether the client's owner chose the SDK's tracing (true), or it is fivelens's (false). */
const EXPLICIT = Symbol.for('fivelens.anthropic.explicit')
/** The client being constructed while fivelens forces the SDK's default off. */
const FORCING = Symbol.for('fivelens.anthropic.forcing')

/** @param {any} obj @param {string} name */
const get = (obj, name) => (obj !== null && obj !== undefined && typeof obj === 'object' ? obj[name] : undefined)
const isInt = (/** @type {any} */ v) => Number.isInteger(v)

/**
 * Sets a property that stays out of enumerations and copies of the client.
 * @param {any} obj
 * @param {symbol} key
 * @param {any} value
 */
function hide(obj, key, value) {
  Object.defineProperty(obj, key, { value, writable: true, configurable: true, enumerable: false })
}

function envConfiguresTracing() {
  return Object.keys(process.env).some((k) => k.startsWith(OTEL_ENV))
}

/**
 * Whether this client makes its own spans (then fivelens adopts them). A client built before
 * `instrument()`, with no explicit choice fivelens could see, has them switched off here.
 * @param {any} client
 */
function sdkTraces(client) {
  if (!client || !('_tracer' in client)) return false // a version without built-in tracing
  if (client[EXPLICIT] === undefined) {
    const explicit = envConfiguresTracing()
    hide(client, EXPLICIT, explicit)
    if (!explicit && client._tracer) client._tracer = undefined
  }
  return !!client._tracer
}

/** @param {any} client */
function provider(client) {
  const name = client && client._genAIProviderName
  if (typeof name === 'string' && name) return name
  const cls = (client && client.constructor && client.constructor.name) || ''
  if (cls.includes('Bedrock')) return 'aws.bedrock'
  if (cls.includes('Vertex')) return 'gcp.vertex_ai'
  return 'anthropic'
}

/** @param {any} usage */
const thinkingTokens = (usage) => get(get(usage, 'output_tokens_details'), 'thinking_tokens')

/**
 * @param {import('../lib/llm').LlmCall} call
 * @param {any} uncached
 * @param {any} output
 * @param {any} cacheRead
 * @param {any} cacheWrite
 * @param {any} reasoning
 */
function setUsage(call, uncached, output, cacheRead, cacheWrite, reasoning) {
  const n = (/** @type {any} */ v) => (isInt(v) ? v : 0)
  call.setUsage({
    inputTokens: uncached !== undefined && uncached !== null ? n(uncached) + n(cacheRead) + n(cacheWrite) : null,
    outputTokens: isInt(output) ? output : null,
    cacheReadInputTokens: isInt(cacheRead) ? cacheRead : null,
    cacheWriteInputTokens: isInt(cacheWrite) ? cacheWrite : null,
    reasoningOutputTokens: isInt(reasoning) ? reasoning : null,
  })
}

/** @type {import('./stainless').Adapter} */
const messagesAdapter = {
  begin(resource, body) {
    const client = resource._client
    if (sdkTraces(client)) return null
    /** @type {Record<string, any>} */
    const attrs = {}
    const [host, port] = stainless.serverOf(client)
    if (host) {
      attrs[sc.SERVER_ADDRESS] = host
      attrs[sc.SERVER_PORT] = port
    }
    if (body.stream === true) attrs[sc.GEN_AI_REQUEST_STREAM] = true
    const model = body.model ? String(body.model) : null
    const call = startCall('chat', provider(client), model, attrs, INSTRUMENTATION)
    call._payload('anthropic.messages', body)
    return call
  },
  finish: stainless.finishPayload,
  observer(call) {
    return new StreamObserver(call)
  },
}

/**
 * Raw message-stream events: `message_start` (id, model, input usage), content blocks and their
 * deltas, `message_delta` (stop reason, cumulative output tokens).
 */
class StreamObserver {
  /** @param {import('../lib/llm').LlmCall} call */
  constructor(call) {
    this.call = call
    /** @type {Map<number, {kind: string, id: any, name: any, texts: string[]}>} */
    this.blocks = new Map()
    /** @type {string | null} */
    this.reason = null
    /** @type {Record<string, any>} */
    this.usage = {}
  }

  /** @param {any} usage */
  takeUsage(usage) {
    if (!usage) return
    for (const field of ['input_tokens', 'output_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens']) {
      const v = get(usage, field)
      if (v !== undefined && v !== null) this.usage[field] = v
    }
    const thinking = thinkingTokens(usage)
    if (thinking !== undefined && thinking !== null) this.usage.thinking = thinking
  }

  /** @param {any} event */
  item(event) {
    const kind = get(event, 'type')
    const call = this.call
    if (kind === 'content_block_delta') {
      const delta = get(event, 'delta')
      const block = this.blocks.get(get(event, 'index') || 0)
      const dkind = get(delta, 'type')
      let text = null
      if (dkind === 'text_delta') text = get(delta, 'text')
      else if (dkind === 'input_json_delta') text = get(delta, 'partial_json')
      else if (dkind === 'thinking_delta') text = get(delta, 'thinking')
      if (block && text) block.texts.push(text)
      call.chunk(dkind === 'text_delta' ? text : null)
    } else if (kind === 'content_block_start') {
      const b = get(event, 'content_block')
      const block = { kind: String(get(b, 'type')), id: get(b, 'id'), name: get(b, 'name'), texts: /** @type {string[]} */ ([]) }
      const initial = get(b, 'text')
      if (initial) block.texts.push(initial)
      this.blocks.set(get(event, 'index') || 0, block)
      call.chunk(null)
    } else if (kind === 'message_start') {
      const message = get(event, 'message')
      call.setResponse({ id: get(message, 'id'), model: get(message, 'model') })
      this.takeUsage(get(message, 'usage'))
      call.chunk(null)
    } else if (kind === 'message_delta') {
      const reason = get(get(event, 'delta'), 'stop_reason')
      if (reason) this.reason = String(reason)
      this.takeUsage(get(event, 'usage'))
    }
  }

  finish() {
    const call = this.call
    const reason = this.reason || 'error'
    /** @type {Array<Record<string, any>>} */
    const parts = []
    for (const i of [...this.blocks.keys()].sort((a, b) => a - b)) {
      const b = /** @type {any} */ (this.blocks.get(i))
      const text = b.texts.join('')
      if (b.kind === 'text') parts.push(textPart(text))
      else if (b.kind === 'thinking') parts.push({ type: 'reasoning', content: text })
      else if (b.kind === 'tool_use') parts.push({ type: 'tool_call', id: b.id, name: b.name, arguments: jsonOrText(text) })
      else parts.push({ type: b.kind })
    }
    call.setResponse({ finishReasons: [reason] })
    call._recordOutput([{ role: 'assistant', parts, finish_reason: reason }])
    const u = this.usage
    // Cut before `message_delta`: the output count so far is message_start's placeholder, so
    // the output is estimated from the text instead.
    if (this.reason === null) delete u.output_tokens
    if (Object.keys(u).length) {
      setUsage(call, u.input_tokens, u.output_tokens, u.cache_read_input_tokens, u.cache_creation_input_tokens, u.thinking)
    }
  }
}

/** @param {string} text */
function jsonOrText(text) {
  if (!text) return {}
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/**
 * The SDK's tracing off by default, per client: while a client is constructed, the SDK reads the
 * `ANTHROPIC_OPEN_TELEMETRY` variable when (and only when) it is given no `openTelemetry` option;
 * fivelens sets it to `false` for that moment (unless the app set one of those variables), so an
 * explicit option is honoured and the rest resolve to "off" (and their copies too).
 * `_instrumentationScope()` is called just before, the `_tracer` assignment just after.
 * @param {any} BaseAnthropic
 */
function patchClient(BaseAnthropic) {
  const proto = BaseAnthropic && BaseAnthropic.prototype
  if (!proto || typeof proto._instrumentationScope !== 'function') return
  const scope = proto._instrumentationScope
  if (!scope[stainless.ORIGINAL]) {
    /** @this {any} */
    const wrapped = function () {
      const st = /** @type {any} */ (state())
      if (st.recording && !envConfiguresTracing() && st[FORCING] === undefined) {
        process.env[OTEL_ENV] = 'false'
        st[FORCING] = this
        // Never left set, whatever happens in the constructor.
        queueMicrotask(() => restoreEnv(this))
      }
      return scope.apply(this, arguments)
    }
    Object.defineProperty(wrapped, stainless.ORIGINAL, { value: scope })
    proto._instrumentationScope = wrapped
  }
  const current = Object.getOwnPropertyDescriptor(proto, '_tracer')
  if (!current || !current.set || !(/** @type {any} */ (current.set)[stainless.ORIGINAL])) {
    const set = function (/** @type {any} */ value) {
      // @ts-ignore - `this` is the client
      const client = /** @type {any} */ (this)
      if (restoreEnv(client)) {
        hide(client, EXPLICIT, value !== undefined)
      } else if (client[EXPLICIT] === undefined && state().recording) {
        // Constructed without the forcing above (a subclass with its own scope): on only when
        // the environment configures the SDK's tracing.
        hide(client, EXPLICIT, envConfiguresTracing())
        if (!client[EXPLICIT]) value = undefined
      }
      hide(client, TRACER, value)
    }
    Object.defineProperty(set, stainless.ORIGINAL, { value: true })
    Object.defineProperty(proto, '_tracer', {
      configurable: true,
      get() {
        return this[TRACER]
      },
      set,
    })
  }
}

/**
 * Removes the forced variable if `client` is the one it was set for.
 * @param {any} client
 * @returns {boolean} whether it was
 */
function restoreEnv(client) {
  const st = /** @type {any} */ (state())
  if (st[FORCING] !== client) return false
  st[FORCING] = undefined
  delete process.env[OTEL_ENV]
  return true
}

/**
 * Wraps the classes reachable from the SDK's main export.
 * @param {any} mod the `@anthropic-ai/sdk` module (CommonJS exports or ES namespace) or its `Anthropic` class
 * @returns {boolean} whether the classes were found (false while the module is still loading)
 */
function patchModule(mod) {
  const Anthropic = (mod && (mod.Anthropic || (mod.default && mod.default.Anthropic) || mod.default)) || mod
  if (typeof Anthropic !== 'function' || typeof Anthropic.Messages !== 'function') return false
  patchClient((mod && mod.BaseAnthropic) || Object.getPrototypeOf(Anthropic))
  stainless.wrapMethod(Anthropic.Messages.prototype, 'create', messagesAdapter)
  if (Anthropic.Beta && typeof Anthropic.Beta.Messages === 'function') {
    stainless.wrapMethod(Anthropic.Beta.Messages.prototype, 'create', messagesAdapter)
  }
  return true
}

/**
 * Patches the SDK as the app resolves it: its CommonJS copy when the app requires it (or now, if
 * it has), and its ES module copy now (see `withEsm`).
 * @returns {string | undefined} why it was skipped
 */
function instrument() {
  const root = stainless.resolveFromApp('@anthropic-ai/sdk')
  if (!root) return '@anthropic-ai/sdk is not installed'
  stainless.whenRequired(path.join(root, 'index.js'), patchModule)
  stainless.withEsm(path.join(root, 'index.mjs'), patchModule)
  return undefined
}

module.exports = { instrument, patchModule, INSTRUMENTATION }
