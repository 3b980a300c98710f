'use strict'
// Spans are plain JS objects while they run and a compact array once they end; ended spans
// are buffered here and handed to the native addon in batches (a native call per span costs
// more than a whole span: about 6 us for an object of 8 strings, against about 1.4 us a span
// when buffered). The buffer is handed over when it reaches BATCH spans, on a short unref'd
// timer, on flush() and at exit, so memory stays bounded and nothing waits on the network.

const { state } = require('./state')
const ids = require('./ids')
const { toAttribute, bound, wellFormed, label } = require('./values')
const sc = require('./semconv')

/** Spans per hand-over. */
/** Operations of model and tool calls (the core's PRIORITY_OPERATIONS): built even when dropped. */
const PRIORITY = new Set(['chat', 'text_completion', 'generate_content', 'embeddings', 'execute_tool'])

const BATCH = 512
/** Hand-over timer, ms. */
const TIMER_MS = 200

const KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 }

/**
 * A span kind from a name (`'client'`) or an OpenTelemetry `SpanKind` number (0 is internal).
 * @param {any} kind
 * @returns {number}
 */
function kindNumber(kind) {
  if (kind === undefined || kind === null) return 1
  if (typeof kind === 'number') return kind >= 0 && kind <= 4 ? kind + 1 : 1
  const k = /** @type {keyof typeof KIND} */ (String(kind).toLowerCase())
  const n = KIND[k]
  if (!n) throw new TypeError(`fivelens: kind must be internal, server, client, producer or consumer, got ${JSON.stringify(kind)}`)
  return n
}

/**
 * Trace-scoped attributes (`withContext`), and attributes for model-call spans only
 * (`withStage`, `withPrompt`); nested scopes are merged when created.
 */
class Scope {
  /**
   * @param {Record<string, any>} attributes already converted
   * @param {Scope | null} parent
   * @param {Record<string, any>} [llm] model-call attributes, already converted
   */
  constructor(attributes, parent, llm) {
    this.id = state().nextScopeId++
    /** @type {Record<string, any>} stamped on every span */
    this.attributes = parent ? { ...parent.attributes, ...attributes } : attributes
    /** @type {Record<string, any>} stamped on model-call spans only; never sent downstream */
    this.llm = parent ? (llm ? { ...parent.llm, ...llm } : parent.llm) : llm || {}
  }
}

/**
 * A span. It also implements the OpenTelemetry `Span` interface, so that when the OpenTelemetry
 * API is present it is the active OTel span itself (no second object).
 */
class Span {
  /**
   * @param {string} name
   * @param {number} kind OTLP kind number
   * @param {{traceId: string, spanId: string, remote: boolean, sampled: boolean, traceState?: string} | null} parent
   * @param {Scope | null} scope
   * @param {boolean} recording
   * @param {string | undefined} instrumentation
   */
  constructor(name, kind, parent, scope, recording, instrumentation) {
    this.name = typeof name === 'string' ? wellFormed(name) : label(name)
    this._kind = kind
    if (parent) {
      this._traceId = parent.traceId
      this._parentId = parent.spanId
      this._parentRemote = parent.remote
      this._sampled = parent.sampled
      this._traceState = parent.traceState
    } else {
      this._traceId = ids.traceId()
      this._parentId = ''
      this._parentRemote = false
      this._sampled = true
      this._traceState = undefined
    }
    this._spanId = ids.spanId()
    this._scope = scope
    if (recording && !this._parentId && state().headSampling) {
      // Head sampling: the trace is decided when its local root starts (a remote parent's
      // decision is followed).
      const st = state()
      const attrs = scope ? scope.attributes : {}
      try {
        const sampled = st.native && st.native.headSampled(this._traceId, attrs[sc.USER_HASH] ?? null, attrs[sc.SESSION_ID] ?? null)
        if (sampled === true || sampled === false) this._sampled = sampled
      } catch {}
    }
    /** @type {Record<string, any>} */
    this._attributes = {}
    /** @type {any[] | null} */
    this._events = null
    /** @type {any[] | null} */
    this._links = null
    this._status = 0
    /** @type {string | null} */
    this._statusMessage = null
    /** @type {string[] | null} */
    this._truncated = null
    this._instrumentation = instrumentation
    this._storeOnly = false
    this._start = ids.now()
    this._recording = recording
    // A span of a trace dropped at its start (head sampling): nothing is recorded on it, unless
    // it turns out to be a model or tool call (the metrics need those).
    this._dropped = recording && !this._sampled && state().headSampling
  }

  /** Trace id, 32 hex digits. */
  get traceId() {
    return this._traceId
  }

  /** Span id, 16 hex digits. */
  get spanId() {
    return this._spanId
  }

  /** `traceparent` for this span. */
  get traceparent() {
    return `00-${this._traceId}-${this._spanId}-${this._sampled ? '01' : '00'}`
  }

  /** The trace-scoped attributes in force. */
  get contextAttributes() {
    return this._scope ? { ...this._scope.attributes } : {}
  }

  /** OpenTelemetry: the span context. */
  spanContext() {
    return {
      traceId: this._traceId,
      spanId: this._spanId,
      traceFlags: this._sampled ? 1 : 0,
      isRemote: false,
    }
  }

  /** Whether attributes set now are recorded. */
  isRecording() {
    return this._recording
  }

  /**
   * Sets one attribute (any value: unknown types become their type name).
   * @param {string} key
   * @param {any} value
   * @returns {this}
   */
  setAttribute(key, value) {
    if (!this._recording || typeof key !== 'string') return this
    if (this._dropped) {
      if (key !== sc.GEN_AI_OPERATION_NAME || !PRIORITY.has(value)) return this
      this._dropped = false
    }
    const v = toAttribute(value)
    if (v === undefined) return this
    const [b, cut] = bound(v, state().maxAttributeBytes)
    if (cut) (this._truncated ||= []).push(key)
    this._attributes[key] = b
    return this
  }

  /**
   * @param {Record<string, any>} attributes
   * @returns {this}
   */
  setAttributes(attributes) {
    if (!this._recording || !attributes || typeof attributes !== 'object') return this
    if (this._dropped) {
      if (!PRIORITY.has(attributes[sc.GEN_AI_OPERATION_NAME])) return this
      this._dropped = false
    }
    for (const k of Object.keys(attributes)) this.setAttribute(k, attributes[k])
    return this
  }

  /**
   * Adds an event. OpenTelemetry's form (name, attributes?, time?) and (name, time) both work.
   * @param {string} name
   * @param {any} [attributesOrTime]
   * @param {any} [time]
   * @returns {this}
   */
  addEvent(name, attributesOrTime, time) {
    if (!this._recording || this._dropped) return this
    let attributes = attributesOrTime
    if (attributesOrTime instanceof Date || typeof attributesOrTime === 'number' || Array.isArray(attributesOrTime)) {
      time = attributesOrTime
      attributes = undefined
    }
    ;(this._events ||= []).push([String(name), ids.toEpochMs(time) ?? ids.now(), convert(attributes)])
    return this
  }

  /**
   * @param {{context: {traceId: string, spanId: string}, attributes?: Record<string, any>}} link
   * @returns {this}
   */
  addLink(link) {
    if (!this._recording || !link || !link.context) return this
    ;(this._links ||= []).push([link.context.traceId, link.context.spanId, convert(link.attributes)])
    return this
  }

  /**
   * @param {Array<{context: {traceId: string, spanId: string}, attributes?: Record<string, any>}>} links
   * @returns {this}
   */
  addLinks(links) {
    for (const l of links || []) this.addLink(l)
    return this
  }

  /**
   * Sets the status: `'ok'`, `'error'` (with a message) or `'unset'`, or OpenTelemetry's
   * `{code, message}` (0 unset, 1 ok, 2 error). OK is final.
   * @param {any} status
   * @param {string} [message]
   * @returns {this}
   */
  setStatus(status, message) {
    if (!this._recording) return this
    let code = 0
    if (status && typeof status === 'object') {
      code = Number(status.code) || 0
      message = status.message
    } else if (typeof status === 'number') {
      code = status
    } else {
      code = { unset: 0, ok: 1, error: 2 }[String(status).toLowerCase()] ?? 0
    }
    if (this._status === 1 || code === 0) return this
    this._status = code
    this._statusMessage = code === 2 ? String(message ?? '') : null
    return this
  }

  /**
   * Records an exception: an `exception` event, status ERROR and `error.type`.
   * @param {any} exception
   * @param {any} [time]
   */
  recordException(exception, time) {
    if (!this._recording) return
    const e = /** @type {any} */ (exception)
    const type = e && typeof e === 'object' ? (e.constructor && e.constructor.name) || e.name || 'Error' : typeof e
    const message = e && typeof e === 'object' ? String(e.message ?? '') : String(e)
    /** @type {Record<string, any>} */
    const attrs = { [sc.EXCEPTION_TYPE]: type, [sc.EXCEPTION_MESSAGE]: message.slice(0, 4096) }
    if (e && typeof e.stack === 'string') attrs[sc.EXCEPTION_STACKTRACE] = e.stack.slice(0, 16384)
    this.addEvent(sc.EXCEPTION_EVENT, attrs, time)
    if (this._attributes[sc.ERROR_TYPE] === undefined) this._attributes[sc.ERROR_TYPE] = type
    this._status = 2
    this._statusMessage = message.slice(0, 4096)
  }

  /** @param {string} name */
  updateName(name) {
    if (this._recording) this.name = String(name)
    return this
  }

  /**
   * Ends the span (now, or at `time`: Date, epoch ms or HrTime). Ending twice does nothing.
   * @param {any} [time]
   */
  end(time) {
    if (!this._recording) return
    this._recording = false
    const st = state()
    if (this._dropped || (!this._sampled && st.headSampling && !PRIORITY.has(this._attributes[sc.GEN_AI_OPERATION_NAME]))) {
      // A span of a trace dropped at its start: not handed over (model and tool calls are, for
      // the metrics).
      st.headDropped++
      return
    }
    st.ended++
    const entry = [
      this._traceId,
      this._spanId,
      this._parentId,
      this._parentRemote ? 1 : 0,
      this.name,
      this._kind,
      this._start,
      ids.toEpochMs(time) ?? ids.now(),
      this._status,
      this._statusMessage,
      this._attributes,
      this._events,
      this._links,
      this._scope,
      this._instrumentation ?? null,
      (this._storeOnly ? 1 : 0) | (this._sampled ? 2 : 0),
      this._traceState ?? null,
      this._truncated,
    ]
    st.buffer.push(entry)
    if (st.guards && MODEL_OPERATIONS.has(this._attributes[sc.GEN_AI_OPERATION_NAME])) observeSpend(entry)
    if (st.buffer.length >= BATCH) handOver()
    else if (st.timer === null) {
      st.timer = setTimeout(handOver, TIMER_MS)
      st.timer.unref()
    }
  }
}

/** @param {any} attributes */
function convert(attributes) {
  /** @type {Record<string, any>} */
  const out = {}
  if (!attributes || typeof attributes !== 'object') return out
  const max = state().maxAttributeBytes
  for (const k of Object.keys(attributes)) {
    const v = toAttribute(attributes[k])
    if (v !== undefined) out[k] = bound(v, max)[0]
  }
  return out
}

/** Operations of model calls: their spend counts for the budget guards as soon as they end. */
const MODEL_OPERATIONS = new Set(['chat', 'text_completion', 'generate_content', 'embeddings'])

/**
 * A model call just ended with loop or budget guards set: its tokens and cost count now, before
 * the next call starts (the span itself goes to the addon with the next batch).
 * @param {any[]} entry the span as buffered
 */
function observeSpend(entry) {
  const st = state()
  try {
    const copy = entry.slice()
    /** @type {Record<number, any>} */
    const scopes = {}
    /** @type {Record<number, any>} */
    const llm = {}
    const scope = copy[13]
    if (scope) {
      scopes[scope.id] = scope.attributes
      llm[scope.id] = scope.llm
      copy[13] = scope.id
    }
    st.native.guardObserve(JSON.stringify({ scopes, llm, spans: [copy] }))
  } catch (e) {
    try {
      st.native.reportInternalError('node', `counting a model call's spend failed: ${e}`)
    } catch {}
  }
}

/** Hands the buffered spans to the addon (one native call for the whole batch). */
function handOver() {
  const st = state()
  if (st.timer !== null) {
    clearTimeout(st.timer)
    st.timer = null
  }
  if (st.buffer.length === 0 || !st.native) return
  const spans = st.buffer
  st.buffer = []
  /** @type {Record<number, any>} */
  const scopes = {}
  /** @type {Record<number, any>} */
  const llm = {}
  for (const s of spans) {
    const scope = s[13]
    if (scope) {
      scopes[scope.id] = scope.attributes
      for (const _ in scope.llm) {
        llm[scope.id] = scope.llm
        break
      }
      s[13] = scope.id
    }
  }
  try {
    // "scopes" and "llm" before "spans": the decoder reads them first.
    /** @type {string} */
    let text
    try {
      text = JSON.stringify({ scopes, llm, spans })
    } catch {
      // A structure handed over as is (a LangChain run's payload) that JSON cannot encode
      // (a BigInt, a cycle): that span's structures are converted the careful way.
      text = JSON.stringify({ scopes, llm, spans: spans.map(encodable) })
    }
    st.native.submitBatch(text, spans.length)
  } catch (e) {
    // Never into the app: count it and move on (the batch is lost, and says so in status()).
    try {
      st.native.reportInternalError('node', `handing ${spans.length} spans to the addon failed: ${e}`)
    } catch {}
  }
}

/**
 * A buffered span that `JSON.stringify` can encode: its object-valued attributes (payload
 * structures) converted as attribute values are (BigInt as text, cycles and classes labelled).
 * @param {any[]} entry
 */
function encodable(entry) {
  try {
    JSON.stringify(entry)
    return entry
  } catch {
    const copy = entry.slice()
    /** @type {Record<string, any>} */
    const attrs = { ...copy[10] }
    for (const k of Object.keys(attrs)) {
      const v = attrs[k]
      if (v !== null && typeof v === 'object') attrs[k] = toAttribute(v) ?? null
    }
    copy[10] = attrs
    return copy
  }
}

module.exports = { Span, Scope, handOver, kindNumber, convert, KIND }
