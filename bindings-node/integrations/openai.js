'use strict'
// OpenAI SDK (the `openai` package, 6.x): chat completions, the Responses API, embeddings and
// legacy completions, streamed or not, through every entry point that goes through `create`
// (`parse`, the `stream()` helpers, `runTools`, `withResponse()`, `asResponse()`).
//
// The provider is `openai` for `OpenAI` clients whatever their base URL (an OpenAI-compatible
// server reached through this SDK is what the instrumentation knows; its host is in
// `server.address`), and `azure.ai.openai` for `AzureOpenAI` clients.
//
// Streamed chat completions carry usage only when the request asks for it
// (`stream_options: {include_usage: true}`); fivelens does not add it (that would change the
// stream the app reads). Without it the tokens are estimated and marked so.
//
// The request body and a non-streamed response (and a Responses stream's final response) are
// handed to the core as the provider's JSON and mapped there, off the event loop
// (`core/src/providers.rs`, shared with the Python package); embeddings are read here (their
// vectors are of no use to the core). Streams are assembled here, chunk by chunk, as the caller
// reads them.

const path = require('node:path')
const sc = require('../lib/semconv')
const { startCall, textPart } = require('../lib/llm')
const stainless = require('./stainless')

const INSTRUMENTATION = 'fivelens.openai'

/** @param {any} obj @param {string} name */
const get = (obj, name) => (obj !== null && obj !== undefined && typeof obj === 'object' ? obj[name] : undefined)
const isInt = (/** @type {any} */ v) => Number.isInteger(v)

/** @param {any} client */
function provider(client) {
  for (let c = client && client.constructor; c && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    if (typeof c.name === 'string' && c.name.startsWith('Azure')) return 'azure.ai.openai'
  }
  return 'openai'
}

/** @param {any} raw */
function parseArguments(raw) {
  if (typeof raw !== 'string') return raw
  try {
    return JSON.parse(raw)
  } catch {
    return raw
  }
}

/**
 * Start attributes: `server.address`/`server.port` and `gen_ai.request.stream`.
 * @param {any} client
 * @param {Record<string, any>} body
 * @returns {Record<string, any>}
 */
function startAttributes(client, body) {
  /** @type {Record<string, any>} */
  const attrs = {}
  const [host, port] = stainless.serverOf(client)
  if (host) {
    attrs[sc.SERVER_ADDRESS] = host
    attrs[sc.SERVER_PORT] = port
  }
  if (body.stream === true) attrs[sc.GEN_AI_REQUEST_STREAM] = true
  return attrs
}

/** @param {any} body */
const modelOf = (body) => (body.model ? String(body.model) : null)

/**
 * An adapter for an endpoint whose request and non-streamed response are handed to the core as
 * JSON (`format`), with the streams assembled here.
 * @param {string} operation
 * @param {string} format
 * @returns {import('./stainless').Adapter}
 */
function payloadAdapter(operation, format) {
  return {
    begin(resource, body) {
      const client = resource._client
      const call = startCall(operation, provider(client), modelOf(body), startAttributes(client, body), INSTRUMENTATION)
      call._payload(format, body)
      return call
    },
    finish: stainless.finishPayload,
    observer(call) {
      return new StreamObserver(call)
    },
  }
}

const chatAdapter = payloadAdapter('chat', 'openai.chat')
const responsesAdapter = payloadAdapter('chat', 'openai.responses')
const completionsAdapter = payloadAdapter('text_completion', 'openai.completions')

/** @type {import('./stainless').Adapter} */
const embeddingsAdapter = {
  begin(resource, body) {
    // Not handed over as JSON (the inputs and the vectors can be large, and are of no use to
    // the core): the few attributes are read here.
    const client = resource._client
    const attrs = startAttributes(client, body)
    // What is sent: the SDK asks for base64 (and decodes it) when the app names no format.
    attrs[sc.GEN_AI_REQUEST_ENCODING_FORMATS] = [typeof body.encoding_format === 'string' ? body.encoding_format : 'base64']
    if (isInt(body.dimensions)) attrs[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = body.dimensions
    return startCall('embeddings', provider(client), modelOf(body), attrs, INSTRUMENTATION)
  },
  finish(call, result) {
    call.setResponse({ model: get(result, 'model') })
    const data = get(result, 'data')
    const vector = Array.isArray(data) && data.length ? get(data[0], 'embedding') : undefined
    if (vector && typeof vector.length === 'number' && typeof vector !== 'string') call.setAttribute(sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, vector.length)
    const usage = get(result, 'usage')
    if (usage) call.setUsage({ inputTokens: get(usage, 'prompt_tokens') })
  },
  observer(call) {
    return new StreamObserver(call)
  },
}

/**
 * A chat stream's usage (its last chunk's, with `stream_options.include_usage`).
 * @param {import('../lib/llm').LlmCall} call
 * @param {any} usage
 */
function setUsage(call, usage) {
  if (!usage) return
  const inDetails = get(usage, 'prompt_tokens_details') || get(usage, 'input_tokens_details')
  const outDetails = get(usage, 'completion_tokens_details') || get(usage, 'output_tokens_details')
  call.setUsage({
    inputTokens: get(usage, 'prompt_tokens') ?? get(usage, 'input_tokens'),
    outputTokens: get(usage, 'completion_tokens') ?? get(usage, 'output_tokens'),
    cacheReadInputTokens: get(inDetails, 'cached_tokens'),
    reasoningOutputTokens: get(outDetails, 'reasoning_tokens'),
  })
}

/**
 * A stream's response id and model (from its first chunk or its `response.created` event).
 * @param {import('../lib/llm').LlmCall} call
 * @param {any} result
 */
function responseMeta(call, result) {
  call.setResponse({ id: get(result, 'id'), model: get(result, 'model') })
  const tier = get(result, 'service_tier')
  if (typeof tier === 'string') call.setAttribute(sc.OPENAI_RESPONSE_SERVICE_TIER, tier)
  const fingerprint = get(result, 'system_fingerprint')
  if (typeof fingerprint === 'string') call.setAttribute(sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT, fingerprint)
}

/** Chat-completion chunks or Responses events, as the caller reads them. */
class StreamObserver {
  /** @param {import('../lib/llm').LlmCall} call */
  constructor(call) {
    this.call = call
    /** @type {Map<number, {texts: string[], tools: Map<number, {id: any, name: any, args: string[]}>, reason: string | null}>} */
    this.choices = new Map()
    /** @type {any} */
    this.final = null
    this.metaSeen = false
    /** @type {string[]} */
    this.texts = []
  }

  /** @param {any} item */
  item(item) {
    const kind = get(item, 'type')
    if (kind !== undefined && get(item, 'object') === undefined) {
      this.event(String(kind), item)
      return
    }
    const call = this.call
    if (!this.metaSeen) {
      this.metaSeen = true
      responseMeta(call, item)
    }
    let text = null
    for (const ch of get(item, 'choices') || []) {
      const index = get(ch, 'index') || 0
      let state = this.choices.get(index)
      if (!state) {
        state = { texts: [], tools: new Map(), reason: null }
        this.choices.set(index, state)
      }
      const delta = get(ch, 'delta')
      if (delta !== undefined) {
        const content = get(delta, 'content')
        if (content) {
          state.texts.push(content)
          text = content
        }
        for (const tc of get(delta, 'tool_calls') || []) {
          const i = get(tc, 'index') || 0
          let slot = state.tools.get(i)
          if (!slot) {
            slot = { id: null, name: null, args: [] }
            state.tools.set(i, slot)
          }
          if (get(tc, 'id')) slot.id = get(tc, 'id')
          const fn = get(tc, 'function')
          if (get(fn, 'name')) slot.name = get(fn, 'name')
          if (get(fn, 'arguments')) slot.args.push(get(fn, 'arguments'))
        }
      } else {
        const content = get(ch, 'text') // legacy completions
        if (content) {
          state.texts.push(content)
          text = content
        }
      }
      const reason = get(ch, 'finish_reason')
      if (reason) state.reason = String(reason)
    }
    call.chunk(text)
    const usage = get(item, 'usage')
    if (usage) setUsage(call, usage)
  }

  /**
   * @param {string} kind
   * @param {any} event
   */
  event(kind, event) {
    const call = this.call
    if (kind === 'response.output_text.delta') {
      const delta = get(event, 'delta')
      call.chunk(typeof delta === 'string' ? delta : null)
      if (typeof delta === 'string') this.texts.push(delta)
      return
    }
    if (kind === 'response.completed' || kind === 'response.incomplete' || kind === 'response.failed') {
      this.final = get(event, 'response')
      return
    }
    if (kind === 'response.created' || kind === 'response.in_progress') {
      const response = get(event, 'response')
      if (response && !this.metaSeen) {
        this.metaSeen = true
        responseMeta(call, response)
      }
      return
    }
    if (kind === 'error') {
      call.fail(String(get(event, 'message') || 'stream error'), String(get(event, 'code') || '_OTHER'))
      return
    }
    call.chunk(null)
  }

  finish() {
    const call = this.call
    if (this.final) {
      // The final response of a Responses stream: mapped by the core, as a non-streamed one.
      stainless.finishPayload(call, this.final)
      return
    }
    if (this.texts.length) {
      // A Responses stream that ended before its final event.
      call.setResponse({ finishReasons: ['error'] })
      call._recordOutput([{ role: 'assistant', parts: [textPart(this.texts.join(''))], finish_reason: 'error' }])
      return
    }
    if (!this.choices.size) return
    /** @type {string[]} */
    const reasons = []
    /** @type {Array<any>} */
    const messages = []
    for (const index of [...this.choices.keys()].sort((a, b) => a - b)) {
      const state = /** @type {any} */ (this.choices.get(index))
      // A choice whose reason never arrived (stream cut or closed early): "error".
      const reason = state.reason || 'error'
      reasons.push(reason)
      /** @type {Array<Record<string, any>>} */
      const parts = []
      if (state.texts.length) parts.push(textPart(state.texts.join('')))
      for (const i of [...state.tools.keys()].sort((a, b) => a - b)) {
        const tool = state.tools.get(i)
        parts.push({ type: 'tool_call', id: tool.id, name: tool.name, arguments: parseArguments(tool.args.join('')) })
      }
      messages.push({ role: 'assistant', parts, finish_reason: reason })
    }
    call.setResponse({ finishReasons: reasons })
    call._recordOutput(messages)
  }
}

/**
 * Wraps the resource classes reachable from the SDK's main export.
 * @param {any} mod the `openai` module (CommonJS exports or ES namespace) or its `OpenAI` class
 * @returns {boolean} whether the classes were found (false while the module is still loading)
 */
function patchModule(mod) {
  const OpenAI = (mod && (mod.OpenAI || (mod.default && mod.default.OpenAI) || mod.default)) || mod
  if (typeof OpenAI !== 'function' || !OpenAI.Chat || typeof OpenAI.Chat.Completions !== 'function') return false
  stainless.wrapMethod(OpenAI.Chat.Completions.prototype, 'create', chatAdapter)
  if (OpenAI.Responses) stainless.wrapMethod(OpenAI.Responses.prototype, 'create', responsesAdapter)
  if (OpenAI.Embeddings) stainless.wrapMethod(OpenAI.Embeddings.prototype, 'create', embeddingsAdapter)
  if (OpenAI.Completions) stainless.wrapMethod(OpenAI.Completions.prototype, 'create', completionsAdapter)
  return true
}

/**
 * Patches the SDK as the app resolves it: its CommonJS copy when the app requires it (or now, if
 * it has), and its ES module copy now (see `withEsm`).
 * @returns {string | undefined} why it was skipped
 */
function instrument() {
  const root = stainless.resolveFromApp('openai')
  if (!root) return 'openai is not installed'
  stainless.whenRequired(path.join(root, 'index.js'), patchModule)
  stainless.withEsm(path.join(root, 'index.mjs'), patchModule)
  return undefined
}

module.exports = { instrument, patchModule, INSTRUMENTATION }
