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

const path = require('node:path')
const sc = require('../lib/semconv')
const { startCall, textPart } = require('../lib/llm')
const stainless = require('./stainless')

const INSTRUMENTATION = 'fivelens.openai'

/** @param {any} obj @param {string} name */
const get = (obj, name) => (obj !== null && obj !== undefined && typeof obj === 'object' ? obj[name] : undefined)
const isNumber = (/** @type {any} */ v) => typeof v === 'number' && Number.isFinite(v)
const isInt = (/** @type {any} */ v) => Number.isInteger(v)

/** @param {any} client */
function provider(client) {
  for (let c = client && client.constructor; c && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    if (typeof c.name === 'string' && c.name.startsWith('Azure')) return 'azure.ai.openai'
  }
  return 'openai'
}

/** @param {any} fmt */
function outputType(fmt) {
  const kind = get(fmt, 'type')
  if (kind === 'json_schema' || kind === 'json_object') return 'json'
  if (kind === 'text') return 'text'
  return null
}

/**
 * @param {Record<string, any>} body
 * @param {Record<string, any>} attrs
 */
function commonRequest(body, attrs) {
  for (const [key, attr] of [
    ['temperature', sc.GEN_AI_REQUEST_TEMPERATURE],
    ['top_p', sc.GEN_AI_REQUEST_TOP_P],
    ['frequency_penalty', sc.GEN_AI_REQUEST_FREQUENCY_PENALTY],
    ['presence_penalty', sc.GEN_AI_REQUEST_PRESENCE_PENALTY],
  ]) {
    if (isNumber(body[key])) attrs[attr] = body[key]
  }
  if (isInt(body.seed)) attrs[sc.GEN_AI_REQUEST_SEED] = body.seed
  if (typeof body.service_tier === 'string') attrs[sc.OPENAI_REQUEST_SERVICE_TIER] = body.service_tier
  if (body.stream === true) attrs[sc.GEN_AI_REQUEST_STREAM] = true
}

/**
 * Tool definitions, names only (the conventions leave descriptions and schemas out by default,
 * for size).
 * @param {any} tools
 */
function toolDefinitions(tools) {
  if (!Array.isArray(tools)) return []
  return tools.map((t) => {
    const kind = get(t, 'type') || 'function'
    const fn = get(t, 'function')
    let name = fn !== undefined ? get(fn, 'name') : get(t, 'name')
    if (name === undefined && kind === 'custom') name = get(get(t, 'custom'), 'name')
    /** @type {Record<string, any>} */
    const entry = { type: kind }
    if (name) entry.name = name
    return entry
  })
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
 * @param {string} url
 * @param {string} modality
 */
function mediaPart(url, modality) {
  if (url.startsWith('data:')) {
    const comma = url.indexOf(',')
    const head = comma >= 0 ? url.slice(5, comma) : url.slice(5)
    const mime = head.split(';')[0]
    /** @type {Record<string, any>} */
    const part = { type: 'blob', modality, content: comma >= 0 ? url.slice(comma + 1) : '' }
    if (mime) part.mime_type = mime
    return part
  }
  return { type: 'uri', modality, uri: url }
}

/**
 * Chat-completions or Responses content (a string or a list of typed parts) as parts.
 * @param {any} content
 * @returns {Record<string, any>[]}
 */
function contentParts(content) {
  if (content === undefined || content === null) return []
  if (typeof content === 'string') return [textPart(content)]
  if (!Array.isArray(content)) return [{ type: String(get(content, 'type') || 'unknown') }]
  return content.map((p) => {
    if (typeof p === 'string') return textPart(p)
    const kind = get(p, 'type')
    if (kind === 'text' || kind === 'input_text' || kind === 'output_text') return textPart(get(p, 'text') || '')
    if (kind === 'refusal') return textPart(get(p, 'refusal') || '')
    if (kind === 'image_url') return mediaPart(String(get(get(p, 'image_url'), 'url') || ''), 'image')
    if (kind === 'input_image') {
      const url = get(p, 'image_url')
      return url ? mediaPart(String(url), 'image') : { type: 'file', modality: 'image', file_id: get(p, 'file_id') }
    }
    if (kind === 'input_audio') {
      const audio = get(p, 'input_audio')
      return { type: 'blob', modality: 'audio', content: get(audio, 'data'), mime_type: `audio/${get(audio, 'format')}` }
    }
    if (kind === 'file' || kind === 'input_file') {
      const f = get(p, 'file') || p
      return { type: 'file', modality: 'document', file_id: get(f, 'file_id') || get(f, 'filename') }
    }
    return { type: String(kind) }
  })
}

/** @param {any} content */
function toolResponse(content) {
  if (Array.isArray(content)) {
    return contentParts(content)
      .filter((p) => p.type === 'text')
      .map((p) => p.content)
      .join('\n')
  }
  return content
}

/**
 * Chat-completions messages in the conventions' shape, and the system prompt text.
 * @param {any} messages
 * @returns {[any[], string | null]}
 */
function chatMessages(messages) {
  /** @type {Array<Record<string, any>>} */
  const out = []
  /** @type {string[]} */
  const system = []
  for (const m of Array.isArray(messages) ? messages : []) {
    const role = String(get(m, 'role') || 'user')
    if (role === 'tool') {
      out.push({ role: 'tool', parts: [{ type: 'tool_call_response', id: get(m, 'tool_call_id'), response: toolResponse(get(m, 'content')) }] })
      continue
    }
    const parts = contentParts(get(m, 'content'))
    if (role === 'system' || role === 'developer') system.push(...parts.filter((p) => p.type === 'text').map((p) => p.content))
    for (const tc of get(m, 'tool_calls') || []) {
      const fn = get(tc, 'function')
      parts.push({ type: 'tool_call', id: get(tc, 'id'), name: get(fn, 'name'), arguments: parseArguments(get(fn, 'arguments')) })
    }
    /** @type {Record<string, any>} */
    const msg = { role, parts }
    if (get(m, 'name')) msg.name = get(m, 'name')
    out.push(msg)
  }
  return [out, system.length ? system.join('\n') : null]
}

/**
 * Responses API `input` (a string or a list of items) in the conventions' shape.
 * @param {any} value
 * @returns {[any[], string | null]}
 */
function responsesInput(value) {
  if (value === undefined || value === null) return [[], null]
  if (typeof value === 'string') return [[{ role: 'user', parts: [textPart(value)] }], null]
  /** @type {Array<Record<string, any>>} */
  const out = []
  /** @type {string[]} */
  const system = []
  for (const item of Array.isArray(value) ? value : []) {
    const kind = get(item, 'type')
    const role = get(item, 'role')
    if ((kind === undefined || kind === 'message') && role) {
      const parts = contentParts(get(item, 'content'))
      if (role === 'system' || role === 'developer') system.push(...parts.filter((p) => p.type === 'text').map((p) => p.content))
      out.push({ role: String(role), parts })
    } else if (kind === 'function_call') {
      out.push({
        role: 'assistant',
        parts: [{ type: 'tool_call', id: get(item, 'call_id'), name: get(item, 'name'), arguments: parseArguments(get(item, 'arguments')) }],
      })
    } else if (kind === 'function_call_output' || kind === 'custom_tool_call_output') {
      out.push({ role: 'tool', parts: [{ type: 'tool_call_response', id: get(item, 'call_id'), response: get(item, 'output') }] })
    } else if (kind === 'reasoning') {
      const text = (get(item, 'summary') || []).map((/** @type {any} */ s) => String(get(s, 'text') || '')).join('\n')
      out.push({ role: 'assistant', parts: [{ type: 'reasoning', content: text }] })
    } else if (kind !== undefined) {
      out.push({ role: String(kind).includes('call') ? 'assistant' : 'user', parts: [{ type: String(kind) }] })
    }
  }
  return [out, system.length ? system.join('\n') : null]
}

/**
 * @param {any} client
 * @param {Record<string, any>} attrs
 */
function server(client, attrs) {
  const [host, port] = stainless.serverOf(client)
  if (host) {
    attrs[sc.SERVER_ADDRESS] = host
    attrs[sc.SERVER_PORT] = port
  }
}

/** @param {any} body */
const modelOf = (body) => (body.model ? String(body.model) : null)

/** @type {import('./stainless').Adapter} */
const chatAdapter = {
  begin(resource, body) {
    const client = resource._client
    /** @type {Record<string, any>} */
    const attrs = {}
    server(client, attrs)
    commonRequest(body, attrs)
    const maxTokens = body.max_completion_tokens ?? body.max_tokens
    if (isInt(maxTokens)) attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] = maxTokens
    const stop = body.stop
    if (stop) attrs[sc.GEN_AI_REQUEST_STOP_SEQUENCES] = typeof stop === 'string' ? [stop] : Array.from(stop, String)
    if (isInt(body.n) && body.n !== 1) attrs[sc.GEN_AI_REQUEST_CHOICE_COUNT] = body.n
    if (typeof body.reasoning_effort === 'string') attrs[sc.GEN_AI_REQUEST_REASONING_LEVEL] = body.reasoning_effort
    const out = outputType(body.response_format)
    if (out) attrs[sc.GEN_AI_OUTPUT_TYPE] = out
    const call = startCall('chat', provider(client), modelOf(body), attrs, INSTRUMENTATION)
    const [messages, system] = chatMessages(body.messages)
    call._recordInput(messages, null, call.captureContent ? toolDefinitions(body.tools) : null, system)
    return call
  },
  finish(call, result) {
    finishChat(call, result)
  },
  observer(call) {
    return new StreamObserver(call)
  },
}

/** @type {import('./stainless').Adapter} */
const completionsAdapter = {
  begin(resource, body) {
    const client = resource._client
    /** @type {Record<string, any>} */
    const attrs = {}
    server(client, attrs)
    commonRequest(body, attrs)
    if (isInt(body.max_tokens)) attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] = body.max_tokens
    const call = startCall('text_completion', provider(client), modelOf(body), attrs, INSTRUMENTATION)
    const prompt = body.prompt
    const texts = typeof prompt === 'string' ? [prompt] : Array.isArray(prompt) ? prompt.filter((p) => typeof p === 'string') : []
    call._recordInput(
      texts.map((t) => ({ role: 'user', parts: [textPart(t)] })),
      null,
      null,
      null,
    )
    return call
  },
  finish(call, result) {
    finishChat(call, result)
  },
  observer(call) {
    return new StreamObserver(call)
  },
}

/** @type {import('./stainless').Adapter} */
const responsesAdapter = {
  begin(resource, body) {
    const client = resource._client
    /** @type {Record<string, any>} */
    const attrs = {}
    server(client, attrs)
    commonRequest(body, attrs)
    if (isInt(body.max_output_tokens)) attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] = body.max_output_tokens
    const effort = get(body.reasoning, 'effort')
    if (typeof effort === 'string') attrs[sc.GEN_AI_REQUEST_REASONING_LEVEL] = effort
    const out = outputType(get(body.text, 'format'))
    if (out) attrs[sc.GEN_AI_OUTPUT_TYPE] = out
    if (typeof body.previous_response_id === 'string') attrs[sc.GEN_AI_REQUEST_PREVIOUS_RESPONSE_ID] = body.previous_response_id
    const conversation = body.conversation
    const conversationId = typeof conversation === 'string' ? conversation : get(conversation, 'id')
    if (typeof conversationId === 'string') attrs[sc.GEN_AI_CONVERSATION_ID] = conversationId
    const prompt = body.prompt
    if (get(prompt, 'id')) {
      // A stored prompt: its id and version are the declared prompt name and version.
      attrs[sc.GEN_AI_PROMPT_NAME] = String(prompt.id)
      if (prompt.version) attrs[sc.GEN_AI_PROMPT_VERSION] = String(prompt.version)
    }
    const call = startCall('chat', provider(client), modelOf(body), attrs, INSTRUMENTATION)
    let [messages, system] = responsesInput(body.input)
    let systemParts = null
    if (typeof body.instructions === 'string' && body.instructions) {
      systemParts = [textPart(body.instructions)]
      system = body.instructions
    }
    call._recordInput(messages, systemParts, call.captureContent ? toolDefinitions(body.tools) : null, system)
    return call
  },
  finish(call, result) {
    finishResponse(call, result)
  },
  observer(call) {
    return new StreamObserver(call)
  },
}

/** @type {import('./stainless').Adapter} */
const embeddingsAdapter = {
  begin(resource, body) {
    const client = resource._client
    /** @type {Record<string, any>} */
    const attrs = {}
    server(client, attrs)
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

/**
 * A chat completion (or a legacy text completion).
 * @param {import('../lib/llm').LlmCall} call
 * @param {any} result
 */
function finishChat(call, result) {
  responseMeta(call, result)
  /** @type {string[]} */
  const reasons = []
  /** @type {Array<any>} */
  const messages = []
  for (const choice of get(result, 'choices') || []) {
    const reason = String(get(choice, 'finish_reason') || 'error')
    reasons.push(reason)
    const message = get(choice, 'message')
    /** @type {Array<Record<string, any>>} */
    const parts = []
    if (message === undefined) {
      const text = get(choice, 'text')
      if (text) parts.push(textPart(text))
    } else {
      const content = get(message, 'content')
      if (content) parts.push(textPart(content))
      const refusal = get(message, 'refusal')
      if (refusal) parts.push(textPart(refusal))
      for (const tc of get(message, 'tool_calls') || []) {
        const fn = get(tc, 'function')
        parts.push({ type: 'tool_call', id: get(tc, 'id'), name: get(fn, 'name'), arguments: parseArguments(get(fn, 'arguments')) })
      }
    }
    messages.push({ role: 'assistant', parts, finish_reason: reason })
  }
  if (reasons.length) call.setResponse({ finishReasons: reasons })
  call._recordOutput(messages)
  setUsage(call, get(result, 'usage'))
}

/**
 * @param {any} result
 * @param {boolean} hasToolCall
 */
function responseFinishReason(result, hasToolCall) {
  const status = get(result, 'status')
  if (status === 'incomplete') {
    const reason = get(get(result, 'incomplete_details'), 'reason')
    return reason === 'max_output_tokens' ? 'length' : String(reason || 'incomplete')
  }
  if (status === 'failed') return 'error'
  return hasToolCall ? 'tool_calls' : 'stop'
}

/**
 * A Responses API `response`.
 * @param {import('../lib/llm').LlmCall} call
 * @param {any} result
 */
function finishResponse(call, result) {
  responseMeta(call, result)
  /** @type {Array<Record<string, any>>} */
  const parts = []
  let hasToolCall = false
  for (const item of get(result, 'output') || []) {
    const kind = get(item, 'type')
    if (kind === 'message') {
      parts.push(...contentParts(get(item, 'content')))
    } else if (kind === 'function_call' || kind === 'custom_tool_call') {
      hasToolCall = true
      parts.push({
        type: 'tool_call',
        id: get(item, 'call_id'),
        name: get(item, 'name'),
        arguments: parseArguments(get(item, 'arguments') ?? get(item, 'input')),
      })
    } else if (kind === 'reasoning') {
      const text = (get(item, 'summary') || []).map((/** @type {any} */ s) => String(get(s, 'text') || '')).join('\n')
      parts.push({ type: 'reasoning', content: text })
    } else if (kind) {
      parts.push({ type: 'server_tool_call', id: get(item, 'id'), name: String(kind), server_tool_call: { type: String(kind) } })
    }
  }
  const reason = responseFinishReason(result, hasToolCall)
  call.setResponse({ finishReasons: [reason] })
  call._recordOutput([{ role: 'assistant', parts, finish_reason: reason }])
  setUsage(call, get(result, 'usage'))
  const error = get(result, 'error')
  if (get(result, 'status') === 'failed' && error) {
    call.fail(String(get(error, 'message') || 'response failed'), String(get(error, 'code') || '_OTHER'))
  }
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
      finishResponse(call, this.final)
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
