'use strict'
// Model-call spans: `withLlmCall()` / `startLlmCall()` for any provider, and the building block of
// the OpenAI and Anthropic integrations.
//
// A model call is one CLIENT span named `{operation} {model}` with the GenAI attributes. This
// module only gathers what the caller sees; the processing thread does the rest, off the event
// loop: token estimates when the provider reported no usage, the prompt hash, cost, content
// truncation (and dropping, when capture is off), metrics and roll-ups. The integrations hand
// over the provider's request and response bodies as JSON (`_payload`, `_responsePayload`), and
// the processing thread maps them to the GenAI attributes too (`core/src/providers.rs`).

const { performance } = require('node:perf_hooks')
const { state } = require('./state')
const { Span } = require('./span')
const { store } = require('./context')
const ids = require('./ids')
const sc = require('./semconv')

/**
 * A message part in the OpenTelemetry GenAI shape (`{type: 'text', content}`, `{type:
 * 'tool_call', id, name, arguments}`...).
 * @typedef {Record<string, any>} Part
 */

/**
 * A message in the OpenTelemetry GenAI shape.
 * @typedef {{role: string, parts: Part[], name?: string, finish_reason?: string}} Message
 */

/**
 * Options of `startLlmCall()` / `withLlmCall()`. `provider` is the `gen_ai.provider.name` value
 * (`gcp.gemini`, `aws.bedrock`, `ollama`...); the request parameters become `gen_ai.request.*`.
 * @typedef {object} LlmCallOptions
 * @property {string} provider `gen_ai.provider.name`
 * @property {string} [model] `gen_ai.request.model`
 * @property {string} [operation] `gen_ai.operation.name`: `chat` (default), `text_completion`, `generate_content`, `embeddings`
 * @property {string} [serverAddress] `server.address`
 * @property {number} [serverPort] `server.port` (with `serverAddress`)
 * @property {boolean} [stream] `gen_ai.request.stream`
 * @property {import('./span').Span | string | Record<string, string> | any} [parent] explicit parent, as for `startSpan`
 * @property {Record<string, any>} [attributes] any other attributes
 * @property {number} [maxTokens] `gen_ai.request.max_tokens`
 * @property {number} [temperature] `gen_ai.request.temperature`
 * @property {number} [topP] `gen_ai.request.top_p`
 * @property {number} [topK] `gen_ai.request.top_k`
 * @property {string | string[]} [stopSequences] `gen_ai.request.stop_sequences`
 * @property {number} [frequencyPenalty] `gen_ai.request.frequency_penalty`
 * @property {number} [presencePenalty] `gen_ai.request.presence_penalty`
 * @property {number} [seed] `gen_ai.request.seed`
 * @property {number} [choiceCount] `gen_ai.request.choice.count`
 * @property {string} [reasoningLevel] `gen_ai.request.reasoning.level`
 * @property {string} [outputType] `gen_ai.output.type`
 * @property {string} [conversationId] `gen_ai.conversation.id`
 * @property {string | string[]} [encodingFormats] `gen_ai.request.encoding_formats`
 */

/**
 * Token usage as the provider reported it. `inputTokens` includes cached tokens and
 * `outputTokens` reasoning tokens (the conventions' rule: the others are subsets).
 * @typedef {object} LlmUsage
 * @property {number | null} [inputTokens]
 * @property {number | null} [outputTokens]
 * @property {number | null} [cacheReadInputTokens]
 * @property {number | null} [cacheWriteInputTokens]
 * @property {number | null} [reasoningOutputTokens]
 */

/**
 * Request parameters by option name: [attribute, expected type, integer only].
 * @type {Record<string, [string, 'number' | 'string' | 'strings', boolean]>}
 */
const REQUEST_PARAMS = {
  maxTokens: [sc.GEN_AI_REQUEST_MAX_TOKENS, 'number', true],
  temperature: [sc.GEN_AI_REQUEST_TEMPERATURE, 'number', false],
  topP: [sc.GEN_AI_REQUEST_TOP_P, 'number', false],
  topK: [sc.GEN_AI_REQUEST_TOP_K, 'number', true],
  stopSequences: [sc.GEN_AI_REQUEST_STOP_SEQUENCES, 'strings', false],
  frequencyPenalty: [sc.GEN_AI_REQUEST_FREQUENCY_PENALTY, 'number', false],
  presencePenalty: [sc.GEN_AI_REQUEST_PRESENCE_PENALTY, 'number', false],
  seed: [sc.GEN_AI_REQUEST_SEED, 'number', true],
  choiceCount: [sc.GEN_AI_REQUEST_CHOICE_COUNT, 'number', true],
  reasoningLevel: [sc.GEN_AI_REQUEST_REASONING_LEVEL, 'string', false],
  outputType: [sc.GEN_AI_OUTPUT_TYPE, 'string', false],
  conversationId: [sc.GEN_AI_CONVERSATION_ID, 'string', false],
  encodingFormats: [sc.GEN_AI_REQUEST_ENCODING_FORMATS, 'strings', false],
}
const OTHER_OPTIONS = ['provider', 'model', 'operation', 'serverAddress', 'serverPort', 'stream', 'parent', 'attributes']
const KNOWN_OPTIONS = [...OTHER_OPTIONS, ...Object.keys(REQUEST_PARAMS)].sort()

const isObject = (/** @type {any} */ v) => v !== null && typeof v === 'object'
const isCount = (/** @type {any} */ v) => typeof v === 'number' && Number.isInteger(v) && v >= 0

/**
 * Compact JSON of anything (values JSON cannot encode become strings; cycles are cut).
 * @param {any} value
 * @returns {string}
 */
function toJson(value) {
  const seen = new WeakSet()
  try {
    return JSON.stringify(value, (_k, v) => {
      if (typeof v === 'bigint') return v.toString()
      if (typeof v === 'function' || typeof v === 'symbol') return undefined
      if (v instanceof Uint8Array || v instanceof ArrayBuffer) return `<${v.byteLength} bytes>`
      if (isObject(v)) {
        if (seen.has(v)) return '<cycle>'
        seen.add(v)
      }
      return v
    })
  } catch {
    return JSON.stringify(String(value))
  }
}

/**
 * A provider payload (a request body, a parsed response) as JSON: plain `JSON.stringify`, which
 * is what the SDKs send (its output is always well-formed), or `toJson` for what it refuses
 * (cycles, BigInt).
 * @param {any} value
 * @returns {string | null}
 */
function payloadJson(value) {
  if (!isObject(value)) return null
  try {
    return JSON.stringify(value)
  } catch {
    return toJson(value)
  }
}

/**
 * @param {string} text
 * @returns {Part}
 */
const textPart = (text) => ({ type: 'text', content: text })

/**
 * The text of the `text` parts.
 * @param {any} parts
 * @returns {string}
 */
function textOfParts(parts) {
  if (!Array.isArray(parts)) return ''
  return parts
    .filter((p) => isObject(p) && p.type === 'text' && typeof p.content === 'string')
    .map((p) => p.content)
    .join('\n')
}

/**
 * Parts of a message given as a string, a list of strings / `{type: 'text', text}` items, or
 * parts already in the conventions' shape.
 * @param {any} content
 * @returns {Part[]}
 */
function genericParts(content) {
  if (content === undefined || content === null) return []
  if (typeof content === 'string') return [textPart(content)]
  const items = Array.isArray(content) ? content : isObject(content) ? [content] : [String(content)]
  return items.map((item) => {
    if (typeof item === 'string') return textPart(item)
    if (isObject(item)) {
      if (item.type === 'text' && !('content' in item) && typeof item.text === 'string') return textPart(item.text)
      return { ...item }
    }
    return textPart(String(item))
  })
}

/**
 * Messages in the conventions' shape (`{role, parts}`) from that shape or the common
 * `{role, content}` one; a bare string is one message of `defaultRole`.
 * @param {any} messages
 * @param {string} [defaultRole]
 * @returns {Message[]}
 */
function normalizeMessages(messages, defaultRole = 'user') {
  if (messages === undefined || messages === null) return []
  if (typeof messages === 'string') return [{ role: defaultRole, parts: [textPart(messages)] }]
  const list = Array.isArray(messages) ? messages : [messages]
  return list.map((m) => {
    if (!isObject(m)) return { role: defaultRole, parts: genericParts(m) }
    /** @type {Message} */
    const msg = { role: String(m.role || defaultRole), parts: genericParts('parts' in m ? m.parts : m.content) }
    if (m.name) msg.name = m.name
    if (m.finish_reason) msg.finish_reason = m.finish_reason
    return msg
  })
}

/**
 * The text of messages in the conventions' shape (for token estimates).
 * @param {Message[]} messages
 * @returns {string}
 */
function messagesText(messages) {
  return messages.map((m) => textOfParts(m.parts)).join('\n')
}

/**
 * @param {any} value
 * @returns {string[]}
 */
function asList(value) {
  if (value === undefined || value === null) return []
  if (typeof value === 'string') return [value]
  if (typeof value[Symbol.iterator] === 'function') return Array.from(value, String)
  return [String(value)]
}

/** @param {string} message */
function report(message) {
  const native = state().native
  try {
    if (native) native.reportInternalError('node', message)
  } catch {}
}

function captureContent() {
  const native = state().native
  try {
    return !!(native && native.captureContent())
  } catch {
    return false
  }
}

/**
 * One model call in progress: the span and what is known about the call so far. Every method
 * is safe to call in any order and more than once (the last value wins); none throws for odd
 * values, and nothing is recorded once the call has ended.
 */
class LlmCall {
  /**
   * @param {Span} span a started CLIENT span with the call's request attributes
   */
  constructor(span) {
    /** The call's span. */
    this.span = span
    this._t0 = performance.now()
    this._firstChunk = 0
    this._lastActivity = 0
    this._ended = false
    this._failed = false
    this._inputSet = false
    this._outputSet = false
    /** @type {Message[] | null} */
    this._inputMessages = null
    /** @type {string | null} */
    this._systemText = null
    /** @type {string | null} */
    this._outputText = null
    /** @type {string[]} */
    this._chunks = []
    this._capture = captureContent()
    // Set by integrations (`_payload`, `_responsePayload`): the payloads' format
    // (`openai.chat`...), the request body as JSON, a non-streamed response body as JSON. The
    // LangChain integration sets plain structures instead (`langchain.chat`): they are
    // serialised once, with the batch the span goes in (see lib/span.js).
    /** @type {string | null} */
    this._format = null
    /** @type {string | object | null} */
    this._request = null
    /** @type {string | object | null} */
    this._response = null
  }

  /** Whether content is captured (`captureContent` and `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`). */
  get captureContent() {
    return this._capture
  }

  /** Whether the call has ended. */
  get ended() {
    return this._ended
  }

  /** Wall-clock time (epoch ms) of the last streamed chunk, 0 before any. */
  get lastActivityMs() {
    return this._lastActivity
  }

  /**
   * Any other attribute on the span.
   * @param {string} key
   * @param {any} value
   * @returns {this}
   */
  setAttribute(key, value) {
    this.span.setAttribute(key, value)
    return this
  }

  /**
   * The input: `messages` (the conventions' `{role, parts}` shape, the common `{role, content}`
   * one, or a string), the separate system instructions (a string or parts) and the tool
   * definitions (`{type: 'function', name}`...).
   * @param {any} messages
   * @param {{system?: any, tools?: any[]}} [options]
   * @returns {this}
   */
  setInput(messages, options = {}) {
    try {
      const { system, tools } = options || {}
      const normalized = normalizeMessages(messages)
      const systemParts = system !== undefined && system !== null ? genericParts(system) : null
      let systemText = systemParts ? textOfParts(systemParts) : null
      if (!systemParts) {
        systemText =
          normalized
            .filter((m) => m.role === 'system' || m.role === 'developer')
            .map((m) => textOfParts(m.parts))
            .join('\n') || null
      }
      this._recordInput(normalized, systemParts, tools, systemText)
    } catch (e) {
      report(`recording a model call's input failed: ${e}`)
    }
    return this
  }

  /**
   * The input, already in the conventions' shape (integrations convert it themselves).
   * @param {Message[]} messages
   * @param {Part[] | null} systemParts
   * @param {any} tools
   * @param {string | null} systemText
   */
  _recordInput(messages, systemParts, tools, systemText) {
    this._inputMessages = messages
    this._systemText = systemText
    const span = this.span
    // Private: hashed into `fivelens.prompt.hash` and removed by the processing thread.
    if (systemText) span.setAttribute(sc.PRIVATE_SYSTEM_PROMPT, systemText)
    // With capture off the input still goes to the processing thread, under private keys, for
    // the context-window sections: counted there, then dropped; never exported.
    const [m, sys, t] = this._capture
      ? [sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_SYSTEM_INSTRUCTIONS, sc.GEN_AI_TOOL_DEFINITIONS]
      : [sc.PRIVATE_INPUT_MESSAGES, sc.PRIVATE_SYSTEM_INSTRUCTIONS, sc.PRIVATE_TOOL_DEFINITIONS]
    if (messages && messages.length) span.setAttribute(m, toJson(messages))
    if (systemParts && systemParts.length) span.setAttribute(sys, toJson(systemParts))
    if (Array.isArray(tools) && tools.length) span.setAttribute(t, toJson(tools))
  }

  /**
   * For integrations: the provider's request body, serialised now (what the SDK is about to
   * send), and its format (`openai.chat`, `openai.responses`, `openai.completions`,
   * `anthropic.messages`, `anthropic.complete`). The core's processing thread maps it to the
   * request parameters, the input content, the tool definitions and the system prompt (see
   * `core/src/providers.rs`); attributes set on the call itself win over what it gives.
   * @param {string} format
   * @param {any} body
   */
  _payload(format, body) {
    this._format = format
    this._request = payloadJson(body)
  }

  /**
   * For integrations: a non-streamed response body as the provider's JSON text (the core maps
   * the response id and model, finish reasons, usage and output). Only the first one is kept.
   * @param {string | null | undefined} json
   */
  _responsePayload(json) {
    if (this._response === null && typeof json === 'string' && json) this._response = json
  }

  /** Whether a response body was handed over. */
  get _hasResponsePayload() {
    return this._response !== null
  }

  /**
   * A streamed chunk arrived (with its text, if any): the first one sets
   * `gen_ai.response.time_to_first_chunk`.
   * @param {string | null} [text]
   * @returns {this}
   */
  chunk(text) {
    if (this._ended) return this
    if (!this._firstChunk) {
      this._firstChunk = performance.now()
      this.span.setAttribute(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, (this._firstChunk - this._t0) / 1000)
    }
    this._lastActivity = ids.now()
    if (typeof text === 'string' && text) this._chunks.push(text)
    return this
  }

  /**
   * The output: a string (one assistant message), or messages (one per choice). Without it,
   * the text of the streamed chunks is used.
   * @param {any} output
   * @param {{finishReasons?: string[] | string}} [options]
   * @returns {this}
   */
  setOutput(output, options = {}) {
    try {
      const reasons = asList(options && options.finishReasons)
      const messages = normalizeMessages(output, 'assistant')
      if (reasons.length) {
        this.span.setAttribute(sc.GEN_AI_RESPONSE_FINISH_REASONS, reasons)
        messages.forEach((m, i) => {
          if (i < reasons.length && !m.finish_reason) m.finish_reason = reasons[i]
        })
      }
      this._recordOutput(messages)
    } catch (e) {
      report(`recording a model call's output failed: ${e}`)
    }
    return this
  }

  /**
   * The output, already in the conventions' shape.
   * @param {Message[]} messages
   */
  _recordOutput(messages) {
    if (!messages.length) return
    this._outputText = messagesText(messages)
    if (this._capture) this.span.setAttribute(sc.GEN_AI_OUTPUT_MESSAGES, toJson(messages))
  }

  /**
   * Token usage as the provider reported it (non-negative integers; others are ignored).
   * @param {LlmUsage} usage
   * @returns {this}
   */
  setUsage(usage) {
    if (!isObject(usage)) return this
    /** @type {Array<[string, any]>} */
    const pairs = [
      [sc.GEN_AI_USAGE_INPUT_TOKENS, usage.inputTokens],
      [sc.GEN_AI_USAGE_OUTPUT_TOKENS, usage.outputTokens],
      [sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, usage.cacheReadInputTokens],
      [sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS, usage.cacheWriteInputTokens],
      [sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, usage.reasoningOutputTokens],
    ]
    for (const [key, value] of pairs) {
      if (!isCount(value)) continue
      this.span.setAttribute(key, value)
      if (key === sc.GEN_AI_USAGE_INPUT_TOKENS) this._inputSet = true
      else if (key === sc.GEN_AI_USAGE_OUTPUT_TOKENS) this._outputSet = true
    }
    return this
  }

  /**
   * The response id, the model that answered, and the finish reason of each choice.
   * @param {{id?: string | null, model?: string | null, finishReasons?: string[] | string | null}} response
   * @returns {this}
   */
  setResponse(response) {
    if (!isObject(response)) return this
    const { id, model, finishReasons } = response
    if (id) this.span.setAttribute(sc.GEN_AI_RESPONSE_ID, String(id))
    if (model) this.span.setAttribute(sc.GEN_AI_RESPONSE_MODEL, String(model))
    if (finishReasons !== undefined && finishReasons !== null) {
      this.span.setAttribute(sc.GEN_AI_RESPONSE_FINISH_REASONS, asList(finishReasons))
    }
    return this
  }

  /**
   * Marks the call failed: status ERROR, `error.type` (the error's class name unless given) and
   * an `exception` event. A string is a message: status ERROR and `error.type` `_OTHER` unless
   * given.
   * @param {any} error
   * @param {string} [errorType]
   * @returns {this}
   */
  fail(error, errorType) {
    if (this._ended) return this
    this._failed = true
    if (errorType) this.span.setAttribute(sc.ERROR_TYPE, String(errorType))
    if (isObject(error)) {
      this.span.recordException(error)
    } else {
      this.span.setStatus('error', String(error))
      if (!errorType) this.span.setAttribute(sc.ERROR_TYPE, '_OTHER')
    }
    return this
  }

  /**
   * Ends the call (only the first call counts), now or at `endTimeMs` (epoch ms or a Date).
   * Without usage from the provider, the processing thread estimates it from the input and
   * output text and marks it estimated.
   * @param {number | Date} [endTimeMs]
   */
  end(endTimeMs) {
    if (this._ended) return
    this._ended = true
    try {
      const span = this.span
      // (A response body handed over holds the output: the core maps it.)
      if (this._outputText === null && this._response === null && this._chunks.length) {
        const text = this._chunks.join('')
        this._outputText = text
        if (this._capture) span.setAttribute(sc.GEN_AI_OUTPUT_MESSAGES, toJson([{ role: 'assistant', parts: [textPart(text)] }]))
      }
      // What the provider did not report is estimated by the processing thread from the text
      // (private attributes: they never leave the process). A call that failed before any output
      // is not estimated: it is usually not billed, and a guess would cost it.
      const estimate = !this._failed || !!this._outputText
      const input = this._inputMessages
      if (estimate && !this._inputSet && input && input.length) {
        let text = messagesText(input)
        if (this._systemText && !input.some((m) => m.role === 'system' || m.role === 'developer')) {
          text = this._systemText + '\n' + text
        }
        span.setAttribute(sc.PRIVATE_INPUT_TEXT, text)
      }
      if (estimate && !this._outputSet && this._outputText) span.setAttribute(sc.PRIVATE_OUTPUT_TEXT, this._outputText)
      if (this._format !== null && span.isRecording()) {
        // Whole, never cut (a cut would spoil the JSON): the core keeps a payload up to
        // 16 x max_content_bytes and drops a larger one, saying so in status().
        const attrs = span._attributes
        attrs[sc.PRIVATE_FORMAT] = this._format
        if (this._request !== null) attrs[sc.PRIVATE_REQUEST] = this._request
        if (this._response !== null) attrs[sc.PRIVATE_RESPONSE] = this._response
      }
      span.end(endTimeMs)
    } catch (e) {
      report(`ending a model-call span failed: ${e}`)
    }
  }
}

/** `api.startSpan`, looked up once, on first use. @type {any} */
let startSpan = null

/**
 * For integrations: a call whose attributes are already keyed by their full names.
 * @param {string} operation
 * @param {string} provider
 * @param {string | null | undefined} model
 * @param {Record<string, any>} attributes
 * @param {string} instrumentation
 * @param {any} [parent]
 * @returns {LlmCall}
 */
function startCall(operation, provider, model, attributes, instrumentation, parent) {
  attributes[sc.GEN_AI_OPERATION_NAME] = operation
  attributes[sc.GEN_AI_PROVIDER_NAME] = provider
  if (model) attributes[sc.GEN_AI_REQUEST_MODEL] = model
  const adopt = parent === undefined ? /** @type {any} */ (state()).modelCallAdopter : null
  if (adopt) {
    // A framework's model run (a LangChain chat-model run) open around this SDK call: this span
    // takes the run's place and carries its attributes (see integrations/langchain.js).
    try {
      const extra = adopt()
      if (extra) Object.assign(attributes, extra)
    } catch (e) {
      report(`adopting a framework model run failed: ${e}`)
    }
  }
  const span = (startSpan ||= require('./api').startSpan)(model ? `${operation} ${model}` : operation, {
    kind: 'client',
    parent,
    attributes,
    instrumentation,
  })
  return new LlmCall(span)
}

/**
 * Starts a model call made through an SDK fivelens does not wrap (Gemini, Bedrock, a local
 * vLLM or Ollama server...): the same span, usage, cost and metrics as a wrapped one. The span
 * is not made active; end the call with `call.end()` (or use `withLlmCall`). Throws a
 * `TypeError` for a missing provider or an unknown option.
 * @param {LlmCallOptions} options
 * @returns {LlmCall}
 */
function startLlmCall(options) {
  if (!isObject(options)) throw new TypeError("fivelens: startLlmCall needs options, e.g. { provider: 'gcp.gemini', model: 'gemini-2.5-pro' }")
  const o = /** @type {Record<string, any>} */ (options)
  for (const name of Object.keys(o)) {
    if (!KNOWN_OPTIONS.includes(name)) {
      throw new TypeError(`fivelens: unknown model-call option ${JSON.stringify(name)} (known: ${KNOWN_OPTIONS.join(', ')}; use attributes for others)`)
    }
  }
  const { provider, model, operation = 'chat', serverAddress, serverPort, stream, parent, attributes } = o
  if (typeof provider !== 'string' || !provider) throw new TypeError("fivelens: provider: expected a non-empty string, e.g. 'gcp.gemini'")
  if (model !== undefined && model !== null && typeof model !== 'string') throw new TypeError(`fivelens: model: expected a string, got ${typeof model}`)
  if (typeof operation !== 'string' || !operation) throw new TypeError("fivelens: operation: expected a non-empty string, e.g. 'chat'")
  if (attributes !== undefined && attributes !== null && !isObject(attributes)) throw new TypeError('fivelens: attributes: expected an object')
  /** @type {Record<string, any>} */
  const attrs = { ...(attributes || {}) }
  for (const [name, [key, type, integer]] of Object.entries(REQUEST_PARAMS)) {
    const value = o[name]
    if (value === undefined || value === null) continue
    if (type === 'strings') {
      const ok = typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string'))
      if (!ok) throw new TypeError(`fivelens: ${name}: expected a string or an array of strings`)
      attrs[key] = asList(value)
    } else if (type === 'number') {
      if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
        throw new TypeError(`fivelens: ${name}: expected ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(value)}`)
      }
      attrs[key] = value
    } else {
      if (typeof value !== 'string') throw new TypeError(`fivelens: ${name}: expected a string, got ${typeof value}`)
      attrs[key] = value
    }
  }
  if (serverAddress) {
    attrs[sc.SERVER_ADDRESS] = String(serverAddress)
    if (serverPort) attrs[sc.SERVER_PORT] = Math.trunc(Number(serverPort))
  }
  if (stream) attrs[sc.GEN_AI_REQUEST_STREAM] = true
  // A loop or budget guard refuses the call before it is made (throws BudgetExceededError or
  // IterationLimitExceededError).
  require('./tools').checkGuards()
  return startCall(operation, provider, model, attrs, 'fivelens', parent)
}

/**
 * Runs `fn(call)` inside a model call (see `startLlmCall` for the options): the call's span is
 * the active span during `fn`, the call ends when `fn` returns or its promise settles, and an
 * exception or rejection marks it failed and is passed on unchanged.
 * @template T
 * @param {LlmCallOptions} options
 * @param {(call: LlmCall) => T} fn
 * @returns {T}
 */
function withLlmCall(options, fn) {
  if (typeof fn !== 'function') throw new TypeError('fivelens: withLlmCall needs a function to run')
  const call = startLlmCall(options)
  return store().runWithSpan(call.span, runCall, undefined, [call, fn])
}

/**
 * @param {LlmCall} call
 * @param {Function} fn
 */
function runCall(call, fn) {
  let result
  try {
    result = fn(call)
  } catch (e) {
    call.fail(e)
    call.end()
    throw e
  }
  if (result !== null && typeof result === 'object' && typeof (/** @type {any} */ (result).then) === 'function') {
    return /** @type {any} */ (result).then(
      (/** @type {any} */ value) => {
        call.end()
        return value
      },
      (/** @type {any} */ error) => {
        call.fail(error)
        call.end()
        throw error
      },
    )
  }
  call.end()
  return result
}

module.exports = { LlmCall, startLlmCall, withLlmCall, startCall, toJson, payloadJson, textPart, normalizeMessages, messagesText, report, REQUEST_PARAMS }
