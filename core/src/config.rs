//! The one configuration schema. Every binding passes the user's options through as a map with
//! these field names (Node converts camelCase); the defaults live here only, and each binding's
//! test suite checks that its typed surface lists exactly these fields.
//!
//! Precedence: an explicit option wins over its environment variable, which wins over the
//! default. A bad value anywhere is a [`ConfigError`] naming the field (or variable).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `OTEL_SDK_DISABLED`: `true` turns fivelens into a no-op. Default `false`.
pub const ENV_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
/// `OTEL_SERVICE_NAME`: the `service.name` resource attribute. Default `unknown_service:<language>`.
pub const ENV_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// `OTEL_RESOURCE_ATTRIBUTES`: `key=value,...` resource attributes (percent-decoded). Default empty.
pub const ENV_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
/// `OTEL_EXPORTER_OTLP_ENDPOINT`: base URL; `/v1/traces` is appended for HTTP. Default unset
/// (no network export; the local store is used).
pub const ENV_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`: full URL for traces, used as is. Default unset.
pub const ENV_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// `OTEL_EXPORTER_OTLP_PROTOCOL` / `..._TRACES_PROTOCOL`: `http/protobuf` (default), `http/json` or `grpc`.
pub const ENV_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// Traces-specific protocol variable.
pub const ENV_OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
/// `OTEL_EXPORTER_OTLP_HEADERS` / `..._TRACES_HEADERS`: `key=value,...`, percent-decoded. Default empty.
pub const ENV_OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// Traces-specific headers variable.
pub const ENV_OTLP_TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
/// `OTEL_EXPORTER_OTLP_TIMEOUT` / `..._TRACES_TIMEOUT`: per-request timeout in ms. Default 10000.
pub const ENV_OTLP_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
/// Traces-specific timeout variable.
pub const ENV_OTLP_TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
/// `OTEL_EXPORTER_OTLP_COMPRESSION` / `..._TRACES_COMPRESSION`: `gzip` or `none`. Default `none`.
pub const ENV_OTLP_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_COMPRESSION";
/// Traces-specific compression variable.
pub const ENV_OTLP_TRACES_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION";
/// `OTEL_BSP_MAX_QUEUE_SIZE`: span queue capacity. Default 8192.
pub const ENV_BSP_MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
/// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`: spans handled per batch. Default 512.
pub const ENV_BSP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";
/// `OTEL_BSP_SCHEDULE_DELAY`: ms between timer wake-ups of the processing thread. Default 500.
pub const ENV_BSP_SCHEDULE_DELAY: &str = "OTEL_BSP_SCHEDULE_DELAY";
/// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`: largest attribute value in bytes. Default 131072.
pub const ENV_ATTRIBUTE_VALUE_LENGTH_LIMIT: &str = "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT";
/// `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`: most attributes per span. Default 128.
pub const ENV_SPAN_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT";
/// `OTEL_SPAN_EVENT_COUNT_LIMIT`: most events per span. Default 128.
pub const ENV_SPAN_EVENT_COUNT_LIMIT: &str = "OTEL_SPAN_EVENT_COUNT_LIMIT";
/// `OTEL_SPAN_LINK_COUNT_LIMIT`: most links per span. Default 128.
pub const ENV_SPAN_LINK_COUNT_LIMIT: &str = "OTEL_SPAN_LINK_COUNT_LIMIT";
/// `FIVELENS_CAPTURE_CONTENT`: `false` turns prompt/completion capture off everywhere. Default `true`.
pub const ENV_CAPTURE_CONTENT: &str = "FIVELENS_CAPTURE_CONTENT";
/// `FIVELENS_STORE`: `auto` (on when no OTLP endpoint is set), `on` or `off`. Default `auto`.
pub const ENV_STORE: &str = "FIVELENS_STORE";
/// `FIVELENS_STORE_PATH`: the SQLite file. Default `$FIVELENS_HOME/fivelens.db`.
pub const ENV_STORE_PATH: &str = "FIVELENS_STORE_PATH";
/// `FIVELENS_HOME`: folder of the store and the generated user-hash key. Default
/// `$XDG_DATA_HOME/fivelens`, else `~/.local/share/fivelens`.
pub const ENV_HOME: &str = "FIVELENS_HOME";
/// `FIVELENS_STORE_MAX_AGE_HOURS`: traces older than this are deleted. Default 168 (7 days).
pub const ENV_STORE_MAX_AGE_HOURS: &str = "FIVELENS_STORE_MAX_AGE_HOURS";
/// `FIVELENS_STORE_MAX_BYTES`: the store is trimmed (oldest traces first) above this size. Default 512 MiB.
pub const ENV_STORE_MAX_BYTES: &str = "FIVELENS_STORE_MAX_BYTES";
/// `FIVELENS_USER_HASH_KEY`: HMAC key for user ids. Default: generated beside the store.
pub const ENV_USER_HASH_KEY: &str = "FIVELENS_USER_HASH_KEY";
/// `FIVELENS_LOG_LEVEL`: `off`, `error`, `warn` (default), `info` or `debug` for fivelens's own
/// diagnostics on stderr.
pub const ENV_LOG_LEVEL: &str = "FIVELENS_LOG_LEVEL";
/// `FIVELENS_EXIT_TIMEOUT_MS`: bound on the flush at process exit. Default 2000.
pub const ENV_EXIT_TIMEOUT_MS: &str = "FIVELENS_EXIT_TIMEOUT_MS";
/// `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`: `true`/`false`, or `NO_CONTENT`,
/// `SPAN_ONLY`, `EVENT_ONLY`, `SPAN_AND_EVENT` (only the span forms keep content on spans).
/// Read when `FIVELENS_CAPTURE_CONTENT` is unset.
pub const ENV_OTEL_CAPTURE_CONTENT: &str = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT";
/// `FIVELENS_MAX_CONTENT_BYTES`: content attributes are cut (JSON kept valid) past this. Default 65536.
pub const ENV_MAX_CONTENT_BYTES: &str = "FIVELENS_MAX_CONTENT_BYTES";
/// `FIVELENS_COMPAT`: `true` adds OpenInference and Langfuse attributes. Default `false`.
pub const ENV_COMPAT: &str = "FIVELENS_COMPAT";
/// `FIVELENS_METRICS_INCLUDE_ESTIMATED_TOKENS`: `true` counts estimated tokens in
/// `gen_ai.client.token.usage` too. Default `false` (the conventions' rule).
pub const ENV_METRICS_INCLUDE_ESTIMATED_TOKENS: &str = "FIVELENS_METRICS_INCLUDE_ESTIMATED_TOKENS";
/// `FIVELENS_CAPTURE_CHAIN_IO`: `true` records agent-framework chain and node inputs and outputs
/// (content, costly to serialize). Default `false`: content is captured for model and tool runs.
pub const ENV_CAPTURE_CHAIN_IO: &str = "FIVELENS_CAPTURE_CHAIN_IO";
/// `FIVELENS_COLLAPSE_CHAINS`: `true` leaves out agent-framework chain runs that are plumbing
/// (their children move up to the nearest span kept). Default `false`.
pub const ENV_COLLAPSE_CHAINS: &str = "FIVELENS_COLLAPSE_CHAINS";
/// `FIVELENS_SAMPLING`: the sampling policies, comma-separated (see [`crate::sampling`]).
pub const ENV_SAMPLING: &str = "FIVELENS_SAMPLING";
/// `FIVELENS_SAMPLING_MODE`: `tail` (default) or `head`.
pub const ENV_SAMPLING_MODE: &str = "FIVELENS_SAMPLING_MODE";
/// `FIVELENS_SAMPLE_KEY`: `user` (default), `session` or `trace`.
pub const ENV_SAMPLE_KEY: &str = "FIVELENS_SAMPLE_KEY";
/// `FIVELENS_CANARY_USERS`: user ids always kept at full fidelity, comma-separated.
pub const ENV_CANARY_USERS: &str = "FIVELENS_CANARY_USERS";
/// `FIVELENS_CANARY_PERCENT`: share of users (0-100) always kept at full fidelity.
pub const ENV_CANARY_PERCENT: &str = "FIVELENS_CANARY_PERCENT";
/// `FIVELENS_SNAPSHOTS`: context snapshots of kept model calls, for replay and datasets (they
/// also need content capture: the capture switch always wins). Default true.
pub const ENV_SNAPSHOTS: &str = "FIVELENS_SNAPSHOTS";
/// `FIVELENS_SNAPSHOT_RATE`: share (0 to 1) of the kept traces without a failure, keep flag or
/// canary mark whose model calls get a snapshot (by trace id). Default 0.01.
pub const ENV_SNAPSHOT_RATE: &str = "FIVELENS_SNAPSHOT_RATE";
/// `FIVELENS_SNAPSHOT_MAX_BYTES`: largest snapshot, bytes of JSON before compression (longer
/// strings are cut first, each cut marked). Default 262144.
pub const ENV_SNAPSHOT_MAX_BYTES: &str = "FIVELENS_SNAPSHOT_MAX_BYTES";
/// `FIVELENS_TAIL_TIMEOUT_MS`: a trace whose local root has not ended is decided after this.
pub const ENV_TAIL_TIMEOUT_MS: &str = "FIVELENS_TAIL_TIMEOUT_MS";
/// `OTEL_TRACES_SAMPLER`: `always_on`, `always_off`, `traceidratio`, `parentbased_*`.
pub const ENV_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
/// `OTEL_TRACES_SAMPLER_ARG`: the ratio of `traceidratio`.
pub const ENV_TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
/// `FIVELENS_REDACT`: `false` turns PII redaction of captured content off. Default `true`.
pub const ENV_REDACT: &str = "FIVELENS_REDACT";
/// `FIVELENS_REDACT_TYPES`: the built-in types to detect, comma-separated. Default all.
pub const ENV_REDACT_TYPES: &str = "FIVELENS_REDACT_TYPES";
/// `FIVELENS_REDACT_ACTIONS`: `TYPE=action` pairs, comma-separated (`*` for every other type);
/// actions `typed`, `indexed`, `hash`, `remove`. Default `typed` for all.
pub const ENV_REDACT_ACTIONS: &str = "FIVELENS_REDACT_ACTIONS";
/// `FIVELENS_REDACT_RULES`: custom detectors, a JSON array of `{"name": ..., "pattern": ...}`.
pub const ENV_REDACT_RULES: &str = "FIVELENS_REDACT_RULES";
/// `FIVELENS_REDACT_DENY`: values always redacted: a JSON array of strings (`/regex/` for
/// patterns), or one plain string per line.
pub const ENV_REDACT_DENY: &str = "FIVELENS_REDACT_DENY";
/// `FIVELENS_REDACT_ALLOW`: values never redacted, same format as `FIVELENS_REDACT_DENY`.
pub const ENV_REDACT_ALLOW: &str = "FIVELENS_REDACT_ALLOW";
/// `FIVELENS_PRICES_FILE`: a JSON price table (the format of `core/data/prices.json`) whose
/// entries add to or replace the built-in ones. Default unset.
pub const ENV_PRICES_FILE: &str = "FIVELENS_PRICES_FILE";
/// `FIVELENS_CONTEXT_ALERT_THRESHOLD`: share of a model's context window (0 to 1) past which a
/// conversation's model call gets the `fivelens.context.threshold_crossed` event. Default 0.8.
pub const ENV_CONTEXT_ALERT_THRESHOLD: &str = "FIVELENS_CONTEXT_ALERT_THRESHOLD";
/// `FIVELENS_CONTEXT_LIMITS_FILE`: a JSON table of context windows (the format of
/// `core/data/context_windows.json`) whose entries add to or replace the built-in ones.
pub const ENV_CONTEXT_LIMITS_FILE: &str = "FIVELENS_CONTEXT_LIMITS_FILE";
/// `FIVELENS_INTENT_LOW_CONFIDENCE_THRESHOLD`: a top intent score below it counts as a
/// low-confidence classification (`fivelens.intent.low_confidence`). Default 0.5.
pub const ENV_INTENT_LOW_CONFIDENCE_THRESHOLD: &str = "FIVELENS_INTENT_LOW_CONFIDENCE_THRESHOLD";
/// `FIVELENS_DRIFT_GOLDENS_FILE`: a JSON file holding the golden outputs drift is measured
/// against (read at start, rewritten when one is registered). Default unset: the local store.
pub const ENV_DRIFT_GOLDENS_FILE: &str = "FIVELENS_DRIFT_GOLDENS_FILE";
/// `FIVELENS_EVALUATION_WORKERS`: threads (Python) or concurrent evaluations (Node) of the
/// asynchronous evaluation pool. Default 2.
pub const ENV_EVALUATION_WORKERS: &str = "FIVELENS_EVALUATION_WORKERS";
/// `FIVELENS_EVALUATION_QUEUE_SIZE`: evaluations waiting for the pool beyond which new ones are
/// dropped and counted (`fivelens.evaluation.dropped`). Default 64.
pub const ENV_EVALUATION_QUEUE_SIZE: &str = "FIVELENS_EVALUATION_QUEUE_SIZE";
/// `OTEL_METRICS_EXPORTER`: comma-separated `otlp`, `prometheus`, `none`. Default `otlp` when an
/// OTLP endpoint is set, else none (the local store keeps metrics either way).
pub const ENV_METRICS_EXPORTER: &str = "OTEL_METRICS_EXPORTER";
/// `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`: full URL for metrics. Default: the base endpoint
/// with `/v1/metrics`.
pub const ENV_OTLP_METRICS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
/// `OTEL_METRIC_EXPORT_INTERVAL`: ms between OTLP metric pushes. Default 60000.
pub const ENV_METRIC_EXPORT_INTERVAL: &str = "OTEL_METRIC_EXPORT_INTERVAL";
/// `OTEL_EXPORTER_PROMETHEUS_HOST`: address of the Prometheus endpoint. Default `127.0.0.1`.
pub const ENV_PROMETHEUS_HOST: &str = "OTEL_EXPORTER_PROMETHEUS_HOST";
/// `OTEL_EXPORTER_PROMETHEUS_PORT`: port of the Prometheus endpoint; setting it turns the
/// endpoint on. Default 9464 when `OTEL_METRICS_EXPORTER` names `prometheus`.
pub const ENV_PROMETHEUS_PORT: &str = "OTEL_EXPORTER_PROMETHEUS_PORT";

/// `OTEL_LOGS_EXPORTER`: `otlp` or `none`. Default `otlp` when an OTLP endpoint is set (the
/// local store keeps log records either way).
pub const ENV_LOGS_EXPORTER: &str = "OTEL_LOGS_EXPORTER";
/// `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`: full URL for log records. Default: the base endpoint with
/// `/v1/logs`.
pub const ENV_OTLP_LOGS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT";
/// `OTEL_EXPORTER_OTLP_LOGS_PROTOCOL`: the protocol for logs. Default: the general one.
pub const ENV_OTLP_LOGS_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL";
/// `OTEL_EXPORTER_OTLP_LOGS_HEADERS`: headers for logs, over the general ones.
pub const ENV_OTLP_LOGS_HEADERS: &str = "OTEL_EXPORTER_OTLP_LOGS_HEADERS";
/// `OTEL_EXPORTER_OTLP_LOGS_TIMEOUT`: per-request timeout for logs, ms. Default: the general one.
pub const ENV_OTLP_LOGS_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT";
/// `OTEL_EXPORTER_OTLP_LOGS_COMPRESSION`: `gzip` or `none` for logs. Default: the general one.
pub const ENV_OTLP_LOGS_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION";
/// `OTEL_BLRP_MAX_QUEUE_SIZE`: log record queue capacity. Default 2048.
pub const ENV_BLRP_MAX_QUEUE_SIZE: &str = "OTEL_BLRP_MAX_QUEUE_SIZE";
/// `FIVELENS_CAPTURE_LOGS`: `false` leaves the app's own logs alone (no handler, no fields).
/// Default `true`.
pub const ENV_CAPTURE_LOGS: &str = "FIVELENS_CAPTURE_LOGS";
/// `FIVELENS_LOGS_LEVEL`: the app's records at or above this level are exported (`trace`,
/// `debug`, `info`, `warn`, `error`, `fatal`, `off`). Default `info`.
pub const ENV_LOGS_LEVEL: &str = "FIVELENS_LOGS_LEVEL";
/// `FIVELENS_LOGS_INJECT_CONTEXT`: `true` adds `trace_id`, `span_id`, `session_id` and
/// `user_hash` to structlog, pino and winston output. Default `false` (output unchanged; Python
/// `logging` records always carry them as attributes, for formats that ask).
pub const ENV_LOGS_INJECT_CONTEXT: &str = "FIVELENS_LOGS_INJECT_CONTEXT";
/// `FIVELENS_LOGS_MAX_FIELD_BYTES`: a log body or attribute longer than this is cut and marked.
/// Default 16384.
pub const ENV_LOGS_MAX_FIELD_BYTES: &str = "FIVELENS_LOGS_MAX_FIELD_BYTES";
/// `FIVELENS_LOGS_MAX_RECORD_BYTES`: a log record larger than this is cut (its longest fields
/// first). Default 65536.
pub const ENV_LOGS_MAX_RECORD_BYTES: &str = "FIVELENS_LOGS_MAX_RECORD_BYTES";
/// `FIVELENS_LOGS_TRACE_BUDGET_BYTES`: bytes of log records one trace may produce; later ones are
/// dropped and counted (0: no budget). Default 1048576.
pub const ENV_LOGS_TRACE_BUDGET_BYTES: &str = "FIVELENS_LOGS_TRACE_BUDGET_BYTES";
/// `FIVELENS_MAX_TOOL_IO_BYTES`: tool call arguments and results are cut to this, marked.
/// Default 16384.
pub const ENV_MAX_TOOL_IO_BYTES: &str = "FIVELENS_MAX_TOOL_IO_BYTES";
/// `FIVELENS_INFERENCE_EVENTS`: `true` emits the `gen_ai.client.inference.operation.details`
/// log event for every model call. Default `false`; `OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT` is
/// read when unset.
pub const ENV_INFERENCE_EVENTS: &str = "FIVELENS_INFERENCE_EVENTS";
/// `OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT`: `true`/`false`, the conventions' switch for the
/// inference details event.
pub const ENV_OTEL_EMIT_EVENT: &str = "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT";
/// `FIVELENS_AGENT_JOURNAL`: where the agent's reasoning journal goes: `events` (span events,
/// the default) or `logs` (log records tied to the span).
pub const ENV_AGENT_JOURNAL: &str = "FIVELENS_AGENT_JOURNAL";

/// `FIVELENS_TOOL_BREAKER`: the circuit breaker at the tool boundary: `observe` (default: record
/// what it would do), `enforce` (reject calls while open) or `off`.
pub const ENV_TOOL_BREAKER: &str = "FIVELENS_TOOL_BREAKER";
/// `FIVELENS_TOOL_BREAKER_ERROR_RATE`: error rate (0 to 1) that opens a breaker. Default 0.1.
pub const ENV_TOOL_BREAKER_ERROR_RATE: &str = "FIVELENS_TOOL_BREAKER_ERROR_RATE";
/// `FIVELENS_TOOL_BREAKER_MIN_CALLS`: calls in the window before the rate counts. Default 20.
pub const ENV_TOOL_BREAKER_MIN_CALLS: &str = "FIVELENS_TOOL_BREAKER_MIN_CALLS";
/// `FIVELENS_TOOL_BREAKER_WINDOW_MS`: the sliding window, ms. Default 60000.
pub const ENV_TOOL_BREAKER_WINDOW_MS: &str = "FIVELENS_TOOL_BREAKER_WINDOW_MS";
/// `FIVELENS_TOOL_BREAKER_OPEN_MS`: how long an open breaker rejects before probing, ms.
/// Default 30000.
pub const ENV_TOOL_BREAKER_OPEN_MS: &str = "FIVELENS_TOOL_BREAKER_OPEN_MS";
/// `FIVELENS_TOOL_BREAKER_HALF_OPEN_CALLS`: successful probes that close a half-open breaker.
/// Default 1.
pub const ENV_TOOL_BREAKER_HALF_OPEN_CALLS: &str = "FIVELENS_TOOL_BREAKER_HALF_OPEN_CALLS";
/// `FIVELENS_MAX_AGENT_ITERATIONS`: a model call in a later agent iteration is refused. Default
/// unset (no limit).
pub const ENV_MAX_AGENT_ITERATIONS: &str = "FIVELENS_MAX_AGENT_ITERATIONS";
/// `FIVELENS_TRACE_TOKEN_BUDGET`: tokens a trace's model calls may use. Default unset.
pub const ENV_TRACE_TOKEN_BUDGET: &str = "FIVELENS_TRACE_TOKEN_BUDGET";
/// `FIVELENS_TRACE_COST_BUDGET_USD`: US dollars a trace's model calls may cost. Default unset.
pub const ENV_TRACE_COST_BUDGET_USD: &str = "FIVELENS_TRACE_COST_BUDGET_USD";
/// `FIVELENS_SESSION_TOKEN_BUDGET`: tokens a session's model calls may use. Default unset.
pub const ENV_SESSION_TOKEN_BUDGET: &str = "FIVELENS_SESSION_TOKEN_BUDGET";
/// `FIVELENS_SESSION_COST_BUDGET_USD`: US dollars a session's model calls may cost. Default
/// unset.
pub const ENV_SESSION_COST_BUDGET_USD: &str = "FIVELENS_SESSION_COST_BUDGET_USD";

/// OTLP wire protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    /// Protobuf over HTTP POST (the default).
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
    /// JSON over HTTP POST.
    #[serde(rename = "http/json")]
    HttpJson,
    /// gRPC.
    #[serde(rename = "grpc")]
    Grpc,
}

/// Request body compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// None.
    None,
    /// gzip.
    Gzip,
}

/// Whether spans go to the local SQLite store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreMode {
    /// On when no OTLP endpoint is configured.
    Auto,
    /// Always.
    On,
    /// Never.
    Off,
}

/// The configuration. All fields are optional in every binding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `service.name`; `OTEL_SERVICE_NAME`.
    pub service_name: Option<String>,
    /// Extra resource attributes; merged over `OTEL_RESOURCE_ATTRIBUTES`.
    pub resource_attributes: BTreeMap<String, String>,
    /// No-op mode; `OTEL_SDK_DISABLED`.
    pub disabled: bool,
    /// Capture prompt and completion content (redacted); `FIVELENS_CAPTURE_CONTENT`.
    pub capture_content: bool,
    /// OTLP base endpoint; `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub otlp_endpoint: Option<String>,
    /// OTLP traces endpoint (full URL); `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`.
    pub otlp_traces_endpoint: Option<String>,
    /// OTLP protocol; `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub otlp_protocol: Protocol,
    /// Extra request headers; `OTEL_EXPORTER_OTLP_HEADERS`.
    pub otlp_headers: BTreeMap<String, String>,
    /// Per-request timeout in ms; `OTEL_EXPORTER_OTLP_TIMEOUT`.
    pub otlp_timeout_ms: u64,
    /// Body compression; `OTEL_EXPORTER_OTLP_COMPRESSION`.
    pub otlp_compression: Compression,
    /// Local store mode; `FIVELENS_STORE`.
    pub store: StoreMode,
    /// Local store file; `FIVELENS_STORE_PATH`.
    pub store_path: Option<String>,
    /// Retention by age, hours; `FIVELENS_STORE_MAX_AGE_HOURS`.
    pub store_max_age_hours: u64,
    /// Retention by size, bytes; `FIVELENS_STORE_MAX_BYTES`.
    pub store_max_bytes: u64,
    /// Span queue capacity; `OTEL_BSP_MAX_QUEUE_SIZE`.
    pub queue_size: usize,
    /// Spans per processing batch; `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`.
    pub batch_size: usize,
    /// Timer wake-up interval of the processing thread, ms; `OTEL_BSP_SCHEDULE_DELAY`.
    pub schedule_delay_ms: u64,
    /// Bound on encoded batches waiting for each network exporter, bytes.
    pub export_queue_bytes: usize,
    /// Largest request body (before compression); bigger batches are split.
    pub max_export_batch_bytes: usize,
    /// Largest attribute value, bytes; `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`.
    pub max_attribute_bytes: usize,
    /// Most attributes per span; `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`.
    pub max_attributes: usize,
    /// Most events per span; `OTEL_SPAN_EVENT_COUNT_LIMIT`.
    pub max_events: usize,
    /// Most links per span; `OTEL_SPAN_LINK_COUNT_LIMIT`.
    pub max_links: usize,
    /// Bound on the flush at process exit, ms; `FIVELENS_EXIT_TIMEOUT_MS`.
    pub exit_timeout_ms: u64,
    /// HMAC key for user ids; `FIVELENS_USER_HASH_KEY`.
    pub user_hash_key: Option<String>,
    /// Diagnostics level; `FIVELENS_LOG_LEVEL`.
    pub log_level: String,
    /// Largest content attribute (messages, instructions, tool definitions), bytes; longer ones
    /// are cut keeping the JSON valid; `FIVELENS_MAX_CONTENT_BYTES`.
    pub max_content_bytes: usize,
    /// Add OpenInference and Langfuse attributes; `FIVELENS_COMPAT`.
    pub compat: bool,
    /// A JSON price table adding to (or replacing) the built-in one; `FIVELENS_PRICES_FILE`.
    pub prices_file: Option<String>,
    /// Price entries (the price-table format), added over the file and the built-in table.
    pub prices: Vec<serde_json::Value>,
    /// Share of the context window past which a conversation raises the alert;
    /// `FIVELENS_CONTEXT_ALERT_THRESHOLD`.
    pub context_alert_threshold: f64,
    /// A JSON table of context windows over the built-in one; `FIVELENS_CONTEXT_LIMITS_FILE`.
    pub context_limits_file: Option<String>,
    /// Context-window entries (`provider`, `model`, `context_window`, optional
    /// `max_output_tokens`), added over the file and the built-in table.
    pub context_limits: Vec<serde_json::Value>,
    /// Top intent score below which a classification is low-confidence;
    /// `FIVELENS_INTENT_LOW_CONFIDENCE_THRESHOLD`.
    pub intent_low_confidence_threshold: f64,
    /// JSON file of golden outputs (else the local store); `FIVELENS_DRIFT_GOLDENS_FILE`.
    pub drift_goldens_file: Option<String>,
    /// Size of the asynchronous evaluation pool; `FIVELENS_EVALUATION_WORKERS`.
    pub evaluation_workers: usize,
    /// Evaluations queued for the pool before new ones are dropped;
    /// `FIVELENS_EVALUATION_QUEUE_SIZE`.
    pub evaluation_queue_size: usize,
    /// Metric exporters: `otlp`, `prometheus`, `none`; `OTEL_METRICS_EXPORTER`.
    pub metrics_exporter: Option<String>,
    /// OTLP metrics URL; `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`.
    pub otlp_metrics_endpoint: Option<String>,
    /// ms between OTLP metric pushes; `OTEL_METRIC_EXPORT_INTERVAL`.
    pub metric_export_interval_ms: u64,
    /// Prometheus endpoint address; `OTEL_EXPORTER_PROMETHEUS_HOST`.
    pub prometheus_host: String,
    /// Prometheus endpoint port (on when set); `OTEL_EXPORTER_PROMETHEUS_PORT`.
    pub prometheus_port: Option<u16>,
    /// Count estimated tokens in `gen_ai.client.token.usage` too (the conventions reserve it for
    /// reported counts); `FIVELENS_METRICS_INCLUDE_ESTIMATED_TOKENS`.
    pub metrics_include_estimated_tokens: bool,
    /// Sampling policies (a trace is kept when any keeps it); `FIVELENS_SAMPLING`, or
    /// `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`.
    pub sampling: Vec<String>,
    /// `tail` (decide when the trace's local root ends) or `head` (when it starts; dropped spans
    /// are not built); `FIVELENS_SAMPLING_MODE`.
    pub sampling_mode: String,
    /// What the `users` policy and the canary share hash: `user`, `session` or `trace`;
    /// `FIVELENS_SAMPLE_KEY`.
    pub sample_key: String,
    /// User ids always kept at full fidelity; `FIVELENS_CANARY_USERS`.
    pub canary_users: Vec<String>,
    /// Share of users (percent) always kept at full fidelity; `FIVELENS_CANARY_PERCENT`.
    pub canary_percent: f64,
    /// Context snapshots of kept model calls (with content capture on); `FIVELENS_SNAPSHOTS`.
    pub snapshots: bool,
    /// Share of the other kept traces whose calls get a snapshot; `FIVELENS_SNAPSHOT_RATE`.
    pub snapshot_rate: f64,
    /// Largest snapshot (JSON bytes before compression); `FIVELENS_SNAPSHOT_MAX_BYTES`.
    pub snapshot_max_bytes: usize,
    /// A trace whose local root has not ended is decided after this, ms;
    /// `FIVELENS_TAIL_TIMEOUT_MS`.
    pub tail_timeout_ms: u64,
    /// Undecided traces held at most.
    pub tail_max_traces: usize,
    /// Spans of undecided traces held at most.
    pub tail_max_spans: usize,
    /// Bytes of undecided traces held at most (estimated).
    pub tail_max_bytes: usize,
    /// Redact PII in captured content before it leaves the process; `FIVELENS_REDACT`.
    pub redact: bool,
    /// Built-in PII types to detect (all by default); `FIVELENS_REDACT_TYPES`.
    pub redact_types: Vec<String>,
    /// Action per type (`typed`, `indexed`, `hash`, `remove`; `*` for the rest);
    /// `FIVELENS_REDACT_ACTIONS`.
    pub redact_actions: BTreeMap<String, crate::redact::Action>,
    /// Custom detectors (`name`, `pattern`); `FIVELENS_REDACT_RULES`.
    pub redact_rules: Vec<crate::redact::Rule>,
    /// Values always redacted (exact, or `/regex/`); `FIVELENS_REDACT_DENY`.
    pub redact_deny: Vec<String>,
    /// Values never redacted (exact, or `/regex/` matching the whole value);
    /// `FIVELENS_REDACT_ALLOW`.
    pub redact_allow: Vec<String>,
    /// Record agent-framework chain and node inputs and outputs; `FIVELENS_CAPTURE_CHAIN_IO`.
    pub capture_chain_io: bool,
    /// Leave out agent-framework chain runs that are plumbing; `FIVELENS_COLLAPSE_CHAINS`.
    pub collapse_chains: bool,
    /// Integrations to enable (names); all importable ones when unset. Read by the bindings.
    pub integrations: Option<Vec<String>>,
    /// Attach to the app's own logging (Python `logging` and structlog, Node `console`, pino
    /// and winston); `FIVELENS_CAPTURE_LOGS`.
    pub capture_logs: bool,
    /// The app's records at or above this level are exported; `FIVELENS_LOGS_LEVEL`.
    pub logs_level: String,
    /// Add the correlation fields to structlog, pino and winston output;
    /// `FIVELENS_LOGS_INJECT_CONTEXT`.
    pub logs_inject_context: bool,
    /// Log exporters: `otlp`, `none`; `OTEL_LOGS_EXPORTER`.
    pub logs_exporter: Option<String>,
    /// OTLP logs URL; `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`.
    pub otlp_logs_endpoint: Option<String>,
    /// Protocol for logs (the general one when unset); `OTEL_EXPORTER_OTLP_LOGS_PROTOCOL`.
    pub otlp_logs_protocol: Option<Protocol>,
    /// Headers for logs, over the general ones; `OTEL_EXPORTER_OTLP_LOGS_HEADERS`.
    pub otlp_logs_headers: BTreeMap<String, String>,
    /// Per-request timeout for logs, ms; `OTEL_EXPORTER_OTLP_LOGS_TIMEOUT`.
    pub otlp_logs_timeout_ms: Option<u64>,
    /// Compression for logs; `OTEL_EXPORTER_OTLP_LOGS_COMPRESSION`.
    pub otlp_logs_compression: Option<Compression>,
    /// Log record queue capacity; `OTEL_BLRP_MAX_QUEUE_SIZE`.
    pub logs_queue_size: usize,
    /// Largest log body or attribute, bytes (cut and marked past it);
    /// `FIVELENS_LOGS_MAX_FIELD_BYTES`.
    pub logs_max_field_bytes: usize,
    /// Largest log record, bytes; `FIVELENS_LOGS_MAX_RECORD_BYTES`.
    pub logs_max_record_bytes: usize,
    /// Bytes of log records one trace may produce (0: no budget);
    /// `FIVELENS_LOGS_TRACE_BUDGET_BYTES`.
    pub logs_trace_budget_bytes: usize,
    /// Tool call arguments and results are cut to this, bytes; `FIVELENS_MAX_TOOL_IO_BYTES`.
    pub max_tool_io_bytes: usize,
    /// Emit the `gen_ai.client.inference.operation.details` log event for model calls;
    /// `FIVELENS_INFERENCE_EVENTS`, `OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT`.
    pub inference_events: bool,
    /// Where the reasoning journal goes: `events` or `logs`; `FIVELENS_AGENT_JOURNAL`.
    pub agent_journal: String,
    /// The circuit breaker at the tool boundary: `observe`, `enforce` or `off`;
    /// `FIVELENS_TOOL_BREAKER`.
    pub tool_breaker: String,
    /// Error rate (0 to 1) that opens a tool's breaker; `FIVELENS_TOOL_BREAKER_ERROR_RATE`.
    pub tool_breaker_error_rate: f64,
    /// Calls in the window before the rate counts; `FIVELENS_TOOL_BREAKER_MIN_CALLS`.
    pub tool_breaker_min_calls: u64,
    /// The breakers' sliding window, ms; `FIVELENS_TOOL_BREAKER_WINDOW_MS`.
    pub tool_breaker_window_ms: u64,
    /// How long an open breaker rejects calls before a probe, ms;
    /// `FIVELENS_TOOL_BREAKER_OPEN_MS`.
    pub tool_breaker_open_ms: u64,
    /// Successful probes that close a half-open breaker; `FIVELENS_TOOL_BREAKER_HALF_OPEN_CALLS`.
    pub tool_breaker_half_open_calls: u64,
    /// Most agent iterations before model calls are refused; `FIVELENS_MAX_AGENT_ITERATIONS`.
    pub max_agent_iterations: Option<u64>,
    /// Tokens a trace's model calls may use; `FIVELENS_TRACE_TOKEN_BUDGET`.
    pub trace_token_budget: Option<u64>,
    /// US dollars a trace's model calls may cost; `FIVELENS_TRACE_COST_BUDGET_USD`.
    pub trace_cost_budget_usd: Option<f64>,
    /// Tokens a session's model calls may use; `FIVELENS_SESSION_TOKEN_BUDGET`.
    pub session_token_budget: Option<u64>,
    /// US dollars a session's model calls may cost; `FIVELENS_SESSION_COST_BUDGET_USD`.
    pub session_cost_budget_usd: Option<f64>,
    /// Keep finished spans in memory for `finished_spans()` (tests of integrations).
    pub testing: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            service_name: None,
            resource_attributes: BTreeMap::new(),
            disabled: false,
            capture_content: true,
            otlp_endpoint: None,
            otlp_traces_endpoint: None,
            otlp_protocol: Protocol::HttpProtobuf,
            otlp_headers: BTreeMap::new(),
            otlp_timeout_ms: 10_000,
            otlp_compression: Compression::None,
            store: StoreMode::Auto,
            store_path: None,
            store_max_age_hours: 168,
            store_max_bytes: 512 * 1024 * 1024,
            queue_size: 8192,
            batch_size: 512,
            schedule_delay_ms: 500,
            export_queue_bytes: 32 * 1024 * 1024,
            max_export_batch_bytes: 4 * 1024 * 1024,
            max_attribute_bytes: 128 * 1024,
            max_attributes: 128,
            max_events: 128,
            max_links: 128,
            exit_timeout_ms: 2000,
            user_hash_key: None,
            log_level: "warn".to_string(),
            max_content_bytes: 64 * 1024,
            compat: false,
            prices_file: None,
            prices: Vec::new(),
            context_alert_threshold: crate::context_window::DEFAULT_ALERT_THRESHOLD,
            context_limits_file: None,
            context_limits: Vec::new(),
            intent_low_confidence_threshold:
                crate::behaviour::DEFAULT_INTENT_LOW_CONFIDENCE_THRESHOLD,
            drift_goldens_file: None,
            evaluation_workers: crate::behaviour::DEFAULT_EVALUATION_WORKERS,
            evaluation_queue_size: crate::behaviour::DEFAULT_EVALUATION_QUEUE_SIZE,
            metrics_exporter: None,
            otlp_metrics_endpoint: None,
            metric_export_interval_ms: 60_000,
            prometheus_host: "127.0.0.1".to_string(),
            prometheus_port: None,
            metrics_include_estimated_tokens: false,
            sampling: crate::sampling::DEFAULT_POLICIES
                .iter()
                .map(|p| p.to_string())
                .collect(),
            sampling_mode: "tail".to_string(),
            sample_key: "user".to_string(),
            canary_users: Vec::new(),
            canary_percent: 0.0,
            snapshots: true,
            snapshot_rate: 0.01,
            snapshot_max_bytes: 256 * 1024,
            tail_timeout_ms: 120_000,
            tail_max_traces: 20_000,
            tail_max_spans: 200_000,
            tail_max_bytes: 128 * 1024 * 1024,
            redact: true,
            redact_types: crate::redact::BUILTIN_TYPES
                .iter()
                .map(|t| t.to_string())
                .collect(),
            redact_actions: BTreeMap::new(),
            redact_rules: Vec::new(),
            redact_deny: Vec::new(),
            redact_allow: Vec::new(),
            capture_chain_io: false,
            collapse_chains: false,
            integrations: None,
            capture_logs: true,
            logs_level: "info".to_string(),
            logs_inject_context: false,
            logs_exporter: None,
            otlp_logs_endpoint: None,
            otlp_logs_protocol: None,
            otlp_logs_headers: BTreeMap::new(),
            otlp_logs_timeout_ms: None,
            otlp_logs_compression: None,
            logs_queue_size: 2048,
            logs_max_field_bytes: 16 * 1024,
            logs_max_record_bytes: 64 * 1024,
            logs_trace_budget_bytes: 1024 * 1024,
            max_tool_io_bytes: 16 * 1024,
            inference_events: false,
            agent_journal: "events".to_string(),
            tool_breaker: "observe".to_string(),
            tool_breaker_error_rate: 0.1,
            tool_breaker_min_calls: 20,
            tool_breaker_window_ms: 60_000,
            tool_breaker_open_ms: 30_000,
            tool_breaker_half_open_calls: 1,
            max_agent_iterations: None,
            trace_token_budget: None,
            trace_cost_budget_usd: None,
            session_token_budget: None,
            session_cost_budget_usd: None,
            testing: false,
        }
    }
}

/// A configuration error, naming the field or environment variable at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("fivelens config: `{field}`: {message}")]
pub struct ConfigError {
    /// The option (or environment variable) at fault.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    fn new(field: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// The defaults as JSON, for the bindings' parity tests.
pub fn default_config_json() -> serde_json::Value {
    serde_json::to_value(Config::default()).unwrap_or(serde_json::Value::Null)
}

/// The names of every option, in schema order.
pub fn field_names() -> Vec<String> {
    match default_config_json() {
        serde_json::Value::Object(map) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

impl Config {
    /// Builds the configuration from explicit options (a JSON object; `null` fields are ignored)
    /// over the environment (read through `env`) over the defaults, and validates it.
    pub fn resolve(
        options: &serde_json::Value,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        config.apply_env(env)?;
        let options = match options {
            serde_json::Value::Null => serde_json::Value::Object(Default::default()),
            serde_json::Value::Object(map) => {
                // Explicit `None`/`null`/`undefined` means "not given".
                serde_json::Value::Object(
                    map.iter()
                        .filter(|(_, v)| !v.is_null())
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                )
            }
            _ => {
                return Err(ConfigError::new(
                    "config",
                    "must be a mapping of option names to values",
                ))
            }
        };
        let serde_json::Value::Object(explicit) = &options else {
            return Err(ConfigError::new("config", "must be a mapping"));
        };
        let known = field_names();
        for key in explicit.keys() {
            if !known.iter().any(|k| k == key) {
                let hint = closest(key, &known)
                    .map(|k| format!(" (did you mean `{k}`?)"))
                    .unwrap_or_default();
                return Err(ConfigError::new(key, format!("unknown option{hint}")));
            }
        }
        // Overlay explicit values on the env-derived config, one field at a time so that a type
        // error names its field.
        let mut merged = match serde_json::to_value(&config) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => {
                return Err(ConfigError::new(
                    "config",
                    "internal: cannot serialise defaults",
                ))
            }
        };
        for (k, v) in explicit {
            let v = normalise_option(k, v.clone());
            let mut probe = merged.clone();
            probe.insert(k.clone(), v.clone());
            if let Err(e) = serde_json::from_value::<Config>(serde_json::Value::Object(probe)) {
                return Err(ConfigError::new(k, describe_serde_error(&e.to_string())));
            }
            merged.insert(k.clone(), v);
        }
        let config: Config = serde_json::from_value(serde_json::Value::Object(merged))
            .map_err(|e| ConfigError::new("config", e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// [`Config::resolve`] over the process environment.
    pub fn from_options(options: &serde_json::Value) -> Result<Config, ConfigError> {
        Config::resolve(options, &|name| std::env::var(name).ok())
    }

    fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let get = |name: &str| {
            env(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        if let Some(v) = get(ENV_SDK_DISABLED) {
            self.disabled = parse_bool(ENV_SDK_DISABLED, &v)?;
        }
        if let Some(v) = get(ENV_SERVICE_NAME) {
            self.service_name = Some(v);
        }
        if let Some(v) = get(ENV_RESOURCE_ATTRIBUTES) {
            self.resource_attributes = parse_key_values(ENV_RESOURCE_ATTRIBUTES, &v)?;
        }
        self.otlp_endpoint = get(ENV_OTLP_ENDPOINT);
        self.otlp_traces_endpoint = get(ENV_OTLP_TRACES_ENDPOINT);
        if let Some((name, v)) = first(&get, &[ENV_OTLP_TRACES_PROTOCOL, ENV_OTLP_PROTOCOL]) {
            self.otlp_protocol = parse_protocol(name, &v)?;
        }
        if let Some(v) = get(ENV_OTLP_HEADERS) {
            self.otlp_headers = parse_key_values(ENV_OTLP_HEADERS, &v)?;
        }
        if let Some(v) = get(ENV_OTLP_TRACES_HEADERS) {
            self.otlp_headers
                .extend(parse_key_values(ENV_OTLP_TRACES_HEADERS, &v)?);
        }
        if let Some((name, v)) = first(&get, &[ENV_OTLP_TRACES_TIMEOUT, ENV_OTLP_TIMEOUT]) {
            self.otlp_timeout_ms = parse_num(name, &v)?;
        }
        if let Some((name, v)) = first(&get, &[ENV_OTLP_TRACES_COMPRESSION, ENV_OTLP_COMPRESSION]) {
            self.otlp_compression = parse_compression(name, &v)?;
        }
        if let Some(v) = get(ENV_BSP_MAX_QUEUE_SIZE) {
            self.queue_size = parse_num(ENV_BSP_MAX_QUEUE_SIZE, &v)?;
        }
        if let Some(v) = get(ENV_BSP_MAX_EXPORT_BATCH_SIZE) {
            self.batch_size = parse_num(ENV_BSP_MAX_EXPORT_BATCH_SIZE, &v)?;
        }
        if let Some(v) = get(ENV_BSP_SCHEDULE_DELAY) {
            self.schedule_delay_ms = parse_num(ENV_BSP_SCHEDULE_DELAY, &v)?;
        }
        if let Some(v) = get(ENV_ATTRIBUTE_VALUE_LENGTH_LIMIT) {
            self.max_attribute_bytes = parse_num(ENV_ATTRIBUTE_VALUE_LENGTH_LIMIT, &v)?;
        }
        if let Some(v) = get(ENV_SPAN_ATTRIBUTE_COUNT_LIMIT) {
            self.max_attributes = parse_num(ENV_SPAN_ATTRIBUTE_COUNT_LIMIT, &v)?;
        }
        if let Some(v) = get(ENV_SPAN_EVENT_COUNT_LIMIT) {
            self.max_events = parse_num(ENV_SPAN_EVENT_COUNT_LIMIT, &v)?;
        }
        if let Some(v) = get(ENV_SPAN_LINK_COUNT_LIMIT) {
            self.max_links = parse_num(ENV_SPAN_LINK_COUNT_LIMIT, &v)?;
        }
        if let Some(v) = get(ENV_CAPTURE_CONTENT) {
            self.capture_content = parse_bool(ENV_CAPTURE_CONTENT, &v)?;
        } else if let Some(v) = get(ENV_OTEL_CAPTURE_CONTENT) {
            self.capture_content = match v.to_ascii_uppercase().as_str() {
                "TRUE" | "SPAN_ONLY" | "SPAN_AND_EVENT" => true,
                "FALSE" | "NO_CONTENT" | "EVENT_ONLY" => false,
                _ => {
                    return Err(ConfigError::new(
                        ENV_OTEL_CAPTURE_CONTENT,
                        format!("expected true, false, NO_CONTENT, SPAN_ONLY, EVENT_ONLY or SPAN_AND_EVENT, got {v:?}"),
                    ))
                }
            };
        }
        if let Some(v) = get(ENV_MAX_CONTENT_BYTES) {
            self.max_content_bytes = parse_num(ENV_MAX_CONTENT_BYTES, &v)?;
        }
        if let Some(v) = get(ENV_COMPAT) {
            self.compat = parse_bool(ENV_COMPAT, &v)?;
        }
        if let Some(v) = get(ENV_METRICS_INCLUDE_ESTIMATED_TOKENS) {
            self.metrics_include_estimated_tokens =
                parse_bool(ENV_METRICS_INCLUDE_ESTIMATED_TOKENS, &v)?;
        }
        if let Some(v) = get(ENV_SAMPLING) {
            self.sampling = v
                .split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect();
        } else if let Some(v) = get(ENV_TRACES_SAMPLER) {
            let arg = get(ENV_TRACES_SAMPLER_ARG);
            let ratio = |arg: Option<String>| -> Result<f64, ConfigError> {
                match arg {
                    None => Ok(1.0),
                    Some(a) => a
                        .parse::<f64>()
                        .ok()
                        .filter(|r| (0.0..=1.0).contains(r))
                        .ok_or_else(|| {
                            ConfigError::new(
                                ENV_TRACES_SAMPLER_ARG,
                                format!("expected a ratio between 0 and 1, got {a:?}"),
                            )
                        }),
                }
            };
            self.sampling = match v.to_ascii_lowercase().as_str() {
                "always_on" | "parentbased_always_on" => self.sampling.clone(),
                "always_off" | "parentbased_always_off" => crate::sampling::policies_for_ratio(0.0),
                "traceidratio" | "parentbased_traceidratio" => {
                    crate::sampling::policies_for_ratio(ratio(arg)?)
                }
                other => {
                    return Err(ConfigError::new(
                        ENV_TRACES_SAMPLER,
                        format!("{other:?} is not supported (always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio)"),
                    ))
                }
            };
        }
        if let Some(v) = get(ENV_SAMPLING_MODE) {
            self.sampling_mode = v.to_ascii_lowercase();
        }
        if let Some(v) = get(ENV_SAMPLE_KEY) {
            self.sample_key = v.to_ascii_lowercase();
        }
        if let Some(v) = get(ENV_CANARY_USERS) {
            self.canary_users = v
                .split(',')
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty())
                .collect();
        }
        if let Some(v) = get(ENV_CANARY_PERCENT) {
            self.canary_percent = v.parse().map_err(|_| {
                ConfigError::new(ENV_CANARY_PERCENT, format!("expected a number, got {v:?}"))
            })?;
        }
        if let Some(v) = get(ENV_SNAPSHOTS) {
            self.snapshots = parse_bool(ENV_SNAPSHOTS, &v)?;
        }
        if let Some(v) = get(ENV_SNAPSHOT_RATE) {
            self.snapshot_rate = parse_num(ENV_SNAPSHOT_RATE, &v)?;
        }
        if let Some(v) = get(ENV_SNAPSHOT_MAX_BYTES) {
            self.snapshot_max_bytes = parse_num(ENV_SNAPSHOT_MAX_BYTES, &v)?;
        }
        if let Some(v) = get(ENV_TAIL_TIMEOUT_MS) {
            self.tail_timeout_ms = parse_num(ENV_TAIL_TIMEOUT_MS, &v)?;
        }
        if let Some(v) = get(ENV_REDACT) {
            self.redact = parse_bool(ENV_REDACT, &v)?;
        }
        if let Some(v) = get(ENV_REDACT_TYPES) {
            self.redact_types = v
                .split(',')
                .map(|t| t.trim().to_ascii_uppercase())
                .filter(|t| !t.is_empty())
                .collect();
        }
        if let Some(v) = get(ENV_REDACT_ACTIONS) {
            self.redact_actions = BTreeMap::new();
            for pair in v.split(',').filter(|p| !p.trim().is_empty()) {
                let Some((t, a)) = pair.split_once('=') else {
                    return Err(ConfigError::new(
                        ENV_REDACT_ACTIONS,
                        format!("expected TYPE=action pairs, got {pair:?}"),
                    ));
                };
                let action = crate::redact::Action::parse(a).ok_or_else(|| {
                    ConfigError::new(
                        ENV_REDACT_ACTIONS,
                        format!("{a:?} is not an action (typed, indexed, hash, remove)"),
                    )
                })?;
                self.redact_actions
                    .insert(t.trim().to_ascii_uppercase(), action);
            }
        }
        if let Some(v) = get(ENV_REDACT_RULES) {
            self.redact_rules = serde_json::from_str(&v).map_err(|e| {
                ConfigError::new(
                    ENV_REDACT_RULES,
                    format!("expected a JSON array of {{\"name\", \"pattern\"}} objects: {e}"),
                )
            })?;
        }
        if let Some(v) = get(ENV_REDACT_DENY) {
            self.redact_deny = parse_list(ENV_REDACT_DENY, &v)?;
        }
        if let Some(v) = get(ENV_REDACT_ALLOW) {
            self.redact_allow = parse_list(ENV_REDACT_ALLOW, &v)?;
        }
        if let Some(v) = get(ENV_CAPTURE_CHAIN_IO) {
            self.capture_chain_io = parse_bool(ENV_CAPTURE_CHAIN_IO, &v)?;
        }
        if let Some(v) = get(ENV_COLLAPSE_CHAINS) {
            self.collapse_chains = parse_bool(ENV_COLLAPSE_CHAINS, &v)?;
        }
        if let Some(v) = get(ENV_PRICES_FILE) {
            self.prices_file = Some(v);
        }
        if let Some(v) = get(ENV_CONTEXT_ALERT_THRESHOLD) {
            self.context_alert_threshold = v.parse().map_err(|_| {
                ConfigError::new(
                    ENV_CONTEXT_ALERT_THRESHOLD,
                    format!("expected a number between 0 and 1, got {v:?}"),
                )
            })?;
        }
        if let Some(v) = get(ENV_INTENT_LOW_CONFIDENCE_THRESHOLD) {
            self.intent_low_confidence_threshold = v.parse().map_err(|_| {
                ConfigError::new(
                    ENV_INTENT_LOW_CONFIDENCE_THRESHOLD,
                    format!("expected a number between 0 and 1, got {v:?}"),
                )
            })?;
        }
        if let Some(v) = get(ENV_DRIFT_GOLDENS_FILE) {
            self.drift_goldens_file = Some(v);
        }
        if let Some(v) = get(ENV_EVALUATION_WORKERS) {
            self.evaluation_workers = parse_num(ENV_EVALUATION_WORKERS, &v)?;
        }
        if let Some(v) = get(ENV_EVALUATION_QUEUE_SIZE) {
            self.evaluation_queue_size = parse_num(ENV_EVALUATION_QUEUE_SIZE, &v)?;
        }
        if let Some(v) = get(ENV_CONTEXT_LIMITS_FILE) {
            self.context_limits_file = Some(v);
        }
        if let Some(v) = get(ENV_METRICS_EXPORTER) {
            self.metrics_exporter = Some(v.to_ascii_lowercase());
        }
        self.otlp_metrics_endpoint = get(ENV_OTLP_METRICS_ENDPOINT);
        if let Some(v) = get(ENV_METRIC_EXPORT_INTERVAL) {
            self.metric_export_interval_ms = parse_num(ENV_METRIC_EXPORT_INTERVAL, &v)?;
        }
        if let Some(v) = get(ENV_PROMETHEUS_HOST) {
            self.prometheus_host = v;
        }
        if let Some(v) = get(ENV_PROMETHEUS_PORT) {
            self.prometheus_port = Some(parse_num(ENV_PROMETHEUS_PORT, &v)?);
        }
        if let Some(v) = get(ENV_STORE) {
            self.store = parse_store_mode(ENV_STORE, &v)?;
        }
        if let Some(v) = get(ENV_STORE_PATH) {
            self.store_path = Some(v);
        }
        if let Some(v) = get(ENV_STORE_MAX_AGE_HOURS) {
            self.store_max_age_hours = parse_num(ENV_STORE_MAX_AGE_HOURS, &v)?;
        }
        if let Some(v) = get(ENV_STORE_MAX_BYTES) {
            self.store_max_bytes = parse_num(ENV_STORE_MAX_BYTES, &v)?;
        }
        if let Some(v) = get(ENV_USER_HASH_KEY) {
            self.user_hash_key = Some(v);
        }
        if let Some(v) = get(ENV_LOG_LEVEL) {
            self.log_level = v.to_ascii_lowercase();
        }
        if let Some(v) = get(ENV_EXIT_TIMEOUT_MS) {
            self.exit_timeout_ms = parse_num(ENV_EXIT_TIMEOUT_MS, &v)?;
        }
        self.apply_logs_env(&get)?;
        Ok(())
    }

    fn apply_logs_env(&mut self, get: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = get(ENV_LOGS_EXPORTER) {
            self.logs_exporter = Some(v.to_ascii_lowercase());
        }
        self.otlp_logs_endpoint = get(ENV_OTLP_LOGS_ENDPOINT);
        if let Some(v) = get(ENV_OTLP_LOGS_PROTOCOL) {
            self.otlp_logs_protocol = Some(parse_protocol(ENV_OTLP_LOGS_PROTOCOL, &v)?);
        }
        if let Some(v) = get(ENV_OTLP_LOGS_HEADERS) {
            self.otlp_logs_headers = parse_key_values(ENV_OTLP_LOGS_HEADERS, &v)?;
        }
        if let Some(v) = get(ENV_OTLP_LOGS_TIMEOUT) {
            self.otlp_logs_timeout_ms = Some(parse_num(ENV_OTLP_LOGS_TIMEOUT, &v)?);
        }
        if let Some(v) = get(ENV_OTLP_LOGS_COMPRESSION) {
            self.otlp_logs_compression = Some(parse_compression(ENV_OTLP_LOGS_COMPRESSION, &v)?);
        }
        if let Some(v) = get(ENV_BLRP_MAX_QUEUE_SIZE) {
            self.logs_queue_size = parse_num(ENV_BLRP_MAX_QUEUE_SIZE, &v)?;
        }
        if let Some(v) = get(ENV_CAPTURE_LOGS) {
            self.capture_logs = parse_bool(ENV_CAPTURE_LOGS, &v)?;
        }
        if let Some(v) = get(ENV_LOGS_LEVEL) {
            if crate::logs::parse_level(&v).is_none() {
                return Err(ConfigError::new(
                    ENV_LOGS_LEVEL,
                    format!("expected trace, debug, info, warn, error, fatal or off, got {v:?}"),
                ));
            }
            self.logs_level = v.to_ascii_lowercase();
        }
        if let Some(v) = get(ENV_LOGS_INJECT_CONTEXT) {
            self.logs_inject_context = parse_bool(ENV_LOGS_INJECT_CONTEXT, &v)?;
        }
        if let Some(v) = get(ENV_LOGS_MAX_FIELD_BYTES) {
            self.logs_max_field_bytes = parse_num(ENV_LOGS_MAX_FIELD_BYTES, &v)?;
        }
        if let Some(v) = get(ENV_LOGS_MAX_RECORD_BYTES) {
            self.logs_max_record_bytes = parse_num(ENV_LOGS_MAX_RECORD_BYTES, &v)?;
        }
        if let Some(v) = get(ENV_LOGS_TRACE_BUDGET_BYTES) {
            self.logs_trace_budget_bytes = parse_num(ENV_LOGS_TRACE_BUDGET_BYTES, &v)?;
        }
        if let Some(v) = get(ENV_MAX_TOOL_IO_BYTES) {
            self.max_tool_io_bytes = parse_num(ENV_MAX_TOOL_IO_BYTES, &v)?;
        }
        if let Some(v) = get(ENV_INFERENCE_EVENTS) {
            self.inference_events = parse_bool(ENV_INFERENCE_EVENTS, &v)?;
        } else if let Some(v) = get(ENV_OTEL_EMIT_EVENT) {
            self.inference_events = parse_bool(ENV_OTEL_EMIT_EVENT, &v)?;
        } else if let Some(v) = get(ENV_OTEL_CAPTURE_CONTENT) {
            // The conventions' default: the event is on when content is asked for on events.
            self.inference_events = matches!(
                v.to_ascii_uppercase().as_str(),
                "EVENT_ONLY" | "SPAN_AND_EVENT"
            );
        }
        if let Some(v) = get(ENV_AGENT_JOURNAL) {
            self.agent_journal = v.to_ascii_lowercase();
        }
        self.apply_tools_env(get)
    }

    fn apply_tools_env(&mut self, get: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let float = |name: &str, v: &str| -> Result<f64, ConfigError> {
            v.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or_else(|| ConfigError::new(name, format!("expected a number, got {v:?}")))
        };
        if let Some(v) = get(ENV_TOOL_BREAKER) {
            self.tool_breaker = v.to_ascii_lowercase();
        }
        if let Some(v) = get(ENV_TOOL_BREAKER_ERROR_RATE) {
            self.tool_breaker_error_rate = float(ENV_TOOL_BREAKER_ERROR_RATE, &v)?;
        }
        if let Some(v) = get(ENV_TOOL_BREAKER_MIN_CALLS) {
            self.tool_breaker_min_calls = parse_num(ENV_TOOL_BREAKER_MIN_CALLS, &v)?;
        }
        if let Some(v) = get(ENV_TOOL_BREAKER_WINDOW_MS) {
            self.tool_breaker_window_ms = parse_num(ENV_TOOL_BREAKER_WINDOW_MS, &v)?;
        }
        if let Some(v) = get(ENV_TOOL_BREAKER_OPEN_MS) {
            self.tool_breaker_open_ms = parse_num(ENV_TOOL_BREAKER_OPEN_MS, &v)?;
        }
        if let Some(v) = get(ENV_TOOL_BREAKER_HALF_OPEN_CALLS) {
            self.tool_breaker_half_open_calls = parse_num(ENV_TOOL_BREAKER_HALF_OPEN_CALLS, &v)?;
        }
        if let Some(v) = get(ENV_MAX_AGENT_ITERATIONS) {
            self.max_agent_iterations = Some(parse_num(ENV_MAX_AGENT_ITERATIONS, &v)?);
        }
        if let Some(v) = get(ENV_TRACE_TOKEN_BUDGET) {
            self.trace_token_budget = Some(parse_num(ENV_TRACE_TOKEN_BUDGET, &v)?);
        }
        if let Some(v) = get(ENV_TRACE_COST_BUDGET_USD) {
            self.trace_cost_budget_usd = Some(float(ENV_TRACE_COST_BUDGET_USD, &v)?);
        }
        if let Some(v) = get(ENV_SESSION_TOKEN_BUDGET) {
            self.session_token_budget = Some(parse_num(ENV_SESSION_TOKEN_BUDGET, &v)?);
        }
        if let Some(v) = get(ENV_SESSION_COST_BUDGET_USD) {
            self.session_cost_budget_usd = Some(float(ENV_SESSION_COST_BUDGET_USD, &v)?);
        }
        Ok(())
    }

    /// Checks values that types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.queue_size == 0 {
            return Err(ConfigError::new("queue_size", "must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(ConfigError::new("batch_size", "must be at least 1"));
        }
        if self.schedule_delay_ms == 0 {
            return Err(ConfigError::new("schedule_delay_ms", "must be at least 1"));
        }
        if self.max_export_batch_bytes < 1024 {
            return Err(ConfigError::new(
                "max_export_batch_bytes",
                "must be at least 1024",
            ));
        }
        if self.max_attribute_bytes == 0 {
            return Err(ConfigError::new(
                "max_attribute_bytes",
                "must be at least 1",
            ));
        }
        if self.otlp_timeout_ms == 0 {
            return Err(ConfigError::new("otlp_timeout_ms", "must be at least 1"));
        }
        for (field, url) in [
            ("otlp_endpoint", &self.otlp_endpoint),
            ("otlp_traces_endpoint", &self.otlp_traces_endpoint),
        ] {
            if let Some(url) = url {
                check_url(field, url)?;
            }
        }
        if !matches!(
            self.log_level.as_str(),
            "off" | "error" | "warn" | "info" | "debug"
        ) {
            return Err(ConfigError::new(
                "log_level",
                "must be one of off, error, warn, info, debug",
            ));
        }
        crate::sampling::Policies::parse(&self.sampling)
            .map_err(|e| ConfigError::new("sampling", e))?;
        if !matches!(self.sampling_mode.as_str(), "tail" | "head") {
            return Err(ConfigError::new("sampling_mode", "must be tail or head"));
        }
        if crate::sampling::SampleKey::parse(&self.sample_key).is_none() {
            return Err(ConfigError::new(
                "sample_key",
                "must be user, session or trace",
            ));
        }
        if !(0.0..=100.0).contains(&self.canary_percent) {
            return Err(ConfigError::new(
                "canary_percent",
                "must be between 0 and 100",
            ));
        }
        if !(0.0..=1.0).contains(&self.snapshot_rate) {
            return Err(ConfigError::new("snapshot_rate", "must be between 0 and 1"));
        }
        if self.snapshot_max_bytes < 1024 {
            return Err(ConfigError::new(
                "snapshot_max_bytes",
                "must be at least 1024",
            ));
        }
        if self.redact {
            crate::redact::Redactor::check(&self.redaction())
                .map_err(|e| ConfigError::new(e.field, e.message))?;
        }
        if let Some(k) = &self.user_hash_key {
            if k.len() < 8 {
                return Err(ConfigError::new(
                    "user_hash_key",
                    "must be at least 8 characters",
                ));
            }
        }
        for (k, v) in &self.otlp_headers {
            if k.is_empty() || !k.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                return Err(ConfigError::new(
                    "otlp_headers",
                    format!("invalid header name {k:?}"),
                ));
            }
            if v.bytes().any(|b| b == b'\r' || b == b'\n') {
                return Err(ConfigError::new(
                    "otlp_headers",
                    format!("invalid value for header {k:?}"),
                ));
            }
        }
        // Prices: a file that cannot be read or parsed, or an entry without its rates, is an
        // error here rather than calls silently left without a cost.
        let mut table = crate::pricing::PriceTable::default();
        if let Some(path) = &self.prices_file {
            table
                .merge_file(std::path::Path::new(path))
                .map_err(|e| ConfigError::new("prices_file", e))?;
        }
        if !self.prices.is_empty() {
            table
                .merge_json(&serde_json::json!({ "models": self.prices }).to_string())
                .map_err(|e| {
                    ConfigError::new(
                        "prices",
                        format!("{e} (each entry: provider, model, input, output, optional cache_read, cache_write, reasoning; USD per million tokens)"),
                    )
                })?;
        }
        if !(self.context_alert_threshold > 0.0 && self.context_alert_threshold <= 1.0) {
            return Err(ConfigError::new(
                "context_alert_threshold",
                "must be above 0 and at most 1 (0.8 is 80%)",
            ));
        }
        self.context_limit_table()?;
        if !(0.0..=1.0).contains(&self.intent_low_confidence_threshold) {
            return Err(ConfigError::new(
                "intent_low_confidence_threshold",
                "must be between 0 and 1",
            ));
        }
        if self.evaluation_workers == 0 || self.evaluation_workers > 256 {
            return Err(ConfigError::new(
                "evaluation_workers",
                "must be between 1 and 256",
            ));
        }
        if crate::logs::parse_level(&self.logs_level).is_none() {
            return Err(ConfigError::new(
                "logs_level",
                "must be one of trace, debug, info, warn, error, fatal, off",
            ));
        }
        if !matches!(self.agent_journal.as_str(), "events" | "logs") {
            return Err(ConfigError::new("agent_journal", "must be events or logs"));
        }
        if self.logs_queue_size == 0 {
            return Err(ConfigError::new("logs_queue_size", "must be at least 1"));
        }
        for (field, v) in [
            ("logs_max_field_bytes", self.logs_max_field_bytes),
            ("logs_max_record_bytes", self.logs_max_record_bytes),
            ("max_tool_io_bytes", self.max_tool_io_bytes),
        ] {
            if v < 256 {
                return Err(ConfigError::new(field, "must be at least 256"));
            }
        }
        if let Some(url) = &self.otlp_logs_endpoint {
            check_url("otlp_logs_endpoint", url)?;
        }
        if crate::tools::Mode::parse(&self.tool_breaker).is_none() {
            return Err(ConfigError::new(
                "tool_breaker",
                "must be observe, enforce or off",
            ));
        }
        if !(self.tool_breaker_error_rate > 0.0 && self.tool_breaker_error_rate <= 1.0) {
            return Err(ConfigError::new(
                "tool_breaker_error_rate",
                "must be above 0 and at most 1 (0.1 is 10%)",
            ));
        }
        for (field, v) in [
            ("tool_breaker_min_calls", self.tool_breaker_min_calls),
            ("tool_breaker_window_ms", self.tool_breaker_window_ms),
            (
                "tool_breaker_half_open_calls",
                self.tool_breaker_half_open_calls,
            ),
        ] {
            if v == 0 {
                return Err(ConfigError::new(field, "must be at least 1"));
            }
        }
        for (field, v) in [
            ("max_agent_iterations", self.max_agent_iterations),
            ("trace_token_budget", self.trace_token_budget),
            ("session_token_budget", self.session_token_budget),
        ] {
            if v == Some(0) {
                return Err(ConfigError::new(
                    field,
                    "must be at least 1 (leave it unset for no limit)",
                ));
            }
        }
        for (field, v) in [
            ("trace_cost_budget_usd", self.trace_cost_budget_usd),
            ("session_cost_budget_usd", self.session_cost_budget_usd),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0) {
                    return Err(ConfigError::new(
                        field,
                        "must be a positive number of US dollars",
                    ));
                }
            }
        }
        #[cfg(not(feature = "grpc"))]
        if self.otlp_protocol == Protocol::Grpc && self.traces_endpoint().is_some() {
            return Err(ConfigError::new(
                "otlp_protocol",
                "grpc is not compiled into this build",
            ));
        }
        Ok(())
    }

    /// The URL spans are sent to, if any: the traces endpoint as given, or the base endpoint
    /// (with `/v1/traces` appended for the HTTP protocols).
    pub fn traces_endpoint(&self) -> Option<String> {
        if let Some(t) = &self.otlp_traces_endpoint {
            return Some(t.clone());
        }
        let base = self.otlp_endpoint.as_ref()?;
        Some(match self.otlp_protocol {
            Protocol::Grpc => base.clone(),
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                format!("{}/v1/traces", base.trim_end_matches('/'))
            }
        })
    }

    /// The URL metrics are pushed to over OTLP, if metrics go to OTLP.
    pub fn metrics_endpoint(&self) -> Option<String> {
        if !self.metric_exporters().contains(&"otlp") {
            return None;
        }
        if let Some(m) = &self.otlp_metrics_endpoint {
            return Some(m.clone());
        }
        let base = self.otlp_endpoint.as_ref()?;
        Some(match self.otlp_protocol {
            Protocol::Grpc => base.clone(),
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                format!("{}/v1/metrics", base.trim_end_matches('/'))
            }
        })
    }

    /// The URL log records are sent to over OTLP, if logs go to OTLP.
    pub fn logs_endpoint(&self) -> Option<String> {
        let exporters: Vec<&str> = match &self.logs_exporter {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty() && *p != "none")
                .collect(),
            None => vec!["otlp"],
        };
        if !exporters.contains(&"otlp") {
            return None;
        }
        if let Some(l) = &self.otlp_logs_endpoint {
            return Some(l.clone());
        }
        let base = self.otlp_endpoint.as_ref()?;
        Some(
            match self.otlp_logs_protocol.unwrap_or(self.otlp_protocol) {
                Protocol::Grpc => base.clone(),
                Protocol::HttpProtobuf | Protocol::HttpJson => {
                    format!("{}/v1/logs", base.trim_end_matches('/'))
                }
            },
        )
    }

    /// The circuit breakers' settings.
    pub fn breaker_settings(&self) -> crate::tools::BreakerSettings {
        crate::tools::BreakerSettings {
            mode: crate::tools::Mode::parse(&self.tool_breaker)
                .unwrap_or(crate::tools::Mode::Observe),
            error_rate: self.tool_breaker_error_rate,
            min_calls: self.tool_breaker_min_calls,
            window_ms: self.tool_breaker_window_ms,
            open_ms: self.tool_breaker_open_ms,
            half_open_calls: self.tool_breaker_half_open_calls,
        }
    }

    /// The loop and budget guards' limits.
    pub fn guard_settings(&self) -> crate::guards::GuardSettings {
        let pico = |usd: Option<f64>| usd.map(|u| (u * 1e12).round().max(0.0) as u64);
        crate::guards::GuardSettings {
            max_iterations: self.max_agent_iterations,
            trace_tokens: self.trace_token_budget,
            trace_cost_pico: pico(self.trace_cost_budget_usd),
            session_tokens: self.session_token_budget,
            session_cost_pico: pico(self.session_cost_budget_usd),
        }
    }

    /// What the processing thread does to log records.
    pub fn log_settings(&self) -> crate::logs::LogSettings {
        crate::logs::LogSettings {
            max_field_bytes: self.logs_max_field_bytes,
            max_record_bytes: self.logs_max_record_bytes,
            trace_budget_bytes: self.logs_trace_budget_bytes,
            max_tool_io_bytes: self.max_tool_io_bytes,
            inference_events: self.inference_events,
            journal_to_logs: self.agent_journal == "logs",
        }
    }

    /// The metric exporters in force (`otlp` by default when an OTLP endpoint is configured).
    pub fn metric_exporters(&self) -> Vec<&str> {
        match &self.metrics_exporter {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty() && *p != "none")
                .collect(),
            None if self.otlp_endpoint.is_some() || self.otlp_metrics_endpoint.is_some() => {
                vec!["otlp"]
            }
            None if self.prometheus_port.is_some() => vec!["prometheus"],
            None => Vec::new(),
        }
    }

    /// The Prometheus endpoint's port, when it is on.
    pub fn prometheus_endpoint(&self) -> Option<(String, u16)> {
        if let Some(port) = self.prometheus_port {
            return Some((self.prometheus_host.clone(), port));
        }
        self.metric_exporters()
            .contains(&"prometheus")
            .then(|| (self.prometheus_host.clone(), 9464))
    }

    /// Whether the local store is on.
    pub fn store_enabled(&self) -> bool {
        match self.store {
            StoreMode::On => true,
            StoreMode::Off => false,
            StoreMode::Auto => self.traces_endpoint().is_none(),
        }
    }

    /// The store file.
    pub fn store_file(&self) -> PathBuf {
        match &self.store_path {
            Some(p) => PathBuf::from(p),
            None => default_home().join("fivelens.db"),
        }
    }

    /// The span limits.
    pub fn limits(&self) -> crate::record::Limits {
        crate::record::Limits {
            max_attribute_bytes: self.max_attribute_bytes,
            max_attributes: self.max_attributes,
            max_events: self.max_events,
            max_links: self.max_links,
            max_content_bytes: self.max_content_bytes,
        }
    }

    /// The sampler's settings (canary user ids hashed with the user-hash key).
    pub fn sampling_settings(&self) -> crate::sampling::Settings {
        use crate::sampling::{Mode, Policies, SampleKey};
        crate::sampling::Settings {
            policies: Policies::parse(&self.sampling).unwrap_or_default(),
            mode: if self.sampling_mode == "head" {
                Mode::Head
            } else {
                Mode::Tail
            },
            key: SampleKey::parse(&self.sample_key).unwrap_or(SampleKey::User),
            canary_user_hashes: self
                .canary_users
                .iter()
                .map(|u| crate::scope::hash_user_id(u))
                .collect(),
            canary_share: self.canary_percent / 100.0,
            timeout: std::time::Duration::from_millis(self.tail_timeout_ms),
            max_traces: self.tail_max_traces.max(1),
            max_spans: self.tail_max_spans.max(1),
            max_bytes: self.tail_max_bytes.max(1),
        }
    }

    /// The redaction settings.
    pub fn redaction(&self) -> crate::redact::Settings {
        crate::redact::Settings {
            types: self.redact_types.clone(),
            actions: self
                .redact_actions
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            rules: self.redact_rules.clone(),
            deny: self.redact_deny.clone(),
            allow: self.redact_allow.clone(),
        }
    }

    /// The redactor these settings describe (an error names the option at fault).
    pub fn redactor(&self) -> Result<crate::redact::Redactor, crate::redact::SettingsError> {
        crate::redact::Redactor::new(&self.redaction())
    }

    /// The per-model tables of the model-call stage: prices and context windows, with the alert
    /// threshold. (The pipeline calls it by its older name, [`Config::price_table`].)
    pub fn model_tables(&self) -> crate::llm::ModelTables {
        crate::llm::ModelTables {
            prices: self.prices_only(),
            context: self.context_settings(),
        }
    }

    /// [`Config::model_tables`], under the name the pipeline uses.
    pub fn price_table(&self) -> crate::llm::ModelTables {
        self.model_tables()
    }

    /// The context-window table (built-in, then the file, then inline entries), or the error of
    /// the option at fault.
    fn context_limit_table(&self) -> Result<crate::context_window::LimitTable, ConfigError> {
        let mut t = crate::context_window::LimitTable::embedded();
        if let Some(path) = &self.context_limits_file {
            t.merge_file(std::path::Path::new(path))
                .map_err(|e| ConfigError::new("context_limits_file", e))?;
        }
        if !self.context_limits.is_empty() {
            t.merge_json(&serde_json::json!({ "models": self.context_limits }).to_string())
                .map_err(|e| {
                    ConfigError::new(
                        "context_limits",
                        format!("{e} (each entry: provider, model, context_window, optional max_output_tokens)"),
                    )
                })?;
        }
        Ok(t)
    }

    /// The context-window settings: the limit table and the alert threshold.
    pub fn context_settings(&self) -> crate::context_window::ContextSettings {
        crate::context_window::ContextSettings {
            limits: self
                .context_limit_table()
                .unwrap_or_else(|_| crate::context_window::LimitTable::embedded()),
            alert_threshold: self.context_alert_threshold,
            max_sessions: crate::context_window::MAX_SESSIONS,
        }
    }

    /// The price table: built-in, then the file, then inline entries.
    pub fn prices_only(&self) -> crate::pricing::PriceTable {
        let mut t = crate::pricing::PriceTable::embedded();
        if let Some(path) = &self.prices_file {
            let _ = t.merge_file(std::path::Path::new(path));
        }
        if !self.prices.is_empty() {
            let _ = t.merge_json(&serde_json::json!({ "models": self.prices }).to_string());
        }
        t
    }
}

/// `$FIVELENS_HOME`, else `$XDG_DATA_HOME/fivelens`, else `~/.local/share/fivelens`.
pub fn default_home() -> PathBuf {
    if let Some(h) = std::env::var_os(ENV_HOME).filter(|v| !v.is_empty()) {
        return PathBuf::from(h);
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("fivelens");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".local").join("share").join("fivelens")
}

/// The default store file (`fivelens` CLI and the pipeline agree on it).
pub fn default_store_file() -> PathBuf {
    match std::env::var(ENV_STORE_PATH) {
        Ok(p) if !p.trim().is_empty() => PathBuf::from(p.trim()),
        _ => default_home().join("fivelens.db"),
    }
}

fn first(
    get: &dyn Fn(&str) -> Option<String>,
    names: &[&'static str],
) -> Option<(&'static str, String)> {
    names.iter().find_map(|n| get(n).map(|v| (*n, v)))
}

/// Accepts the spellings users write for enum options (`"GRPC"`, `true` for the store).
/// A JSON array of strings, or one value per line.
fn parse_list(name: &str, v: &str) -> Result<Vec<String>, ConfigError> {
    if v.trim_start().starts_with('[') {
        return serde_json::from_str(v)
            .map_err(|e| ConfigError::new(name, format!("expected a JSON array of strings: {e}")));
    }
    Ok(v.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

fn normalise_option(key: &str, v: serde_json::Value) -> serde_json::Value {
    match (key, &v) {
        ("sampling_mode" | "sample_key", serde_json::Value::String(s)) => {
            serde_json::Value::String(s.trim().to_ascii_lowercase())
        }
        ("sampling", serde_json::Value::String(s)) => serde_json::Value::Array(
            s.split(',')
                .map(|p| serde_json::Value::String(p.trim().to_string()))
                .collect(),
        ),
        ("redact_types", serde_json::Value::Array(items)) => serde_json::Value::Array(
            items
                .iter()
                .map(|i| match i {
                    serde_json::Value::String(s) => {
                        serde_json::Value::String(s.trim().to_ascii_uppercase())
                    }
                    other => other.clone(),
                })
                .collect(),
        ),
        ("redact_actions", serde_json::Value::Object(map)) => serde_json::Value::Object(
            map.iter()
                .map(|(k, a)| {
                    let a = match a {
                        serde_json::Value::String(s) => crate::redact::Action::parse(s)
                            .and_then(|x| serde_json::to_value(x).ok())
                            .unwrap_or_else(|| a.clone()),
                        other => other.clone(),
                    };
                    (k.trim().to_ascii_uppercase(), a)
                })
                .collect(),
        ),
        ("store", serde_json::Value::Bool(b)) => {
            serde_json::Value::String(if *b { "on" } else { "off" }.into())
        }
        (
            "otlp_protocol"
            | "otlp_compression"
            | "store"
            | "log_level"
            | "logs_level"
            | "agent_journal"
            | "otlp_logs_protocol"
            | "otlp_logs_compression",
            serde_json::Value::String(s),
        ) => serde_json::Value::String(s.trim().to_ascii_lowercase()),
        _ => v,
    }
}

fn describe_serde_error(msg: &str) -> String {
    // serde says "invalid type: string \"x\", expected u64"; keep that, drop position noise.
    msg.split(" at line ").next().unwrap_or(msg).to_string()
}

fn closest<'a>(key: &str, known: &'a [String]) -> Option<&'a String> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), k))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn parse_bool(field: &str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::new(
            field,
            format!("expected true or false, got {v:?}"),
        )),
    }
}

fn parse_num<T: std::str::FromStr>(field: &str, v: &str) -> Result<T, ConfigError> {
    v.parse::<T>()
        .map_err(|_| ConfigError::new(field, format!("expected a non-negative integer, got {v:?}")))
}

fn parse_protocol(field: &str, v: &str) -> Result<Protocol, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "http/protobuf" => Ok(Protocol::HttpProtobuf),
        "http/json" => Ok(Protocol::HttpJson),
        "grpc" => Ok(Protocol::Grpc),
        _ => Err(ConfigError::new(
            field,
            format!("expected http/protobuf, http/json or grpc, got {v:?}"),
        )),
    }
}

fn parse_compression(field: &str, v: &str) -> Result<Compression, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "gzip" => Ok(Compression::Gzip),
        "none" => Ok(Compression::None),
        _ => Err(ConfigError::new(
            field,
            format!("expected gzip or none, got {v:?}"),
        )),
    }
}

fn parse_store_mode(field: &str, v: &str) -> Result<StoreMode, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "auto" => Ok(StoreMode::Auto),
        "on" | "true" | "1" => Ok(StoreMode::On),
        "off" | "false" | "0" => Ok(StoreMode::Off),
        _ => Err(ConfigError::new(
            field,
            format!("expected auto, on or off, got {v:?}"),
        )),
    }
}

/// Parses the W3C-baggage-like `key=value,key2=value2` lists of the OTel environment variables
/// (values percent-decoded).
pub fn parse_key_values(field: &str, v: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    for member in v.split(',') {
        let member = member.trim();
        if member.is_empty() {
            continue;
        }
        let Some((k, val)) = member.split_once('=') else {
            return Err(ConfigError::new(
                field,
                format!("expected key=value, got {member:?}"),
            ));
        };
        let k = k.trim();
        if k.is_empty() {
            return Err(ConfigError::new(field, format!("empty key in {member:?}")));
        }
        let val = percent_decode(val.trim()).ok_or_else(|| {
            ConfigError::new(field, format!("bad percent-encoding in {member:?}"))
        })?;
        out.insert(k.to_string(), val);
    }
    Ok(out)
}

/// Decodes `%XX` escapes; `None` on a malformed escape or invalid UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn check_url(field: &str, url: &str) -> Result<(), ConfigError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            ConfigError::new(
                field,
                format!("must start with http:// or https://, got {url:?}"),
            )
        })?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(ConfigError::new(field, format!("has no host: {url:?}")));
    }
    if let Some((_, port)) = host.rsplit_once(':') {
        if !host.ends_with(']') && port.parse::<u16>().is_err() {
            return Err(ConfigError::new(field, format!("bad port in {url:?}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_resolve() {
        let c = Config::resolve(&json!({}), &no_env).unwrap();
        assert_eq!(c, Config::default());
        assert!(c.store_enabled());
        assert_eq!(c.traces_endpoint(), None);
    }

    #[test]
    fn explicit_beats_env() {
        let env = |n: &str| match n {
            ENV_SERVICE_NAME => Some("from-env".to_string()),
            ENV_OTLP_ENDPOINT => Some("http://127.0.0.1:4318/".to_string()),
            ENV_OTLP_HEADERS => Some("a=1,b=x%20y".to_string()),
            _ => None,
        };
        let c = Config::resolve(&json!({"service_name": "explicit"}), &env).unwrap();
        assert_eq!(c.service_name.as_deref(), Some("explicit"));
        assert_eq!(
            c.traces_endpoint().as_deref(),
            Some("http://127.0.0.1:4318/v1/traces")
        );
        assert_eq!(c.otlp_headers.get("b").map(String::as_str), Some("x y"));
        assert!(!c.store_enabled());
    }

    #[test]
    fn tool_breaker_and_guard_options() {
        let env = |n: &str| match n {
            ENV_TOOL_BREAKER => Some("Enforce".to_string()),
            ENV_TOOL_BREAKER_ERROR_RATE => Some("0.25".to_string()),
            ENV_TOOL_BREAKER_MIN_CALLS => Some("5".to_string()),
            ENV_TOOL_BREAKER_OPEN_MS => Some("1000".to_string()),
            ENV_MAX_AGENT_ITERATIONS => Some("12".to_string()),
            ENV_TRACE_COST_BUDGET_USD => Some("0.5".to_string()),
            ENV_SESSION_TOKEN_BUDGET => Some("100000".to_string()),
            _ => None,
        };
        let c = Config::resolve(&json!({"tool_breaker_window_ms": 30000}), &env).unwrap();
        let b = c.breaker_settings();
        assert_eq!(b.mode, crate::tools::Mode::Enforce);
        assert_eq!(
            (
                b.error_rate,
                b.min_calls,
                b.window_ms,
                b.open_ms,
                b.half_open_calls
            ),
            (0.25, 5, 30_000, 1000, 1)
        );
        let g = c.guard_settings();
        assert_eq!(g.max_iterations, Some(12));
        assert_eq!(g.trace_cost_pico, Some(500_000_000_000));
        assert_eq!(g.session_tokens, Some(100_000));
        assert_eq!((g.trace_tokens, g.session_cost_pico), (None, None));
        // The defaults: observe, 10% over 20 calls in 60 s, 30 s open, one probe; no guard.
        let d = Config::default();
        assert_eq!(
            d.breaker_settings(),
            crate::tools::BreakerSettings::default()
        );
        assert!(!d.guard_settings().any());
        for (bad, field) in [
            (json!({"tool_breaker": "strict"}), "tool_breaker"),
            (
                json!({"tool_breaker_error_rate": 0}),
                "tool_breaker_error_rate",
            ),
            (
                json!({"tool_breaker_min_calls": 0}),
                "tool_breaker_min_calls",
            ),
            (
                json!({"trace_cost_budget_usd": -1.0}),
                "trace_cost_budget_usd",
            ),
            (json!({"max_agent_iterations": 0}), "max_agent_iterations"),
        ] {
            assert_eq!(
                Config::resolve(&bad, &no_env).unwrap_err().field,
                field,
                "{bad}"
            );
        }
    }

    #[test]
    fn redaction_options_from_env_and_explicit() {
        let env = |n: &str| match n {
            ENV_REDACT_TYPES => Some("email, phone".to_string()),
            ENV_REDACT_ACTIONS => Some("EMAIL=indexed,*=hash".to_string()),
            ENV_REDACT_RULES => Some(r#"[{"name":"EMP_ID","pattern":"EMP-\\d{6}"}]"#.to_string()),
            ENV_REDACT_DENY => Some("Project Nightingale\n/ACME-[0-9]+/".to_string()),
            ENV_REDACT_ALLOW => Some(r#"["support@example.com"]"#.to_string()),
            _ => None,
        };
        let c = Config::resolve(&json!({}), &env).unwrap();
        assert_eq!(c.redact_types, vec!["EMAIL", "PHONE"]);
        assert_eq!(
            c.redact_actions.get("*"),
            Some(&crate::redact::Action::Hash)
        );
        assert_eq!(c.redact_deny, vec!["Project Nightingale", "/ACME-[0-9]+/"]);
        let r = c.redactor().unwrap();
        let mut ix = crate::redact::Indexer::default();
        let (out, _) = r.redact(
            "a@b.io EMP-123456 ACME-77 support@example.com 4111111111111111",
            &mut ix,
        );
        assert!(out.starts_with("<EMAIL_1> <EMP_ID:"), "{out}");
        assert!(
            out.ends_with("support@example.com 4111111111111111"),
            "{out}"
        );

        let c = Config::resolve(
            &json!({"redact_actions": {"email": "Remove"}, "redact_types": ["jwt"]}),
            &no_env,
        )
        .unwrap();
        assert_eq!(c.redact_types, vec!["JWT"]);
        assert_eq!(
            c.redact_actions.get("EMAIL"),
            Some(&crate::redact::Action::Remove)
        );
        for (bad, field) in [
            (json!({"redact_types": ["NAME"]}), "redact_types"),
            (
                json!({"redact_rules": [{"name": "X", "pattern": "("}]}),
                "redact_rules",
            ),
            (
                json!({"redact_actions": {"EMAIL": "shred"}}),
                "redact_actions",
            ),
            (json!({"redact_deny": ["/(/"]}), "redact_deny"),
        ] {
            assert_eq!(
                Config::resolve(&bad, &no_env).unwrap_err().field,
                field,
                "{bad}"
            );
        }
        let env = |n: &str| (n == ENV_REDACT_ACTIONS).then(|| "EMAIL".to_string());
        assert_eq!(
            Config::resolve(&json!({}), &env).unwrap_err().field,
            ENV_REDACT_ACTIONS
        );
    }

    #[test]
    fn errors_name_the_field() {
        let e = Config::resolve(&json!({"queue_size": "big"}), &no_env).unwrap_err();
        assert_eq!(e.field, "queue_size");
        let e = Config::resolve(&json!({"queue_sise": 10}), &no_env).unwrap_err();
        assert_eq!(e.field, "queue_sise");
        assert!(e.message.contains("queue_size"), "{}", e.message);
        let e = Config::resolve(&json!({"otlp_endpoint": "localhost:4318"}), &no_env).unwrap_err();
        assert_eq!(e.field, "otlp_endpoint");
        let env = |n: &str| (n == ENV_OTLP_TIMEOUT).then(|| "soon".to_string());
        let e = Config::resolve(&json!({}), &env).unwrap_err();
        assert_eq!(e.field, ENV_OTLP_TIMEOUT);
        let e = Config::resolve(&json!({"otlp_protocol": "carrier-pigeon"}), &no_env).unwrap_err();
        assert_eq!(e.field, "otlp_protocol");
    }

    #[test]
    fn nulls_mean_unset_and_spellings_are_forgiven() {
        let c = Config::resolve(
            &json!({"service_name": null, "store": false, "otlp_protocol": "GRPC"}),
            &no_env,
        )
        .unwrap();
        assert_eq!(c.service_name, None);
        assert_eq!(c.store, StoreMode::Off);
        assert_eq!(c.otlp_protocol, Protocol::Grpc);
    }

    #[test]
    fn grpc_endpoint_is_not_suffixed() {
        let c = Config::resolve(
            &json!({"otlp_endpoint": "http://127.0.0.1:4317", "otlp_protocol": "grpc"}),
            &no_env,
        )
        .unwrap();
        assert_eq!(
            c.traces_endpoint().as_deref(),
            Some("http://127.0.0.1:4317")
        );
    }
}
