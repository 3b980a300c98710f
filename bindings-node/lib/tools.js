'use strict'
// Tools as dependencies: `withTool` for plain functions, the circuit breaker at the tool boundary
// every integration uses, and the loop and budget guards. The breakers and the budgets live in the
// core (core/src/tools.rs, core/src/guards.rs), one implementation shared with Python: this
// module turns their answers into span attributes, span events and errors.
//
// A tool call at the boundary (`Boundary`):
//   1. `Boundary.admit(name, server)`: may the call go ahead? In `enforce` mode an open breaker
//      rejects it: the integration hands the model the degraded-mode tool error (`message`) the
//      way its framework returns tool errors, and the call is not made.
//   2. `attributes()` at the span's start, `start(span)`: the breaker's state changes as events.
//   3. `finish(span, outcome)`: the outcome goes back to the breaker; a failed call gets its error
//      category; state changes are events on the span.

const { state } = require('./state')
const sc = require('./semconv')

/** `error.type` of a call the breaker rejected. */
const CIRCUIT_OPEN = 'circuit_open'

/** A tool call rejected by its open circuit breaker (`toolBreaker: 'enforce'`): the tool was not called; the message is the degraded-mode tool error for the model. */
class ToolUnavailableError extends Error {
  /**
   * @param {string} message
   * @param {string} tool
   * @param {string | undefined} [server]
   */
  constructor(message, tool, server) {
    super(message)
    this.name = 'ToolUnavailableError'
    this.tool = tool
    this.server = server
  }
}

/** A model call refused by a loop or budget guard: the call was not made. */
class GuardExceededError extends Error {
  /**
   * @param {string} message
   * @param {{kind: string, scope: string, limit: number, used: number}} info
   */
  constructor(message, info) {
    super(message)
    this.name = 'GuardExceededError'
    /** `iterations`, `tokens` or `cost` */
    this.kind = info.kind
    /** `trace` or `session` */
    this.scope = info.scope
    /** the limit (iterations, tokens or US dollars) */
    this.limit = info.limit
    /** what the trace or session had used */
    this.used = info.used
  }
}

/** A token or cost budget (per trace or per session) was reached. */
class BudgetExceededError extends GuardExceededError {
  /** @param {string} message @param {any} info */
  constructor(message, info) {
    super(message, info)
    this.name = 'BudgetExceededError'
  }
}

/** `maxAgentIterations` was reached. */
class IterationLimitExceededError extends GuardExceededError {
  /** @param {string} message @param {any} info */
  constructor(message, info) {
    super(message, info)
    this.name = 'IterationLimitExceededError'
  }
}

/** @param {string} what @param {any} e */
function report(what, e) {
  try {
    const native = state().native
    if (native) native.reportInternalError('node', `${what}: ${e}`)
  } catch {}
}

/**
 * @param {any} span
 * @param {any} transitions `[attributes, epoch ms]` pairs
 */
function addEvents(span, transitions) {
  if (!span || !Array.isArray(transitions)) return
  for (const [attrs, when] of transitions) span.addEvent(sc.FIVELENS_EVENT_BREAKER, attrs, when)
}

/**
 * An HTTP status code an error carries (fetch wrappers, the provider SDKs, axios).
 * @param {any} error
 * @returns {number | undefined}
 */
function statusOf(error) {
  for (const holder of [error, error && error.response]) {
    if (!holder || typeof holder !== 'object') continue
    for (const key of ['status', 'statusCode']) {
      const code = holder[key]
      if (Number.isInteger(code) && code >= 100 && code < 600) return code
    }
  }
  return undefined
}

/** @param {any} error */
function errorTypeOf(error) {
  if (error && typeof error === 'object') {
    if (typeof error.code === 'string' && /^E[A-Z]+$/.test(error.code)) return error.code
    return (error.constructor && error.constructor.name) || error.name || 'Error'
  }
  return typeof error
}

/** One tool call crossing the boundary: the breaker's answer, and what goes on the span. */
class Boundary {
  /**
   * @param {string} name
   * @param {string | undefined} server
   * @param {string} kind
   * @param {any} admission
   */
  constructor(name, server, kind, admission) {
    this.name = name
    this.server = server
    this.kind = kind
    this.admission = admission
    this.ended = false
    /** Taken by the span that represents the call (see integrations/langchain.js). */
    this.taken = false
  }

  /**
   * Asks the breakers whether a call of `name` (of MCP server `server`) may go ahead.
   * @param {string} name
   * @param {string} [server]
   * @param {string} [kind] `function`, `mcp` or `http`
   */
  static admit(name, server, kind) {
    let admission = null
    try {
      const native = state().native
      if (native && state().recording) admission = JSON.parse(native.toolAdmit(String(name), server ?? null))
    } catch (e) {
      report('asking the tool breaker', e)
    }
    return new Boundary(String(name), server, kind || (server ? 'mcp' : 'function'), admission)
  }

  /** Whether the call may be made (false only in `enforce` mode with the breaker open). */
  get allowed() {
    return !this.admission || !!this.admission.allowed
  }

  get rejected() {
    return !this.allowed
  }

  /** The degraded-mode tool error the model receives instead of the result. */
  get message() {
    return (this.admission && this.admission.message) || `tool ${this.name} unavailable, degraded mode`
  }

  error() {
    return new ToolUnavailableError(this.message, this.name, this.server)
  }

  /** The span attributes known when the call starts. */
  attributes() {
    /** @type {Record<string, any>} */
    const attrs = { [sc.FIVELENS_TOOL_KIND]: this.kind }
    const a = this.admission
    if (!a || a.mode === 'off') return attrs
    attrs[sc.FIVELENS_BREAKER_STATE] = a.state
    if (a.probe) attrs[sc.FIVELENS_BREAKER_PROBE] = true
    if (a.wouldReject) attrs[sc.FIVELENS_BREAKER_WOULD_REJECT] = true
    if (!a.allowed) attrs[sc.FIVELENS_BREAKER_REJECTED] = true
    return attrs
  }

  /** The call's span started: the admission's state changes become its events. @param {any} span */
  start(span) {
    try {
      if (this.admission) addEvents(span, this.admission.transitions)
    } catch (e) {
      report('recording a breaker change', e)
    }
  }

  /**
   * How the call ended: feeds the breaker, marks a rejected call, sets the category of a failed
   * one, and puts the state changes on `span`. Returns the category (undefined when it succeeded).
   * @param {any} span
   * @param {{error?: any, errorType?: string, message?: string, statusCode?: number, payload?: boolean, failed?: boolean}} [outcome]
   * @returns {string | undefined}
   */
  finish(span, outcome = {}) {
    if (this.ended) return undefined
    this.ended = true
    try {
      if (this.rejected) {
        if (span) {
          span.setAttribute(sc.ERROR_TYPE, CIRCUIT_OPEN)
          span.setStatus('error', this.message.slice(0, 1024))
        }
        return undefined
      }
      let { error, errorType, message, statusCode, payload = false, failed = false } = outcome
      /** @type {string | undefined} */
      let category
      const native = state().native
      if (error !== undefined || payload || errorType !== undefined || failed) {
        if (error !== undefined) {
          errorType = errorType ?? errorTypeOf(error)
          message = message ?? String((error && error.message) ?? error)
          statusCode = statusCode ?? statusOf(error)
        }
        category = native ? native.toolCategory(errorType ?? null, message ?? null, statusCode ?? null, !!payload) : 'other'
        if (span) span.setAttribute(sc.FIVELENS_TOOL_ERROR_CATEGORY, category)
      }
      if (this.admission && native) {
        addEvents(span, JSON.parse(native.toolRecord(this.name, this.server ?? null, this.admission.ticket, category !== undefined)))
      }
      return category
    } catch (e) {
      report('recording a tool outcome', e)
      return undefined
    }
  }
}

// ---- the guards ------------------------------------------------------------------------------------

/**
 * Before a model call: throws `BudgetExceededError` or `IterationLimitExceededError` when a guard's
 * limit is reached in the current trace or session, after marking the current span (the
 * `fivelens.guard.exceeded` event, and the keep flag so the tail sampler keeps the trace). One
 * cheap native call when no guard is set.
 */
function checkGuards() {
  const st = state()
  const native = st.native
  if (!native || !st.recording || !native.guardsActive()) return
  const api = require('./api')
  const span = api.currentSpan()
  const { parent, scope } = /** @type {any} */ (st).resolveParent(undefined)
  const session = scope && scope.attributes ? scope.attributes[sc.SESSION_ID] : undefined
  const hit = native.guardCheck(parent ? parent.traceId : null, typeof session === 'string' ? session : null)
  if (!hit) return
  const info = JSON.parse(hit)
  if (span && typeof span.addEvent === 'function') {
    try {
      span.addEvent(sc.FIVELENS_EVENT_GUARD, info.attributes)
      span.setAttribute(sc.FIVELENS_SAMPLING_KEEP, `guard:${info.kind}`)
    } catch (e) {
      report('marking a guard refusal', e)
    }
  }
  const ErrorClass = info.kind === 'iterations' ? IterationLimitExceededError : BudgetExceededError
  throw new ErrorClass(info.message, info)
}

/**
 * An agent iteration `n` started (its span is `span`): counted for `maxAgentIterations`.
 * @param {any} span
 * @param {number} n
 */
function noteIteration(span, n) {
  const st = state()
  if (!span || !(n > 0) || !st.native || !st.recording) return
  try {
    if (st.native.guardsActive()) st.native.guardIteration(span.traceId, n)
  } catch (e) {
    report('counting an iteration', e)
  }
}

// ---- retries of plain tools ------------------------------------------------------------------------

const MAX_ATTEMPTS = 10000
/** `trace id + tool name` -> [attempt, last error type or null] */
const attempts = new Map()

/** @param {string} key */
function retryBegin(key) {
  const [attempt, last] = attempts.get(key) || [0, null]
  attempts.delete(key)
  if (last !== null) {
    attempts.set(key, [attempt + 1, last])
    return [attempt + 1, last]
  }
  attempts.set(key, [1, null])
  while (attempts.size > MAX_ATTEMPTS) attempts.delete(attempts.keys().next().value)
  return null
}

/** @param {string} key @param {string | null} error */
function retryFinish(key, error) {
  const [attempt] = attempts.get(key) || [1, null]
  attempts.set(key, [attempt, error])
}

// ---- withTool --------------------------------------------------------------------------------------

/**
 * Options of `withTool`.
 * @typedef {object} ToolOptions
 * @property {'function' | 'mcp' | 'http'} [kind] what the tool is: a local function (default), a tool of an MCP server, an HTTP API
 * @property {string} [server] the MCP server's name (`kind: 'mcp'`) or the API's host (`kind: 'http'`)
 * @property {string} [description]
 * @property {any} [arguments] the call's arguments (content: kept only when capture is on)
 */

/** What `withTool` hands its function: the call's span and what to record on it. */
class ToolCall {
  /** @param {any} span @param {boolean} capture */
  constructor(span, capture) {
    /** The call's span (null inside an outer boundary of the same tool). */
    this.span = span
    this._capture = capture
    /** @type {string | null} */
    this._payloadError = null
    /** @type {number | undefined} */
    this._statusCode = undefined
    this._resultSet = false
  }
  /** The call's arguments (content). @param {any} value */
  setArguments(value) {
    if (this.span && this._capture && value !== undefined) this.span.setAttribute(sc.GEN_AI_TOOL_CALL_ARGUMENTS, typeof value === 'string' ? value : json(value))
  }
  /** The call's result (content). @param {any} value */
  setResult(value) {
    this._resultSet = true
    if (this.span && this._capture && value !== undefined) this.span.setAttribute(sc.GEN_AI_TOOL_CALL_RESULT, typeof value === 'string' ? value : json(value))
  }
  /** The call completed but its result reports an error (category `tool_error`). @param {string} [message] */
  setErrorResult(message) {
    this._payloadError = message || 'tool_error'
  }
  /** The HTTP status code of the API the tool called (for the error category). @param {number} code */
  setStatusCode(code) {
    this._statusCode = Number(code)
    if (this.span) this.span.setAttribute(sc.HTTP_RESPONSE_STATUS_CODE, Number(code))
  }
}

/** @param {any} value */
function json(value) {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/**
 * A tool call as a dependency: runs `fn` in an `execute_tool {name}` span (arguments and result
 * under the content policy, `fivelens.tool.kind`), with the tool metrics and the circuit breaker:
 * `withTool(name, fn)` or `withTool(name, options, fn)`. `fn` receives a `ToolCall`
 * (`setArguments`, `setResult`, `setErrorResult`, `setStatusCode`); what it returns (or resolves
 * to) is the call's result. With `toolBreaker: 'enforce'` a call whose breaker is open is not
 * made: `withTool` throws (or, for an async `fn`, rejects with) a `ToolUnavailableError` whose
 * message is the degraded-mode tool error to hand the model. Errors of `fn` pass unchanged.
 * @template T
 * @param {string} name
 * @param {ToolOptions | ((call: ToolCall) => T)} options
 * @param {(call: ToolCall) => T} [fn]
 * @returns {T}
 */
function withTool(name, options, fn) {
  if (typeof options === 'function') {
    fn = /** @type {any} */ (options)
    options = {}
  }
  if (typeof name !== 'string' || !name) throw new TypeError('fivelens: withTool name must be a non-empty string')
  if (typeof fn !== 'function') throw new TypeError('fivelens: withTool needs a function to run')
  const opts = /** @type {ToolOptions} */ (options || {})
  const kind = opts.kind || 'function'
  if (!['function', 'mcp', 'http'].includes(kind)) throw new TypeError(`fivelens: withTool kind must be function, mcp or http, got ${JSON.stringify(kind)}`)
  const api = require('./api')
  const st = state()
  const capture = !!(st.native && st.recording && st.native.captureContent())
  // Inside a framework's (or an outer withTool's) boundary for the same tool: its span and its
  // breaker are the call's.
  const outer = api.currentSpan()
  const attrsOf = (/** @type {any} */ s) => (s && s._attributes) || {}
  if (outer && attrsOf(outer)[sc.GEN_AI_OPERATION_NAME] === 'execute_tool' && attrsOf(outer)[sc.GEN_AI_TOOL_NAME] === name) {
    return fn(new ToolCall(null, capture))
  }
  const boundary = Boundary.admit(name, opts.server, kind)
  /** @type {Record<string, any>} */
  const attrs = {
    [sc.GEN_AI_OPERATION_NAME]: 'execute_tool',
    [sc.GEN_AI_TOOL_NAME]: name,
    [sc.GEN_AI_TOOL_TYPE]: kind === 'function' ? 'function' : 'extension',
    ...boundary.attributes(),
  }
  if (opts.server) attrs[kind === 'mcp' ? sc.MCP_SERVER_NAME : sc.SERVER_ADDRESS] = opts.server
  if (opts.description) attrs[sc.GEN_AI_TOOL_DESCRIPTION] = opts.description
  if (capture && opts.arguments !== undefined) attrs[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = typeof opts.arguments === 'string' ? opts.arguments : json(opts.arguments)
  const span = api.startSpan(`execute_tool ${name}`, { attributes: attrs })
  const key = `${span.traceId}|${name}`
  const retry = boundary.allowed ? retryBegin(key) : null
  if (retry) {
    span.setAttributes({ [sc.FIVELENS_RETRY_ATTEMPT]: retry[0], [sc.FIVELENS_RETRY_REASON]: retry[1], [sc.FIVELENS_RETRY_SOURCE]: 'caller' })
  }
  boundary.start(span)
  if (boundary.rejected) {
    boundary.finish(span)
    span.end()
    const error = boundary.error()
    if (fn.constructor && fn.constructor.name === 'AsyncFunction') return /** @type {any} */ (Promise.reject(error))
    throw error
  }
  const call = new ToolCall(span, capture)
  const done = (/** @type {any} */ error, /** @type {any} */ value) => {
    /** @type {string | null} */
    let failed = null
    if (error !== undefined) {
      // A system error's code (ECONNREFUSED, ETIMEDOUT) says more than its class.
      failed = errorTypeOf(error)
      span.setAttribute(sc.ERROR_TYPE, failed)
      span.recordException(error)
      boundary.finish(span, { error, statusCode: call._statusCode })
    } else if (call._payloadError !== null) {
      failed = sc.TOOL_ERROR
      span.setAttribute(sc.ERROR_TYPE, sc.TOOL_ERROR)
      span.setStatus('error', call._payloadError.slice(0, 1024))
      boundary.finish(span, { payload: true })
    } else if (call._statusCode !== undefined && call._statusCode >= 400) {
      failed = String(call._statusCode)
      span.setAttribute(sc.ERROR_TYPE, failed)
      span.setStatus('error', `HTTP ${call._statusCode}`)
      boundary.finish(span, { errorType: failed, statusCode: call._statusCode })
    } else {
      if (value !== undefined && !call._resultSet) call.setResult(value)
      boundary.finish(span)
    }
    retryFinish(key, failed)
    span.end()
  }
  const { store } = require('./context')
  return store().runWithSpan(span, () => {
    let result
    try {
      result = fn(call)
    } catch (e) {
      done(e, undefined)
      throw e
    }
    if (result !== null && typeof result === 'object' && typeof (/** @type {any} */ (result).then) === 'function') {
      return /** @type {any} */ (result).then(
        (/** @type {any} */ value) => {
          done(undefined, value)
          return value
        },
        (/** @type {any} */ error) => {
          done(error ?? new Error('rejected'), undefined)
          throw error
        },
      )
    }
    done(undefined, result)
    return result
  }, undefined, [])
}

module.exports = {
  Boundary,
  ToolCall,
  ToolUnavailableError,
  GuardExceededError,
  BudgetExceededError,
  IterationLimitExceededError,
  CIRCUIT_OPEN,
  checkGuards,
  noteIteration,
  withTool,
}
