/**
 * Options of `instrument()`: the core's configuration schema in camelCase (a test checks that
 * the two match). Each falls back to its environment variable, then its default; see the
 * configuration table in the README.
 */
export type InstrumentOptions = {
    /**
     * `service.name`; `OTEL_SERVICE_NAME`
     */
    serviceName?: string | undefined;
    /**
     * over `OTEL_RESOURCE_ATTRIBUTES`
     */
    resourceAttributes?: Record<string, string> | undefined;
    /**
     * no-op mode; `OTEL_SDK_DISABLED`
     */
    disabled?: boolean | undefined;
    /**
     * capture prompt/completion content (redacted); default true
     */
    captureContent?: boolean | undefined;
    /**
     * `OTEL_EXPORTER_OTLP_ENDPOINT`; default none (local store)
     */
    otlpEndpoint?: string | undefined;
    /**
     * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, used as is
     */
    otlpTracesEndpoint?: string | undefined;
    /**
     * `OTEL_EXPORTER_OTLP_PROTOCOL`
     */
    otlpProtocol?: "http/protobuf" | "http/json" | "grpc" | undefined;
    /**
     * `OTEL_EXPORTER_OTLP_HEADERS`
     */
    otlpHeaders?: Record<string, string> | undefined;
    /**
     * `OTEL_EXPORTER_OTLP_TIMEOUT`; default 10000
     */
    otlpTimeoutMs?: number | undefined;
    /**
     * `OTEL_EXPORTER_OTLP_COMPRESSION`
     */
    otlpCompression?: "none" | "gzip" | undefined;
    /**
     * local SQLite store; `FIVELENS_STORE`
     */
    store?: boolean | "off" | "auto" | "on" | undefined;
    /**
     * `FIVELENS_STORE_PATH`; default `$FIVELENS_HOME/fivelens.db`
     */
    storePath?: string | undefined;
    /**
     * retention by age; default 168
     */
    storeMaxAgeHours?: number | undefined;
    /**
     * retention by size; default 512 MiB
     */
    storeMaxBytes?: number | undefined;
    /**
     * span queue capacity; `OTEL_BSP_MAX_QUEUE_SIZE`
     */
    queueSize?: number | undefined;
    /**
     * spans per batch; `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`
     */
    batchSize?: number | undefined;
    /**
     * processing timer; `OTEL_BSP_SCHEDULE_DELAY`
     */
    scheduleDelayMs?: number | undefined;
    /**
     * bound on batches waiting per exporter
     */
    exportQueueBytes?: number | undefined;
    /**
     * largest request body before splitting
     */
    maxExportBatchBytes?: number | undefined;
    /**
     * `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`
     */
    maxAttributeBytes?: number | undefined;
    /**
     * `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`
     */
    maxAttributes?: number | undefined;
    /**
     * `OTEL_SPAN_EVENT_COUNT_LIMIT`
     */
    maxEvents?: number | undefined;
    /**
     * `OTEL_SPAN_LINK_COUNT_LIMIT`
     */
    maxLinks?: number | undefined;
    /**
     * bound on the flush at exit; `FIVELENS_EXIT_TIMEOUT_MS`
     */
    exitTimeoutMs?: number | undefined;
    /**
     * HMAC key for user ids; `FIVELENS_USER_HASH_KEY`
     */
    userHashKey?: string | undefined;
    /**
     * `FIVELENS_LOG_LEVEL`
     */
    logLevel?: "debug" | "info" | "warn" | "error" | "off" | undefined;
    /**
     * largest content attribute, cut with JSON kept valid; default 65536
     */
    maxContentBytes?: number | undefined;
    /**
     * add OpenInference and Langfuse attributes; `FIVELENS_COMPAT`
     */
    compat?: boolean | undefined;
    /**
     * a JSON price table over the built-in one; `FIVELENS_PRICES_FILE`
     */
    pricesFile?: string | undefined;
    /**
     * price entries over the file and the built-in table
     */
    prices?: Record<string, any>[] | undefined;
    /**
     * share of a model's context window (above 0, at most 1) past which a conversation's call gets the `fivelens.context.threshold_crossed` event; `FIVELENS_CONTEXT_ALERT_THRESHOLD`; default 0.8
     */
    contextAlertThreshold?: number | undefined;
    /**
     * a JSON table of context windows over the built-in one; `FIVELENS_CONTEXT_LIMITS_FILE`
     */
    contextLimitsFile?: string | undefined;
    /**
     * context-window entries (`provider`, `model`, `context_window`, optional `max_output_tokens`) over the file and the built-in table
     */
    contextLimits?: Record<string, any>[] | undefined;
    /**
     * `otlp`, `prometheus`, `none`; `OTEL_METRICS_EXPORTER`
     */
    metricsExporter?: string | undefined;
    /**
     * `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, used as is
     */
    otlpMetricsEndpoint?: string | undefined;
    /**
     * `OTEL_METRIC_EXPORT_INTERVAL`; default 60000
     */
    metricExportIntervalMs?: number | undefined;
    /**
     * `OTEL_EXPORTER_PROMETHEUS_HOST`; default 127.0.0.1
     */
    prometheusHost?: string | undefined;
    /**
     * `OTEL_EXPORTER_PROMETHEUS_PORT`; the endpoint is on when set
     */
    prometheusPort?: number | undefined;
    /**
     * count estimated tokens in `gen_ai.client.token.usage`
     */
    metricsIncludeEstimatedTokens?: boolean | undefined;
    /**
     * `FIVELENS_SAMPLING`: sampling policies, e.g. `['errors', 'keep', 'latency:p99', 'canary', 'baseline:0.01']`; default keeps everything
     */
    sampling?: string | string[] | undefined;
    /**
     * `FIVELENS_SAMPLING_MODE`: decide when a trace's local root ends (default) or when it starts
     */
    samplingMode?: "tail" | "head" | undefined;
    /**
     * `FIVELENS_SAMPLE_KEY`: what the `users` policy and the canary share hash; default user
     */
    sampleKey?: "trace" | "user" | "session" | undefined;
    /**
     * `FIVELENS_CANARY_USERS`: user ids always kept at full fidelity
     */
    canaryUsers?: string[] | undefined;
    /**
     * `FIVELENS_CANARY_PERCENT`: share of users (0-100) always kept
     */
    canaryPercent?: number | undefined;
    /**
     * `FIVELENS_SNAPSHOTS`: context snapshots of kept model calls for replay and datasets (with content capture on); default true
     */
    snapshots?: boolean | undefined;
    /**
     * `FIVELENS_SNAPSHOT_RATE`: share (0-1) of the other kept traces whose calls get a snapshot (failed calls, keep flags and the canary cohort always do); default 0.01
     */
    snapshotRate?: number | undefined;
    /**
     * `FIVELENS_SNAPSHOT_MAX_BYTES`: largest snapshot, JSON bytes before compression; default 262144
     */
    snapshotMaxBytes?: number | undefined;
    /**
     * `FIVELENS_TAIL_TIMEOUT_MS`: a trace whose root has not ended is decided after this; default 120000
     */
    tailTimeoutMs?: number | undefined;
    /**
     * undecided traces held at most; default 20000
     */
    tailMaxTraces?: number | undefined;
    /**
     * spans of undecided traces held at most; default 200000
     */
    tailMaxSpans?: number | undefined;
    /**
     * bytes of undecided traces held at most; default 128 MiB
     */
    tailMaxBytes?: number | undefined;
    /**
     * `FIVELENS_REDACT`: redact PII in captured content before it leaves the process; default true
     */
    redact?: boolean | undefined;
    /**
     * built-in PII types to detect (`EMAIL`, `PHONE`, `CREDIT_CARD`, `IBAN`, `US_SSN`, `IP_ADDRESS`, `SECRET`, `JWT`); default all
     */
    redactTypes?: string[] | undefined;
    /**
     * action per type (`*` for the rest); default `typed`
     */
    redactActions?: Record<string, "typed" | "indexed" | "hash" | "remove"> | undefined;
    /**
     * custom detectors (Rust regex syntax; a `value` group limits what is replaced)
     */
    redactRules?: {
        name: string;
        pattern: string;
    }[] | undefined;
    /**
     * values always redacted: exact strings, or `/regex/`
     */
    redactDeny?: string[] | undefined;
    /**
     * values never redacted: exact strings, or `/regex/` matching the whole value
     */
    redactAllow?: string[] | undefined;
    /**
     * `FIVELENS_CAPTURE_CHAIN_IO`: record framework chain and node inputs and outputs; default false
     */
    captureChainIo?: boolean | undefined;
    /**
     * `FIVELENS_COLLAPSE_CHAINS`: leave out framework chain runs that are plumbing; default false
     */
    collapseChains?: boolean | undefined;
    /**
     * integrations to enable; all importable ones when unset
     */
    integrations?: string[] | undefined;
    /**
     * `FIVELENS_CAPTURE_LOGS`: attach to `console` (and pino / winston when present), correlated and exported as OTLP logs; default true
     */
    captureLogs?: boolean | undefined;
    /**
     * `FIVELENS_LOGS_LEVEL`: the app's records at or above this level are exported; default info
     */
    logsLevel?: "trace" | "debug" | "info" | "warn" | "warning" | "error" | "critical" | "fatal" | "off" | undefined;
    /**
     * `FIVELENS_LOGS_INJECT_CONTEXT`: add `trace_id`, `span_id`, `session_id`, `user_hash` to pino and winston output; default false
     */
    logsInjectContext?: boolean | undefined;
    /**
     * `otlp` or `none`; `OTEL_LOGS_EXPORTER`
     */
    logsExporter?: string | undefined;
    /**
     * `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`, used as is
     */
    otlpLogsEndpoint?: string | undefined;
    /**
     * `OTEL_EXPORTER_OTLP_LOGS_PROTOCOL`; default `otlpProtocol`
     */
    otlpLogsProtocol?: "http/protobuf" | "http/json" | "grpc" | undefined;
    /**
     * `OTEL_EXPORTER_OTLP_LOGS_HEADERS`, over `otlpHeaders`
     */
    otlpLogsHeaders?: Record<string, string> | undefined;
    /**
     * `OTEL_EXPORTER_OTLP_LOGS_TIMEOUT`; default `otlpTimeoutMs`
     */
    otlpLogsTimeoutMs?: number | undefined;
    /**
     * `OTEL_EXPORTER_OTLP_LOGS_COMPRESSION`; default `otlpCompression`
     */
    otlpLogsCompression?: "none" | "gzip" | undefined;
    /**
     * log record queue capacity; `OTEL_BLRP_MAX_QUEUE_SIZE`; default 2048
     */
    logsQueueSize?: number | undefined;
    /**
     * a log body or attribute longer than this is cut and marked; default 16384
     */
    logsMaxFieldBytes?: number | undefined;
    /**
     * a log record larger than this is cut, longest fields first; default 65536
     */
    logsMaxRecordBytes?: number | undefined;
    /**
     * bytes of log records one trace may produce, later ones dropped and counted (0: none); default 1 MiB
     */
    logsTraceBudgetBytes?: number | undefined;
    /**
     * tool call arguments and results are cut to this, marked; default 16384
     */
    maxToolIoBytes?: number | undefined;
    /**
     * emit the `gen_ai.client.inference.operation.details` log event per model call; `FIVELENS_INFERENCE_EVENTS`; default false
     */
    inferenceEvents?: boolean | undefined;
    /**
     * where the reasoning journal goes: span events or log records; `FIVELENS_AGENT_JOURNAL`; default events
     */
    agentJournal?: "logs" | "events" | undefined;
    /**
     * a top intent score below it is a low-confidence classification (counted in `fivelens.intent.low_confidence`); `FIVELENS_INTENT_LOW_CONFIDENCE_THRESHOLD`; default 0.5
     */
    intentLowConfidenceThreshold?: number | undefined;
    /**
     * JSON file of golden outputs for drift checks (else the local store); `FIVELENS_DRIFT_GOLDENS_FILE`
     */
    driftGoldensFile?: string | null | undefined;
    /**
     * evaluations run at once by the asynchronous evaluation pool; `FIVELENS_EVALUATION_WORKERS`; default 2
     */
    evaluationWorkers?: number | undefined;
    /**
     * evaluations waiting for the pool before new ones are dropped and counted; `FIVELENS_EVALUATION_QUEUE_SIZE`; default 64
     */
    evaluationQueueSize?: number | undefined;
    /**
     * `FIVELENS_TOOL_BREAKER`: the circuit breaker at the tool boundary: `observe` records what it would do, `enforce` rejects calls while it is open; default observe
     */
    toolBreaker?: "off" | "observe" | "enforce" | undefined;
    /**
     * `FIVELENS_TOOL_BREAKER_ERROR_RATE`: error rate (0 to 1) that opens a tool's breaker; default 0.1
     */
    toolBreakerErrorRate?: number | undefined;
    /**
     * `FIVELENS_TOOL_BREAKER_MIN_CALLS`: calls in the window before the rate counts; default 20
     */
    toolBreakerMinCalls?: number | undefined;
    /**
     * `FIVELENS_TOOL_BREAKER_WINDOW_MS`: the sliding window; default 60000
     */
    toolBreakerWindowMs?: number | undefined;
    /**
     * `FIVELENS_TOOL_BREAKER_OPEN_MS`: how long an open breaker rejects before probing; default 30000
     */
    toolBreakerOpenMs?: number | undefined;
    /**
     * `FIVELENS_TOOL_BREAKER_HALF_OPEN_CALLS`: successful probes that close a half-open breaker; default 1
     */
    toolBreakerHalfOpenCalls?: number | undefined;
    /**
     * `FIVELENS_MAX_AGENT_ITERATIONS`: a model call in a later agent iteration is refused; default no limit
     */
    maxAgentIterations?: number | undefined;
    /**
     * `FIVELENS_TRACE_TOKEN_BUDGET`: tokens a trace's model calls may use; default none
     */
    traceTokenBudget?: number | undefined;
    /**
     * `FIVELENS_TRACE_COST_BUDGET_USD`: US dollars a trace's model calls may cost; default none
     */
    traceCostBudgetUsd?: number | undefined;
    /**
     * `FIVELENS_SESSION_TOKEN_BUDGET`: tokens a session's model calls may use; default none
     */
    sessionTokenBudget?: number | undefined;
    /**
     * `FIVELENS_SESSION_COST_BUDGET_USD`: US dollars a session's model calls may cost; default none
     */
    sessionCostBudgetUsd?: number | undefined;
    /**
     * keep finished spans in memory (for tests)
     */
    testing?: boolean | undefined;
};
/**
 * What `instrument()` did.
 */
export type InstrumentReport = {
    recording: boolean;
    enabled: string[];
    skipped: Record<string, string>;
    failed: Record<string, string>;
    /**
     * the resolved configuration (snake_case, as the core has it)
     */
    config: Record<string, any>;
};
/**
 * Options for `withSpan` and `startSpan`.
 */
export type SpanOptions = {
    kind?: number | "internal" | "server" | "client" | "producer" | "consumer" | undefined;
    /**
     * explicit parent (a span, `extract()`'s result, a traceparent or headers)
     */
    parent?: string | Span | Record<string, string> | RemoteContext | undefined;
    links?: (string | Span | RemoteContext)[] | undefined;
    attributes?: Record<string, any> | undefined;
    startTime?: number | Date | undefined;
};
/**
 * Configure fivelens and instrument what is importable. Idempotent: later calls return the
 * first report (call `shutdown()` first to reconfigure). A bad option throws an Error naming it.
 * @param {InstrumentOptions} [options]
 * @returns {InstrumentReport}
 */
export function instrument(options?: InstrumentOptions): InstrumentReport;
/**
 * Drains what is queued (at most `timeoutMs`) and stops recording; `instrument()` may be called
 * again afterwards.
 * @param {number} [timeoutMs]
 * @returns {Promise<boolean>}
 */
export function shutdown(timeoutMs?: number): Promise<boolean>;
/**
 * Waits until every span ended so far is stored and sent, at most `timeoutMs`.
 * @param {number} [timeoutMs]
 * @returns {Promise<boolean>} whether it completed in time
 */
export function flush(timeoutMs?: number): Promise<boolean>;
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
export function withSpan<T>(name: string, attributes?: Record<string, any> | ((span: Span) => T), options?: SpanOptions | ((span: Span) => T), fn?: (span: Span) => T): T;
/**
 * Starts a span without making it active; end it with `span.end()`.
 * @param {string} name
 * @param {SpanOptions & {instrumentation?: string}} [options]
 * @returns {Span}
 */
export function startSpan(name: string, options?: SpanOptions & {
    instrumentation?: string;
}): Span;
/**
 * Trace-scoped attributes: stamped on every span started inside `fn` (however deep, across
 * awaits and callbacks) and carried to downstream fivelens services by `inject()`. `userId` is
 * recorded only as a keyed hash (`user.hash`).
 * @template T
 * @param {{sessionId?: string, userId?: string, tenant?: string, tags?: string[], [key: string]: any}} attributes
 * @param {() => T} fn
 * @returns {T}
 */
export function withContext<T>(attributes: {
    sessionId?: string;
    userId?: string;
    tenant?: string;
    tags?: string[];
    [key: string]: any;
}, fn: () => T): T;
/**
 * Labels every model call made inside `fn` (however deep, across awaits and callbacks) with its
 * pipeline stage, `fivelens.stage` (classifier, planner, synthesis...), so cost and tokens can be
 * aggregated by stage (`fivelens stats`). Other spans are not labelled. Returns what `fn` returns.
 * @template T
 * @param {string} name
 * @param {() => T} fn
 * @returns {T}
 */
export function withStage<T>(name: string, fn: () => T): T;
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
export function withPrompt<T>(name: string, versionOrFn: string | number | (() => T), fn?: () => T): T;
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
export function countTokens(text: string, model?: string | null, options?: {
    encoding?: string;
}): number;
/**
 * The vocabulary `countTokens` uses for `model` when its count is exact (`o200k_base`,
 * `cl100k_base`), or `null` when the model's tokenizer is not known (counts are then estimates).
 * @param {string} model
 * @returns {string | null}
 */
export function tokenEncoding(model: string): string | null;
/**
 * `text` with its PII replaced as the active configuration says (the `redact*` options of
 * `instrument()`; the defaults before it), and the values found, with offsets in UTF-16 code
 * units of `text` (JavaScript string indices). Placeholders never contain any part of a value.
 * @param {string} text
 * @returns {{text: string, entities: {type: string, start: number, end: number}[]}}
 */
export function redact(text: string): {
    text: string;
    entities: {
        type: string;
        start: number;
        end: number;
    }[];
};
/**
 * Asks the tail sampler to keep the current trace (whatever the baseline rate), recording
 * `reason` on the current span as `fivelens.sampling.keep`. Returns whether a span was current.
 * Without effect on a trace already dropped at its start (`samplingMode: 'head'`).
 * @param {string} [reason]
 * @returns {boolean}
 */
export function keepTrace(reason?: string): boolean;
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
export function instrumentModules(modules: {
    openai?: any;
    anthropic?: any;
    langchain?: any;
    mcp?: any;
}): string[];
/** The active span, if any (a fivelens span, or the app's own OpenTelemetry span). */
export function currentSpan(): any;
/**
 * Writes `traceparent`, `tracestate` and `fivelens-context` for the active span (or `span`)
 * into `carrier`, and returns it.
 * @param {Record<string, string>} [carrier]
 * @param {Span} [span]
 * @returns {Record<string, string>}
 */
export function inject(carrier?: Record<string, string>, span?: Span): Record<string, string>;
/**
 * Reads `traceparent`, `tracestate` and `fivelens-context` from headers (or MCP `_meta`); a
 * missing or malformed `traceparent` gives a context that starts a new trace.
 * @param {Record<string, any>} carrier
 * @returns {RemoteContext}
 */
export function extract(carrier: Record<string, any>): RemoteContext;
/**
 * Returns `fn` bound to the active span and context, wherever it is called later.
 * @template {Function} F
 * @param {F} fn
 * @returns {F}
 */
export function bindContext<F extends Function>(fn: F): F;
/**
 * fivelens's own statistics: spans started, ended, exported, dropped by reason, export failures,
 * queue depth, what instrument() enabled and skipped.
 * @returns {Record<string, any>}
 */
export function status(): Record<string, any>;
/**
 * The span processor to pass to your own OpenTelemetry SDK provider, so that its spans inside
 * fivelens traces are recorded too (in the local store; your pipeline exports them):
 * `new NodeTracerProvider({ spanProcessors: [fivelens.spanProcessor()] })`.
 */
export function spanProcessor(): otel.FivelensSpanProcessor;
export const recordEvaluation: typeof logs.recordEvaluation;
export const logContext: typeof logs.logContext;
import { Span } from "./span";
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
export class RemoteContext {
    /**
     * @param {string} traceId
     * @param {string} spanId
     * @param {boolean} sampled
     * @param {string | undefined} traceState
     * @param {Record<string, any> | null} scope
     */
    constructor(traceId: string, spanId: string, sampled: boolean, traceState: string | undefined, scope: Record<string, any> | null);
    traceId: string;
    spanId: string;
    sampled: boolean;
    traceState: string | undefined;
    scope: Record<string, any> | null;
    /** Whether a valid `traceparent` was found. */
    isValid(): boolean;
    spanContext(): {
        traceId: string;
        spanId: string;
        traceFlags: number;
        isRemote: boolean;
    };
}
import { withTool } from "./tools";
import { ToolCall } from "./tools";
import { ToolUnavailableError } from "./tools";
import { GuardExceededError } from "./tools";
import { BudgetExceededError } from "./tools";
import { IterationLimitExceededError } from "./tools";
import otel = require("./otel");
import logs = require("./logs");
export { Span, withTool, ToolCall, ToolUnavailableError, GuardExceededError, BudgetExceededError, IterationLimitExceededError };
