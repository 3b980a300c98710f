'use strict'
// The logs lens in Node: records tied to the active span (and its session and hashed user),
// buffered in JavaScript and handed to the addon in batches, like spans. Redaction, size limits
// and the per-trace budget happen in the core, on its processing thread. Nothing here throws
// into the app; a record fivelens causes while handing one over is not captured again.

const { state } = require('./state')
const { store } = require('./context')
const sc = require('./semconv')

/** Records handed over at once when this many are waiting (else on a short timer). */
const BATCH = 256
const DELAY_MS = 100

/** OpenTelemetry severity numbers of level names (console methods, pino, winston). */
const SEVERITY = /** @type {Record<string, number>} */ ({
  trace: 1,
  silly: 1,
  verbose: 5,
  debug: 5,
  log: 9,
  info: 9,
  http: 9,
  notice: 9,
  warn: 13,
  warning: 13,
  error: 17,
  crit: 21,
  critical: 21,
  alert: 21,
  emerg: 21,
  fatal: 21,
  off: 25,
})

/** @param {string | undefined | null} name */
function severityOf(name) {
  return SEVERITY[String(name || '').toLowerCase()] ?? 9
}

/** The configured threshold (`logsLevel`), as a severity number. */
function threshold() {
  const c = state().config
  return severityOf(c && c.logs_level ? c.logs_level : 'info')
}

/**
 * The correlation of a record written now: the active span's ids and the scope's session and
 * hashed user.
 * @returns {{traceId: string, spanId: string, sampled: boolean, session: string, user: string}}
 */
function correlation() {
  const s = store()
  let traceId = ''
  let spanId = ''
  let sampled = true
  const active = s.activeSpan()
  // A framework run executing now (LangChain.js) stands in for the active span, as for a new
  // span's parent (see api.js defaultParent).
  const resolve = /** @type {any} */ (state()).runResolver
  const span = resolve ? resolve(active) : active
  if (span && typeof span.spanContext === 'function') {
    const ctx = span.spanContext()
    if (ctx && ctx.traceId && ctx.traceId !== '00000000000000000000000000000000') {
      traceId = ctx.traceId
      spanId = ctx.spanId
      sampled = (ctx.traceFlags & 1) === 1
    }
  }
  const scope = s.activeScope() || (span && span._scope) || null
  const attrs = scope ? scope.attributes || {} : {}
  const session = typeof attrs[sc.SESSION_ID] === 'string' ? attrs[sc.SESSION_ID] : ''
  const user = typeof attrs[sc.USER_HASH] === 'string' ? attrs[sc.USER_HASH] : ''
  return { traceId, spanId, sampled, session, user }
}

/**
 * The correlation fields of the active span: `trace_id` and `span_id` (hex), `session_id` and
 * `user_hash` (empty strings where there is none). Add them to log lines the app formats itself,
 * e.g. as a pino `mixin`.
 * @returns {{trace_id: string, span_id: string, session_id: string, user_hash: string}}
 */
function logContext() {
  try {
    const c = correlation()
    return { trace_id: c.traceId, span_id: c.spanId, session_id: c.session, user_hash: c.user }
  } catch {
    return { trace_id: '', span_id: '', session_id: '', user_hash: '' }
  }
}

/**
 * An attribute value the core takes: strings, finite numbers, booleans and arrays of them as
 * they are; anything else as JSON (or its string).
 * @param {any} v
 */
function plain(v) {
  if (v === null || v === undefined) return undefined
  const t = typeof v
  if (t === 'string' || t === 'boolean') return v
  if (t === 'number') return Number.isFinite(v) ? v : String(v)
  if (t === 'bigint') return v.toString()
  if (v instanceof Error) return `${v.name}: ${v.message}`
  if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x)))) return v
  try {
    return JSON.stringify(v)
  } catch {
    return String(v)
  }
}

/** Whether a record is being handed over on this thread (records it causes are not captured). */
function inProgress() {
  return !!(/** @type {any} */ (state()).logsBusy)
}

/**
 * Queues one record. Never throws.
 * @param {number} severity
 * @param {string} severityText
 * @param {string} body
 * @param {Record<string, any>} attributes
 * @param {{scope?: string, eventName?: string, span?: {traceId: string, spanId: string, sampled?: boolean} | null, time?: number}} [options]
 */
function emit(severity, severityText, body, attributes, options = {}) {
  const st = /** @type {any} */ (state())
  if (st.logsBusy || !st.native || !st.recording) return
  st.logsBusy = true
  try {
    /** @type {Record<string, any>} */
    const attrs = {}
    for (const k of Object.keys(attributes || {})) {
      const v = plain(attributes[k])
      if (v !== undefined) attrs[k] = v
    }
    let traceId = ''
    let spanId = ''
    let sampled = true
    if (options.span) {
      traceId = options.span.traceId
      spanId = options.span.spanId
      sampled = options.span.sampled !== false
    } else {
      const c = correlation()
      traceId = c.traceId
      spanId = c.spanId
      sampled = c.sampled
      if (c.session && attrs[sc.SESSION_ID] === undefined) attrs[sc.SESSION_ID] = c.session
      if (c.user && attrs[sc.USER_HASH] === undefined) attrs[sc.USER_HASH] = c.user
    }
    const time = options.time ?? performance.timeOrigin + performance.now()
    ;(st.logBuffer ||= []).push([time, severity, severityText, String(body), attrs, options.scope || '', options.eventName || '', traceId, spanId, sampled])
    if (st.logBuffer.length >= BATCH) handOverLogs()
    else if (!st.logTimer) {
      st.logTimer = setTimeout(handOverLogs, DELAY_MS)
      if (st.logTimer && typeof st.logTimer.unref === 'function') st.logTimer.unref()
    }
  } catch (e) {
    try {
      st.native.reportInternalError('logs', `a log record could not be queued: ${e}`)
    } catch {}
  } finally {
    st.logsBusy = false
  }
}

/** Hands the buffered records to the addon (one native call). */
function handOverLogs() {
  const st = /** @type {any} */ (state())
  if (st.logTimer) {
    clearTimeout(st.logTimer)
    st.logTimer = null
  }
  if (!st.logBuffer || st.logBuffer.length === 0 || !st.native) return
  const records = st.logBuffer
  st.logBuffer = []
  try {
    st.native.submitLogs(JSON.stringify(records))
  } catch (e) {
    try {
      st.native.reportInternalError('node', `handing ${records.length} log records to the addon failed: ${e}`)
    } catch {}
  }
}

/**
 * Records an evaluation of a GenAI operation (a judge model's verdict, a user rating, a check)
 * as a `gen_ai.evaluation.result` log event tied to `span` (the active span when not given).
 * `explanation` is content: it is redacted like the rest.
 * @param {string} name
 * @param {{scoreValue?: number, scoreLabel?: string, explanation?: string, responseId?: string, errorType?: string, span?: any, attributes?: Record<string, any>}} [details]
 */
function recordEvaluation(name, details = {}) {
  /** @type {Record<string, any>} */
  const attrs = { [sc.GEN_AI_EVALUATION_NAME]: String(name) }
  if (details.scoreValue !== undefined) attrs[sc.GEN_AI_EVALUATION_SCORE_VALUE] = Number(details.scoreValue)
  if (details.scoreLabel !== undefined) attrs[sc.GEN_AI_EVALUATION_SCORE_LABEL] = String(details.scoreLabel)
  if (details.explanation !== undefined) attrs[sc.GEN_AI_EVALUATION_EXPLANATION] = String(details.explanation)
  if (details.responseId !== undefined) attrs[sc.GEN_AI_RESPONSE_ID] = String(details.responseId)
  if (details.errorType !== undefined) attrs[sc.ERROR_TYPE] = String(details.errorType)
  for (const [k, v] of Object.entries(details.attributes || {})) if (!(k in attrs)) attrs[k] = v
  let span = null
  if (details.span && typeof details.span.spanContext === 'function') {
    const ctx = details.span.spanContext()
    span = { traceId: ctx.traceId, spanId: ctx.spanId, sampled: (ctx.traceFlags & 1) === 1 }
  }
  const failed = details.errorType !== undefined
  emit(failed ? 13 : 9, failed ? 'WARN' : 'INFO', '', attrs, { scope: 'fivelens', eventName: sc.EVENT_EVALUATION_RESULT, span })
}

module.exports = { emit, handOverLogs, logContext, recordEvaluation, severityOf, threshold, inProgress, plain }
