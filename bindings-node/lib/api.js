'use strict'
// The public API: instrument(), withSpan(), withContext(), flush(), shutdown() and friends.

const { isMainThread } = require('node:worker_threads')
const { state } = require('./state')
const native = require('./native')
const { Span, Scope, handOver, kindNumber, convert } = require('./span')
const { store } = require('./context')
const otel = require('./otel')
const sc = require('./semconv')
const logs = require('./logs')
const { recordEvaluation, logContext } = logs

/**
 * Options of `instrument()`: the core's configuration schema in camelCase (a test checks that
 * the two match). Each falls back to its environment variable, then its default; see the
 * configuration table in the README.
 * @typedef {object} InstrumentOptions
 * @property {string} [serviceName] `service.name`; `OTEL_SERVICE_NAME`
 * @property {Record<string, string>} [resourceAttributes] over `OTEL_RESOURCE_ATTRIBUTES`
 * @property {boolean} [disabled] no-op mode; `OTEL_SDK_DISABLED`
 * @property {boolean} [captureContent] capture prompt/completion content (redacted); default true
 * @property {string} [otlpEndpoint] `OTEL_EXPORTER_OTLP_ENDPOINT`; default none (local store)
 * @property {string} [otlpTracesEndpoint] `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, used as is
 * @property {'http/protobuf' | 'http/json' | 'grpc'} [otlpProtocol] `OTEL_EXPORTER_OTLP_PROTOCOL`
 * @property {Record<string, string>} [otlpHeaders] `OTEL_EXPORTER_OTLP_HEADERS`
 * @property {number} [otlpTimeoutMs] `OTEL_EXPORTER_OTLP_TIMEOUT`; default 10000
 * @property {'none' | 'gzip'} [otlpCompression] `OTEL_EXPORTER_OTLP_COMPRESSION`
 * @property {'auto' | 'on' | 'off' | boolean} [store] local SQLite store; `FIVELENS_STORE`
 * @property {string} [storePath] `FIVELENS_STORE_PATH`; default `$FIVELENS_HOME/fivelens.db`
 * @property {number} [storeMaxAgeHours] retention by age; default 168
 * @property {number} [storeMaxBytes] retention by size; default 512 MiB
 * @property {number} [queueSize] span queue capacity; `OTEL_BSP_MAX_QUEUE_SIZE`
 * @property {number} [batchSize] spans per batch; `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`
 * @property {number} [scheduleDelayMs] processing timer; `OTEL_BSP_SCHEDULE_DELAY`
 * @property {number} [exportQueueBytes] bound on batches waiting per exporter
 * @property {number} [maxExportBatchBytes] largest request body before splitting
 * @property {number} [maxAttributeBytes] `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`
 * @property {number} [maxAttributes] `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`
 * @property {number} [maxEvents] `OTEL_SPAN_EVENT_COUNT_LIMIT`
 * @property {number} [maxLinks] `OTEL_SPAN_LINK_COUNT_LIMIT`
 * @property {number} [exitTimeoutMs] bound on the flush at exit; `FIVELENS_EXIT_TIMEOUT_MS`
 * @property {string} [userHashKey] HMAC key for user ids; `FIVELENS_USER_HASH_KEY`
 * @property {'off' | 'error' | 'warn' | 'info' | 'debug'} [logLevel] `FIVELENS_LOG_LEVEL`
 * @property {number} [maxContentBytes] largest content attribute, cut with JSON kept valid; default 65536
 * @property {boolean} [compat] add OpenInference and Langfuse attributes; `FIVELENS_COMPAT`
 * @property {string} [pricesFile] a JSON price table over the built-in one; `FIVELENS_PRICES_FILE`
 * @property {Record<string, any>[]} [prices] price entries over the file and the built-in table
 * @property {number} [contextAlertThreshold] share of a model's context window (above 0, at most 1) past which a conversation's call gets the `fivelens.context.threshold_crossed` event; `FIVELENS_CONTEXT_ALERT_THRESHOLD`; default 0.8
 * @property {string} [contextLimitsFile] a JSON table of context windows over the built-in one; `FIVELENS_CONTEXT_LIMITS_FILE`
 * @property {Record<string, any>[]} [contextLimits] context-window entries (`provider`, `model`, `context_window`, optional `max_output_tokens`) over the file and the built-in table
 * @property {string} [metricsExporter] `otlp`, `prometheus`, `none`; `OTEL_METRICS_EXPORTER`
 * @property {string} [otlpMetricsEndpoint] `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, used as is
 * @property {number} [metricExportIntervalMs] `OTEL_METRIC_EXPORT_INTERVAL`; default 60000
 * @property {string} [prometheusHost] `OTEL_EXPORTER_PROMETHEUS_HOST`; default 127.0.0.1
 * @property {number} [prometheusPort] `OTEL_EXPORTER_PROMETHEUS_PORT`; the endpoint is on when set
 * @property {boolean} [metricsIncludeEstimatedTokens] count estimated tokens in `gen_ai.client.token.usage`
 * @property {string[] | string} [sampling] `FIVELENS_SAMPLING`: sampling policies, e.g. `['errors', 'keep', 'latency:p99', 'canary', 'baseline:0.01']`; default keeps everything
 * @property {'tail' | 'head'} [samplingMode] `FIVELENS_SAMPLING_MODE`: decide when a trace's local root ends (default) or when it starts
 * @property {'user' | 'session' | 'trace'} [sampleKey] `FIVELENS_SAMPLE_KEY`: what the `users` policy and the canary share hash; default user
 * @property {string[]} [canaryUsers] `FIVELENS_CANARY_USERS`: user ids always kept at full fidelity
 * @property {number} [canaryPercent] `FIVELENS_CANARY_PERCENT`: share of users (0-100) always kept
 * @property {boolean} [snapshots] `FIVELENS_SNAPSHOTS`: context snapshots of kept model calls for replay and datasets (with content capture on); default true
 * @property {number} [snapshotRate] `FIVELENS_SNAPSHOT_RATE`: share (0-1) of the other kept traces whose calls get a snapshot (failed calls, keep flags and the canary cohort always do); default 0.01
 * @property {number} [snapshotMaxBytes] `FIVELENS_SNAPSHOT_MAX_BYTES`: largest snapshot, JSON bytes before compression; default 262144
 * @property {number} [tailTimeoutMs] `FIVELENS_TAIL_TIMEOUT_MS`: a trace whose root has not ended is decided after this; default 120000
 * @property {number} [tailMaxTraces] undecided traces held at most; default 20000
 * @property {number} [tailMaxSpans] spans of undecided traces held at most; default 200000
 * @property {number} [tailMaxBytes] bytes of undecided traces held at most; default 128 MiB
 * @property {boolean} [redact] `FIVELENS_REDACT`: redact PII in captured content before it leaves the process; default true
 * @property {string[]} [redactTypes] built-in PII types to detect (`EMAIL`, `PHONE`, `CREDIT_CARD`, `IBAN`, `US_SSN`, `IP_ADDRESS`, `SECRET`, `JWT`); default all
 * @property {Record<string, 'typed' | 'indexed' | 'hash' | 'remove'>} [redactActions] action per type (`*` for the rest); default `typed`
 * @property {{name: string, pattern: string}[]} [redactRules] custom detectors (Rust regex syntax; a `value` group limits what is replaced)
 * @property {string[]} [redactDeny] values always redacted: exact strings, or `/regex/`
 * @property {string[]} [redactAllow] values never redacted: exact strings, or `/regex/` matching the whole value
 * @property {boolean} [captureChainIo] `FIVELENS_CAPTURE_CHAIN_IO`: record framework chain and node inputs and outputs; default false
 * @property {boolean} [collapseChains] `FIVELENS_COLLAPSE_CHAINS`: leave out framework chain runs that are plumbing; default false
 * @property {string[]} [integrations] integrations to enable; all importable ones when unset
 * @property {boolean} [captureLogs] `FIVELENS_CAPTURE_LOGS`: attach to `console` (and pino / winston when present), correlated and exported as OTLP logs; default true
 * @property {'trace' | 'debug' | 'info' | 'warn' | 'warning' | 'error' | 'fatal' | 'critical' | 'off'} [logsLevel] `FIVELENS_LOGS_LEVEL`: the app's records at or above this level are exported; default info
 * @property {boolean} [logsInjectContext] `FIVELENS_LOGS_INJECT_CONTEXT`: add `trace_id`, `span_id`, `session_id`, `user_hash` to pino and winston output; default false
 * @property {string} [logsExporter] `otlp` or `none`; `OTEL_LOGS_EXPORTER`
 * @property {string} [otlpLogsEndpoint] `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`, used as is
 * @property {'http/protobuf' | 'http/json' | 'grpc'} [otlpLogsProtocol] `OTEL_EXPORTER_OTLP_LOGS_PROTOCOL`; default `otlpProtocol`
 * @property {Record<string, string>} [otlpLogsHeaders] `OTEL_EXPORTER_OTLP_LOGS_HEADERS`, over `otlpHeaders`
 * @property {number} [otlpLogsTimeoutMs] `OTEL_EXPORTER_OTLP_LOGS_TIMEOUT`; default `otlpTimeoutMs`
 * @property {'none' | 'gzip'} [otlpLogsCompression] `OTEL_EXPORTER_OTLP_LOGS_COMPRESSION`; default `otlpCompression`
 * @property {number} [logsQueueSize] log record queue capacity; `OTEL_BLRP_MAX_QUEUE_SIZE`; default 2048
 * @property {number} [logsMaxFieldBytes] a log body or attribute longer than this is cut and marked; default 16384
 * @property {number} [logsMaxRecordBytes] a log record larger than this is cut, longest fields first; default 65536
 * @property {number} [logsTraceBudgetBytes] bytes of log records one trace may produce, later ones dropped and counted (0: none); default 1 MiB
 * @property {number} [maxToolIoBytes] tool call arguments and results are cut to this, marked; default 16384
 * @property {boolean} [inferenceEvents] emit the `gen_ai.client.inference.operation.details` log event per model call; `FIVELENS_INFERENCE_EVENTS`; default false
 * @property {'events' | 'logs'} [agentJournal] where the reasoning journal goes: span events or log records; `FIVELENS_AGENT_JOURNAL`; default events
 * @property {number} [intentLowConfidenceThreshold] a top intent score below it is a low-confidence classification (counted in `fivelens.intent.low_confidence`); `FIVELENS_INTENT_LOW_CONFIDENCE_THRESHOLD`; default 0.5
 * @property {string | null} [driftGoldensFile] JSON file of golden outputs for drift checks (else the local store); `FIVELENS_DRIFT_GOLDENS_FILE`
 * @property {number} [evaluationWorkers] evaluations run at once by the asynchronous evaluation pool; `FIVELENS_EVALUATION_WORKERS`; default 2
 * @property {number} [evaluationQueueSize] evaluations waiting for the pool before new ones are dropped and counted; `FIVELENS_EVALUATION_QUEUE_SIZE`; default 64
 * @property {'observe' | 'enforce' | 'off'} [toolBreaker] `FIVELENS_TOOL_BREAKER`: the circuit breaker at the tool boundary: `observe` records what it would do, `enforce` rejects calls while it is open; default observe
 * @property {number} [toolBreakerErrorRate] `FIVELENS_TOOL_BREAKER_ERROR_RATE`: error rate (0 to 1) that opens a tool's breaker; default 0.1
 * @property {number} [toolBreakerMinCalls] `FIVELENS_TOOL_BREAKER_MIN_CALLS`: calls in the window before the rate counts; default 20
 * @property {number} [toolBreakerWindowMs] `FIVELENS_TOOL_BREAKER_WINDOW_MS`: the sliding window; default 60000
 * @property {number} [toolBreakerOpenMs] `FIVELENS_TOOL_BREAKER_OPEN_MS`: how long an open breaker rejects before probing; default 30000
 * @property {number} [toolBreakerHalfOpenCalls] `FIVELENS_TOOL_BREAKER_HALF_OPEN_CALLS`: successful probes that close a half-open breaker; default 1
 * @property {number} [maxAgentIterations] `FIVELENS_MAX_AGENT_ITERATIONS`: a model call in a later agent iteration is refused; default no limit
 * @property {number} [traceTokenBudget] `FIVELENS_TRACE_TOKEN_BUDGET`: tokens a trace's model calls may use; default none
 * @property {number} [traceCostBudgetUsd] `FIVELENS_TRACE_COST_BUDGET_USD`: US dollars a trace's model calls may cost; default none
 * @property {number} [sessionTokenBudget] `FIVELENS_SESSION_TOKEN_BUDGET`: tokens a session's model calls may use; default none
 * @property {number} [sessionCostBudgetUsd] `FIVELENS_SESSION_COST_BUDGET_USD`: US dollars a session's model calls may cost; default none
 * @property {boolean} [testing] keep finished spans in memory (for tests)
 */

/**
 * What `instrument()` did.
 * @typedef {object} InstrumentReport
 * @property {boolean} recording
 * @property {string[]} enabled
 * @property {Record<string, string>} skipped
 * @property {Record<string, string>} failed
 * @property {Record<string, any>} config the resolved configuration (snake_case, as the core has it)
 */

/**
 * Options for `withSpan` and `startSpan`.
 * @typedef {object} SpanOptions
 * @property {'internal' | 'server' | 'client' | 'producer' | 'consumer' | number} [kind]
 * @property {Span | RemoteContext | string | Record<string, string>} [parent] explicit parent (a span, `extract()`'s result, a traceparent or headers)
 * @property {Array<Span | RemoteContext | string>} [links]
 * @property {Record<string, any>} [attributes]
 * @property {number | Date} [startTime]
 */

/** A parent read from a carrier by `extract()`; pass it as `parent`. */
class RemoteContext {
  /**
   * @param {string} traceId
   * @param {string} spanId
   * @param {boolean} sampled
   * @param {string | undefined} traceState
   * @param {Record<string, any> | null} scope
   */
  constructor(traceId, spanId, sampled, traceState, scope) {
    this.traceId = traceId
    this.spanId = spanId
    this.sampled = sampled
    this.traceState = traceState
    this.scope = scope
  }
  /** Whether a valid `traceparent` was found. */
  isValid() {
    return this.traceId !== ''
  }
  spanContext() {
    return { traceId: this.traceId, spanId: this.spanId, traceFlags: this.sampled ? 1 : 0, isRemote: true }
  }
}

function ensureNative() {
  const st = state()
  if (!st.nativeLoaded) {
    st.nativeLoaded = true
    st.native = native.load()
  }
  return st.native
}

/** @param {string} s */
const snake = (s) => s.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())

/**
 * Configure fivelens and instrument what is importable. Idempotent: later calls return the
 * first report (call `shutdown()` first to reconfigure). A bad option throws an Error naming it.
 * @param {InstrumentOptions} [options]
 * @returns {InstrumentReport}
 */
function instrument(options = {}) {
  const st = state()
  if (st.report && st.recording) {
    if (options && Object.keys(options).length && JSON.stringify(options) !== JSON.stringify(st.report.options)) {
      process.emitWarning('fivelens.instrument() was already called; the new options are ignored (call shutdown() first)', {
        code: 'FIVELENS_ALREADY_INSTRUMENTED',
      })
    }
    return st.report.public
  }
  const addon = ensureNative()
  if (!addon) {
    /** @type {InstrumentReport} */
    const report = { recording: false, enabled: [], skipped: { native: 'the native addon could not be loaded' }, failed: {}, config: {} }
    return report
  }
  /** @type {Record<string, any>} */
  const snakeOptions = {}
  for (const [k, v] of Object.entries(options || {})) snakeOptions[snake(k)] = v
  const runtime = [
    ['process.runtime.name', 'nodejs'],
    ['process.runtime.version', process.versions.node],
  ]
  const config = JSON.parse(addon.configure(JSON.stringify(snakeOptions), JSON.stringify(runtime)))
  // The evaluation pool is sized by this configuration.
  require('./behaviour').resetPool()
  st.config = config
  st.maxAttributeBytes = config.max_attribute_bytes
  st.headSampling = config.sampling_mode === 'head'
  st.guards = !!addon.guardsActive()
  st.recording = addon.isRecording()
  /** @type {InstrumentReport} */
  const report = { recording: st.recording, enabled: [], skipped: {}, failed: {}, config }
  if (st.recording) {
    installExitHooks()
    enableIntegrations(report, config.integrations)
  }
  addon.setInstrumentReport(JSON.stringify({ recording: report.recording, enabled: report.enabled, skipped: report.skipped, failed: report.failed }))
  st.report = { public: report, options }
  return report
}

/**
 * @param {InstrumentReport} report
 * @param {string[] | null} wanted
 */
function enableIntegrations(report, wanted) {
  const integrations = [
    { name: 'opentelemetry', enable: enableOtel },
    { name: 'openai', enable: () => require('../integrations/openai').instrument() },
    { name: 'anthropic', enable: () => require('../integrations/anthropic').instrument() },
    { name: 'langchain', enable: () => require('../integrations/langchain').instrument() },
    { name: 'mcp', enable: () => require('../integrations/mcp').instrument() },
    { name: 'http', enable: () => require('../integrations/http').instrument() },
    // The app's own logs (lib/logs.js): correlated with the active span, exported as OTLP logs.
    { name: 'console', enable: () => require('../integrations/logs').instrumentConsole(), switch: 'capture_logs' },
    { name: 'pino', enable: () => require('../integrations/logs').instrumentPino(), switch: 'capture_logs' },
    { name: 'winston', enable: () => require('../integrations/logs').instrumentWinston(), switch: 'capture_logs' },
  ]
  const names = integrations.map((i) => i.name)
  if (wanted) {
    const unknown = wanted.filter((w) => !names.includes(w))
    if (unknown.length) report.failed.integrations = `unknown integration(s): ${unknown.join(', ')}`
  }
  for (const integration of integrations) {
    if (wanted && !wanted.includes(integration.name)) {
      report.skipped[integration.name] = 'not requested'
      continue
    }
    const sw = /** @type {any} */ (integration).switch
    const cfg = state().config
    if (sw && cfg && cfg[sw] === false) {
      report.skipped[integration.name] = `${sw} is off`
      continue
    }
    try {
      const skipped = integration.enable()
      if (skipped) report.skipped[integration.name] = skipped
      else report.enabled.push(integration.name)
    } catch (e) {
      report.failed[integration.name] = String(e)
      state().native.reportInternalError('integration', `enabling ${integration.name} failed: ${e}`)
    }
  }
}

function enableOtel() {
  const st = state()
  if (st.otel) return undefined
  const bridge = otel.install()
  if (!bridge) return '@opentelemetry/api is not installed'
  st.otel = bridge
  return undefined
}

function installExitHooks() {
  const st = state()
  if (st.hooksInstalled) return
  st.hooksInstalled = true
  process.on('beforeExit', () => {
    // beforeExit fires again once our flush settles; only flush when there is something new.
    if (st.buffer.length === 0 && st.ended === st.lastFlushedEnded && !(/** @type {any} */ (st).logBuffer || []).length) return
    st.lastFlushedEnded = st.ended
    flush(exitTimeout()).catch(() => {})
  })
  process.on('exit', () => {
    if (!st.native || !st.recording) return
    try {
      handOver()
      logs.handOverLogs()
      // Nothing asynchronous runs in 'exit': a bounded, blocking drain.
      if (isMainThread) st.native.shutdownSync(exitTimeout())
      else st.native.flushSync(exitTimeout())
    } catch {}
  })
}

function exitTimeout() {
  const c = state().config
  return c ? Number(c.exit_timeout_ms) : 2000
}

/**
 * Waits until every span ended so far is stored and sent, at most `timeoutMs`.
 * @param {number} [timeoutMs]
 * @returns {Promise<boolean>} whether it completed in time
 */
function flush(timeoutMs = 5000) {
  const st = state()
  if (!st.native) return Promise.resolve(true)
  if (!hasFlushHooks(st)) {
    handOver()
    logs.handOverLogs()
    return st.native.flush(timeoutMs)
  }
  // The hooks get at most half the time, so that what is ended gets the rest.
  const deadline = Date.now() + timeoutMs
  return settleFlushHooks(st, timeoutMs / 2).then((settled) => {
    handOver()
    logs.handOverLogs()
    return st.native.flush(Math.max(0, deadline - Date.now())).then((/** @type {boolean} */ done) => done && settled)
  })
}

/** @param {any} st */
const hasFlushHooks = (st) => !!(st.flushHooks && st.flushHooks.size)

/**
 * Waits (at most `timeoutMs`) for what integrations say must finish before a flush: work a
 * framework queued in the background that still makes spans (LangChain's callbacks).
 * @param {any} st
 * @param {number} timeoutMs
 * @returns {Promise<boolean>} whether it all finished in time
 */
function settleFlushHooks(st, timeoutMs) {
  /** @type {any} */
  let timer
  const timeout = new Promise((resolve) => {
    timer = setTimeout(resolve, timeoutMs, false)
  })
  const hooks = Promise.allSettled([...st.flushHooks].map((/** @type {() => any} */ hook) => Promise.resolve().then(hook))).then(() => true)
  return Promise.race([hooks, timeout]).then((/** @type {any} */ settled) => {
    clearTimeout(timer)
    return !!settled
  })
}

/**
 * Drains what is queued (at most `timeoutMs`) and stops recording; `instrument()` may be called
 * again afterwards.
 * @param {number} [timeoutMs]
 * @returns {Promise<boolean>}
 */
function shutdown(timeoutMs = 5000) {
  const st = state()
  if (!st.native) return Promise.resolve(true)
  const stop = () => {
    handOver()
    logs.handOverLogs()
    require('../integrations/logs').uninstrument()
    st.recording = false
    st.report = null
    return st.native.shutdown(timeoutMs)
  }
  return hasFlushHooks(st) && st.recording ? settleFlushHooks(st, timeoutMs / 2).then(stop) : stop()
}

/**
 * The span a new span nests under when given no parent: the active span, or the span of the
 * framework run executing now, when the app opened none of its own inside it (an integration
 * that builds spans from a framework's run tree says which: see integrations/langchain.js).
 * @param {import('./context').Store} s
 */
function defaultParent(s) {
  const active = s.activeSpan()
  const resolve = /** @type {any} */ (state()).runResolver
  return resolve ? resolve(active) : active
}

/**
 * The parent a new span gets: an explicit one, or the active span.
 * @param {any} explicit
 */
function resolveParent(explicit) {
  const s = store()
  if (explicit === undefined || explicit === null) {
    return { parent: otel.parentOf(defaultParent(s)), scope: s.activeScope() }
  }
  if (explicit instanceof Span) return { parent: otel.parentOf(explicit), scope: explicit._scope || s.activeScope() }
  if (explicit instanceof RemoteContext) {
    const scope = explicit.scope ? new Scope(explicit.scope, null) : s.activeScope()
    return { parent: explicit.isValid() ? otel.parentOf(explicit) : null, scope }
  }
  if (typeof explicit === 'string') return resolveParent(extract({ traceparent: explicit }))
  if (typeof explicit === 'object' && typeof explicit.spanContext === 'function') {
    return { parent: otel.parentOf(explicit), scope: s.activeScope() }
  }
  if (typeof explicit === 'object') return resolveParent(extract(explicit))
  throw new TypeError('fivelens: parent must be a Span, a RemoteContext, a traceparent string or a headers object')
}

/**
 * Starts a span without making it active; end it with `span.end()`.
 * @param {string} name
 * @param {SpanOptions & {instrumentation?: string}} [options]
 * @returns {Span}
 */
function startSpan(name, options = {}) {
  if (typeof name !== 'string') throw new TypeError(`fivelens: span name must be a string, got ${typeof name}`)
  const { parent, scope } = resolveParent(options.parent)
  const span = new Span(name, kindNumber(options.kind), parent, scope, state().recording, options.instrumentation)
  if (options.startTime !== undefined) span._start = require('./ids').toEpochMs(options.startTime) ?? span._start
  if (options.attributes) span.setAttributes(options.attributes)
  for (const l of options.links || []) {
    const p = resolveParent(l).parent
    if (p) span.addLink({ context: p })
  }
  return span
}

/**
 * Runs `fn` inside a new span, child of the active one: `withSpan(name, fn)`,
 * `withSpan(name, attributes, fn)` or `withSpan(name, attributes, options, fn)`. The span ends
 * when `fn` returns or its promise settles; an exception or rejection sets status ERROR,
 * `error.type` and an `exception` event, and is passed on unchanged.
 * @template T
 * @param {string} name
 * @param {Record<string, any> | ((span: Span) => T)} [attributes]
 * @param {SpanOptions | ((span: Span) => T)} [options]
 * @param {(span: Span) => T} [fn]
 * @returns {T}
 */
function withSpan(name, attributes, options, fn) {
  if (typeof attributes === 'function') {
    fn = /** @type {any} */ (attributes)
    attributes = undefined
    options = undefined
  } else if (typeof options === 'function') {
    fn = /** @type {any} */ (options)
    options = undefined
  }
  if (typeof fn !== 'function') throw new TypeError('fivelens: withSpan needs a function to run')
  /** @type {SpanOptions} */
  const opts = /** @type {any} */ (options) || {}
  const span = startSpan(name, opts)
  if (attributes) span.setAttributes(attributes)
  // Below the root of a trace dropped when it started (head sampling), a span records nothing:
  // run `fn` in the current context (the dropped parent stays active for its children).
  if (span._dropped && span._parentId && !span._parentRemote) return run(span, fn)
  return store().runWithSpan(span, run, undefined, [span, fn])
}

/**
 * @param {Span} span
 * @param {Function} fn
 */
function run(span, fn) {
  let result
  try {
    result = fn(span)
  } catch (e) {
    span.recordException(e)
    span.end()
    throw e
  }
  if (result !== null && typeof result === 'object' && typeof (/** @type {any} */ (result).then) === 'function') {
    return /** @type {any} */ (result).then(
      (/** @type {any} */ value) => {
        span.end()
        return value
      },
      (/** @type {any} */ error) => {
        span.recordException(error)
        span.end()
        throw error
      },
    )
  }
  span.end()
  return result
}

/**
 * Trace-scoped attributes: stamped on every span started inside `fn` (however deep, across
 * awaits and callbacks) and carried to downstream fivelens services by `inject()`. `userId` is
 * recorded only as a keyed hash (`user.hash`).
 * @template T
 * @param {{sessionId?: string, userId?: string, tenant?: string, tags?: string[], [key: string]: any}} attributes
 * @param {() => T} fn
 * @returns {T}
 */
function withContext(attributes, fn) {
  if (typeof fn !== 'function') throw new TypeError('fivelens: withContext needs a function to run')
  const { sessionId, userId, tenant, tags, ...more } = attributes || {}
  /** @type {Record<string, any>} */
  const attrs = {}
  if (sessionId !== undefined && sessionId !== null) attrs[sc.SESSION_ID] = String(sessionId)
  if (userId !== undefined && userId !== null) {
    const addon = state().native
    if (addon) attrs[sc.USER_HASH] = addon.hashUserId(String(userId))
  }
  if (tenant !== undefined && tenant !== null) attrs[sc.FIVELENS_TENANT] = String(tenant)
  if (tags !== undefined && tags !== null) attrs[sc.FIVELENS_TAGS] = (Array.isArray(tags) ? tags : [tags]).map(String)
  Object.assign(attrs, convert(more))
  const s = store()
  return s.runWithScope(new Scope(attrs, s.activeScope()), fn)
}

/**
 * @param {any} value
 * @param {string} what
 * @returns {string}
 */
function requiredName(value, what) {
  if (typeof value !== 'string' || !value) throw new TypeError(`fivelens: ${what}: expected a non-empty string, got ${JSON.stringify(value) ?? typeof value}`)
  return value
}

/**
 * Runs `fn` in a scope whose model-call-only attributes are `llm` (on top of the current ones).
 * @param {Record<string, any>} llm
 * @param {Function} fn
 */
function withLlmScope(llm, fn) {
  const s = store()
  const parent = s.activeScope()
  return s.runWithScope(new Scope({}, parent, llm), fn)
}

/**
 * Labels every model call made inside `fn` (however deep, across awaits and callbacks) with its
 * pipeline stage, `fivelens.stage` (classifier, planner, synthesis...), so cost and tokens can be
 * aggregated by stage (`fivelens stats`). Other spans are not labelled. Returns what `fn` returns.
 * @template T
 * @param {string} name
 * @param {() => T} fn
 * @returns {T}
 */
function withStage(name, fn) {
  requiredName(name, 'withStage name')
  if (typeof fn !== 'function') throw new TypeError('fivelens: withStage needs a function to run')
  return withLlmScope({ [sc.FIVELENS_STAGE]: name }, fn)
}

/**
 * Declares the prompt template in use: every model call made inside `fn` gets `gen_ai.prompt.name`
 * and, when given, `gen_ai.prompt.version`: `withPrompt(name, version, fn)` or
 * `withPrompt(name, fn)`. Returns what `fn` returns.
 * @template T
 * @param {string} name
 * @param {string | number | (() => T)} versionOrFn
 * @param {() => T} [fn]
 * @returns {T}
 */
function withPrompt(name, versionOrFn, fn) {
  requiredName(name, 'withPrompt name')
  /** @type {any} */
  let version = versionOrFn
  if (typeof versionOrFn === 'function' && fn === undefined) {
    fn = /** @type {() => T} */ (versionOrFn)
    version = undefined
  }
  if (typeof fn !== 'function') throw new TypeError('fivelens: withPrompt needs a function to run')
  /** @type {Record<string, any>} */
  const llm = { [sc.GEN_AI_PROMPT_NAME]: name }
  if (version !== undefined && version !== null) {
    if (typeof version !== 'string' && !(typeof version === 'number' && Number.isFinite(version))) {
      throw new TypeError(`fivelens: withPrompt version: expected a string or a number, got ${typeof version}`)
    }
    llm[sc.GEN_AI_PROMPT_VERSION] = String(version)
  }
  return withLlmScope(llm, fn)
}

/**
 * Tokens in `text` as `model` would count them: exact for OpenAI models (`o200k_base` or
 * `cl100k_base`, chosen by the model name, as `tiktoken` counts), an estimate with `o200k_base`
 * for any other model or none. `options.encoding` names the vocabulary instead (an unknown one
 * throws). Without the native addon, a rough estimate (a token per 4 characters).
 * @param {string} text
 * @param {string | null} [model]
 * @param {{encoding?: string}} [options]
 * @returns {number}
 */
function countTokens(text, model, options = {}) {
  if (typeof text !== 'string') throw new TypeError(`fivelens: countTokens text: expected a string, got ${typeof text}`)
  if (model !== undefined && model !== null && typeof model !== 'string') throw new TypeError(`fivelens: countTokens model: expected a string, got ${typeof model}`)
  const encoding = options && options.encoding
  if (encoding !== undefined && encoding !== null && typeof encoding !== 'string') throw new TypeError('fivelens: countTokens encoding: expected a string')
  const addon = ensureNative()
  if (!addon) return Math.ceil(text.length / 4)
  return addon.countTokens(text, model ?? null, encoding ?? null)
}

/**
 * Asks the tail sampler to keep the current trace (whatever the baseline rate), recording
 * `reason` on the current span as `fivelens.sampling.keep`. Returns whether a span was current.
 * Without effect on a trace already dropped at its start (`samplingMode: 'head'`).
 * @param {string} [reason]
 * @returns {boolean}
 */
function keepTrace(reason = 'app') {
  const span = currentSpan()
  if (!span || typeof span.setAttribute !== 'function') return false
  span.setAttribute(sc.FIVELENS_SAMPLING_KEEP, String(reason))
  return true
}

/**
 * `text` with its PII replaced as the active configuration says (the `redact*` options of
 * `instrument()`; the defaults before it), and the values found, with offsets in UTF-16 code
 * units of `text` (JavaScript string indices). Placeholders never contain any part of a value.
 * @param {string} text
 * @returns {{text: string, entities: {type: string, start: number, end: number}[]}}
 */
function redact(text) {
  if (typeof text !== 'string') throw new TypeError(`fivelens: redact text: expected a string, got ${typeof text}`)
  const addon = ensureNative()
  if (!addon) throw new Error('fivelens: redact needs the native addon, which did not load (see status())')
  return addon.redact(text)
}

/**
 * The vocabulary `countTokens` uses for `model` when its count is exact (`o200k_base`,
 * `cl100k_base`), or `null` when the model's tokenizer is not known (counts are then estimates).
 * @param {string} model
 * @returns {string | null}
 */
function tokenEncoding(model) {
  if (typeof model !== 'string') throw new TypeError(`fivelens: tokenEncoding model: expected a string, got ${typeof model}`)
  const addon = ensureNative()
  return addon ? addon.tokenEncoding(model) ?? null : null
}

/**
 * Instruments SDK modules the app hands over: for bundled apps (where fivelens cannot find the
 * SDKs on disk), or to be certain the ES module copies are patched before the first call on a
 * Node.js without `require()` of ES modules. Pass the module as imported (`import * as openai
 * from 'openai'`) or its client class. `langchain` takes LangChain's modules, one or an array:
 * `@langchain/core/callbacks/manager` (required), and for the rest of the picture
 * `@langchain/core/language_models/chat_models`, `@langchain/core/callbacks/promises` and
 * `@langchain/langgraph`. `mcp` takes the MCP SDK's modules, one or an array: 1.x
 * `@modelcontextprotocol/sdk/shared/protocol.js` (or its `client/index.js` / `server/index.js`),
 * 2.x `@modelcontextprotocol/client` and `@modelcontextprotocol/server`, or their `Client` and
 * `Server` classes. Returns the names of the modules it instrumented. Safe to call more
 * than once.
 * @param {{openai?: any, anthropic?: any, langchain?: any, mcp?: any}} modules
 * @returns {string[]}
 */
function instrumentModules(modules) {
  if (!modules || typeof modules !== 'object') throw new TypeError('fivelens: instrumentModules needs an object, e.g. { openai, anthropic }')
  /** @type {string[]} */
  const done = []
  for (const [name, mod] of Object.entries(modules)) {
    if (name !== 'openai' && name !== 'anthropic' && name !== 'langchain' && name !== 'mcp') {
      throw new TypeError(`fivelens: instrumentModules: unknown module ${JSON.stringify(name)} (known: anthropic, langchain, mcp, openai)`)
    }
    if (mod === undefined || mod === null) continue
    const integration = require(`../integrations/${name}`)
    if (!integration.patchModule(mod)) {
      const what = name === 'langchain' ? 'a LangChain module (e.g. @langchain/core/callbacks/manager)' : name === 'mcp' ? 'an MCP SDK module (e.g. @modelcontextprotocol/client)' : `the ${name} SDK module or client class`
      throw new TypeError(`fivelens: instrumentModules: ${name} is not ${what}`)
    }
    done.push(name)
  }
  return done
}

/** The active span, if any (a fivelens span, or the app's own OpenTelemetry span). */
function currentSpan() {
  return defaultParent(store())
}

/**
 * Writes `traceparent`, `tracestate` and `fivelens-context` for the active span (or `span`)
 * into `carrier`, and returns it.
 * @param {Record<string, string>} [carrier]
 * @param {Span} [span]
 * @returns {Record<string, string>}
 */
function inject(carrier = {}, span) {
  const s = store()
  const target = span ?? defaultParent(s)
  const parent = otel.parentOf(target)
  if (parent) {
    carrier.traceparent = `00-${parent.traceId}-${parent.spanId}-${parent.sampled ? '01' : '00'}`
    if (parent.traceState) carrier.tracestate = parent.traceState
  }
  const scope = span ? span._scope : s.activeScope()
  const addon = state().native
  if (scope && addon) {
    const wire = addon.encodeScope(JSON.stringify(scope.attributes))
    if (wire) carrier['fivelens-context'] = wire
  }
  return carrier
}

/**
 * Reads `traceparent`, `tracestate` and `fivelens-context` from headers (or MCP `_meta`); a
 * missing or malformed `traceparent` gives a context that starts a new trace.
 * @param {Record<string, any>} carrier
 * @returns {RemoteContext}
 */
function extract(carrier) {
  const addon = ensureNative()
  if (!addon || !carrier || typeof carrier !== 'object') return new RemoteContext('', '', true, undefined, null)
  /** @type {Record<string, any>} */
  const headers = {}
  for (const [k, v] of Object.entries(carrier)) if (typeof v === 'string' || Array.isArray(v)) headers[k] = v
  const p = JSON.parse(addon.parseCarrier(JSON.stringify(headers)))
  return new RemoteContext(p.traceId, p.spanId, p.sampled, p.traceState ?? undefined, p.scope ?? null)
}

/**
 * Returns `fn` bound to the active span and context, wherever it is called later.
 * @template {Function} F
 * @param {F} fn
 * @returns {F}
 */
function bindContext(fn) {
  return /** @type {F} */ (store().bind(fn))
}

/**
 * fivelens's own statistics: spans started, ended, exported, dropped by reason, export failures,
 * queue depth, what instrument() enabled and skipped.
 * @returns {Record<string, any>}
 */
function status() {
  const st = state()
  if (!st.native) return { recording: false, native: false }
  const s = JSON.parse(st.native.status())
  s.buffered = st.buffer.length
  return s
}

/**
 * The span processor to pass to your own OpenTelemetry SDK provider, so that its spans inside
 * fivelens traces are recorded too (in the local store; your pipeline exports them):
 * `new NodeTracerProvider({ spanProcessors: [fivelens.spanProcessor()] })`.
 */
function spanProcessor() {
  return new otel.FivelensSpanProcessor()
}

const { withTool, ToolCall, ToolUnavailableError, GuardExceededError, BudgetExceededError, IterationLimitExceededError } = require('./tools')

module.exports = {
  instrument,
  shutdown,
  flush,
  withSpan,
  startSpan,
  withContext,
  withStage,
  withPrompt,
  countTokens,
  tokenEncoding,
  redact,
  keepTrace,
  instrumentModules,
  currentSpan,
  inject,
  extract,
  bindContext,
  status,
  spanProcessor,
  recordEvaluation,
  logContext,
  Span,
  RemoteContext,
  withTool,
  ToolCall,
  ToolUnavailableError,
  GuardExceededError,
  BudgetExceededError,
  IterationLimitExceededError,
}
// For lib/tools.js: the guards find the current trace and session as a new span would.
;/** @type {any} */ (state()).resolveParent = resolveParent
