//! The configuration record: the core's schema ([`fivelens_core::Config`]) field for field, with
//! the core's defaults written as uniffi defaults, so `Config()` in Kotlin and Swift is the
//! core's default configuration (a Rust test checks the field names, a Kotlin test the values).
//!
//! The record always carries every field, but the core's precedence is "explicit option over
//! environment variable over default": a field still equal to the core's default is therefore not
//! passed as an option, and its `OTEL_*` / `FIVELENS_*` variable stays in force.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::FivelensError;

/// fivelens options, with the core's defaults. Enumerated options are strings, validated by the
/// core: `otlp_protocol` is `http/protobuf`, `http/json` or `grpc`; `otlp_compression` `none` or
/// `gzip`; `store` `auto`, `on` or `off`; `log_level` `off`, `error`, `warn`, `info` or `debug`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, uniffi::Record)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `service.name`; `OTEL_SERVICE_NAME`.
    #[uniffi(default = None)]
    pub service_name: Option<String>,
    /// Extra resource attributes; merged over `OTEL_RESOURCE_ATTRIBUTES`.
    #[uniffi(default)]
    pub resource_attributes: HashMap<String, String>,
    /// No-op mode; `OTEL_SDK_DISABLED`.
    #[uniffi(default = false)]
    pub disabled: bool,
    /// Capture prompt and completion content (redacted); `FIVELENS_CAPTURE_CONTENT`.
    #[uniffi(default = true)]
    pub capture_content: bool,
    /// OTLP base endpoint; `OTEL_EXPORTER_OTLP_ENDPOINT`.
    #[uniffi(default = None)]
    pub otlp_endpoint: Option<String>,
    /// OTLP traces endpoint (full URL); `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`.
    #[uniffi(default = None)]
    pub otlp_traces_endpoint: Option<String>,
    /// `http/protobuf`, `http/json` or `grpc`; `OTEL_EXPORTER_OTLP_PROTOCOL`.
    #[uniffi(default = "http/protobuf")]
    pub otlp_protocol: String,
    /// Extra request headers; `OTEL_EXPORTER_OTLP_HEADERS`.
    #[uniffi(default)]
    pub otlp_headers: HashMap<String, String>,
    /// Per-request timeout in ms; `OTEL_EXPORTER_OTLP_TIMEOUT`.
    #[uniffi(default = 10000)]
    pub otlp_timeout_ms: u64,
    /// `none` or `gzip`; `OTEL_EXPORTER_OTLP_COMPRESSION`.
    #[uniffi(default = "none")]
    pub otlp_compression: String,
    /// `auto` (on when no OTLP endpoint is set), `on` or `off`; `FIVELENS_STORE`.
    #[uniffi(default = "auto")]
    pub store: String,
    /// Local store file; `FIVELENS_STORE_PATH`.
    #[uniffi(default = None)]
    pub store_path: Option<String>,
    /// Retention by age, hours; `FIVELENS_STORE_MAX_AGE_HOURS`.
    #[uniffi(default = 168)]
    pub store_max_age_hours: u64,
    /// Retention by size, bytes; `FIVELENS_STORE_MAX_BYTES`.
    #[uniffi(default = 536870912)]
    pub store_max_bytes: u64,
    /// Span queue capacity; `OTEL_BSP_MAX_QUEUE_SIZE`.
    #[uniffi(default = 8192)]
    pub queue_size: u64,
    /// Spans per processing batch; `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`.
    #[uniffi(default = 512)]
    pub batch_size: u64,
    /// Timer wake-up interval of the processing thread, ms; `OTEL_BSP_SCHEDULE_DELAY`.
    #[uniffi(default = 500)]
    pub schedule_delay_ms: u64,
    /// Bound on encoded batches waiting for each network exporter, bytes.
    #[uniffi(default = 33554432)]
    pub export_queue_bytes: u64,
    /// Largest request body (before compression); bigger batches are split.
    #[uniffi(default = 4194304)]
    pub max_export_batch_bytes: u64,
    /// Largest attribute value, bytes; `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`.
    #[uniffi(default = 131072)]
    pub max_attribute_bytes: u64,
    /// Most attributes per span; `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`.
    #[uniffi(default = 128)]
    pub max_attributes: u64,
    /// Most events per span; `OTEL_SPAN_EVENT_COUNT_LIMIT`.
    #[uniffi(default = 128)]
    pub max_events: u64,
    /// Most links per span; `OTEL_SPAN_LINK_COUNT_LIMIT`.
    #[uniffi(default = 128)]
    pub max_links: u64,
    /// Bound on the flush at exit, ms; `FIVELENS_EXIT_TIMEOUT_MS`.
    #[uniffi(default = 2000)]
    pub exit_timeout_ms: u64,
    /// HMAC key for user ids; `FIVELENS_USER_HASH_KEY`.
    #[uniffi(default = None)]
    pub user_hash_key: Option<String>,
    /// Diagnostics level; `FIVELENS_LOG_LEVEL`.
    #[uniffi(default = "warn")]
    pub log_level: String,
    /// Largest content attribute, bytes (cut keeping JSON valid); `FIVELENS_MAX_CONTENT_BYTES`.
    #[uniffi(default = 65536)]
    pub max_content_bytes: u64,
    /// Add OpenInference and Langfuse attributes; `FIVELENS_COMPAT`.
    #[uniffi(default = false)]
    pub compat: bool,
    /// A JSON price table adding to (or replacing) the built-in one; `FIVELENS_PRICES_FILE`.
    #[uniffi(default = None)]
    pub prices_file: Option<String>,
    /// Price entries, each one JSON object in the price-table format.
    #[uniffi(default)]
    #[serde(with = "json_texts")]
    pub prices: Vec<String>,
    /// Metric exporters: `otlp`, `prometheus`, `none`; `OTEL_METRICS_EXPORTER`.
    #[uniffi(default = None)]
    pub metrics_exporter: Option<String>,
    /// OTLP metrics URL; `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`.
    #[uniffi(default = None)]
    pub otlp_metrics_endpoint: Option<String>,
    /// ms between OTLP metric pushes; `OTEL_METRIC_EXPORT_INTERVAL`.
    #[uniffi(default = 60000)]
    pub metric_export_interval_ms: u64,
    /// Prometheus endpoint address; `OTEL_EXPORTER_PROMETHEUS_HOST`.
    #[uniffi(default = "127.0.0.1")]
    pub prometheus_host: String,
    /// Prometheus endpoint port (on when set); `OTEL_EXPORTER_PROMETHEUS_PORT`.
    #[uniffi(default = None)]
    pub prometheus_port: Option<u16>,
    /// Count estimated tokens in `gen_ai.client.token.usage` too;
    /// `FIVELENS_METRICS_INCLUDE_ESTIMATED_TOKENS`.
    #[uniffi(default = false)]
    pub metrics_include_estimated_tokens: bool,
    /// Sampling policies (`errors`, `keep`, `latency:p99`, `cost:0.05`, `tokens:100000`,
    /// `canary`, `users:0.1`, `baseline:0.01`); null: the core's default (keep everything);
    /// `FIVELENS_SAMPLING`, `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`.
    #[uniffi(default = None)]
    pub sampling: Option<Vec<String>>,
    /// `tail` or `head`; `FIVELENS_SAMPLING_MODE`.
    #[uniffi(default = "tail")]
    pub sampling_mode: String,
    /// What `users` and the canary share hash: `user`, `session` or `trace`; `FIVELENS_SAMPLE_KEY`.
    #[uniffi(default = "user")]
    pub sample_key: String,
    /// User ids always kept at full fidelity; `FIVELENS_CANARY_USERS`.
    #[uniffi(default)]
    pub canary_users: Vec<String>,
    /// Share of users (0-100) always kept at full fidelity; `FIVELENS_CANARY_PERCENT`.
    #[uniffi(default = 0.0)]
    pub canary_percent: f64,
    /// A trace whose local root has not ended is decided after this, ms; `FIVELENS_TAIL_TIMEOUT_MS`.
    #[uniffi(default = 120000)]
    pub tail_timeout_ms: u64,
    /// Undecided traces held at most.
    #[uniffi(default = 20000)]
    pub tail_max_traces: u64,
    /// Spans of undecided traces held at most.
    #[uniffi(default = 200000)]
    pub tail_max_spans: u64,
    /// Bytes of undecided traces held at most.
    #[uniffi(default = 134217728)]
    pub tail_max_bytes: u64,
    /// Context fill (0-1) whose crossing from below raises the alert; see the README.
    #[uniffi(default = 0.8)]
    pub context_alert_threshold: f64,
    /// A JSON table of context and output limits over the built-in one.
    #[uniffi(default = None)]
    pub context_limits_file: Option<String>,
    /// Context limit entries, each one JSON object in the limit-table format.
    #[uniffi(default)]
    #[serde(with = "json_texts")]
    pub context_limits: Vec<String>,
    /// Attach to the host's logging and export its records as OTLP logs (Python and Node).
    #[uniffi(default = true)]
    pub capture_logs: bool,
    /// The app's records at or above this level are exported; `FIVELENS_LOGS_LEVEL`.
    #[uniffi(default = "info")]
    pub logs_level: String,
    /// Add trace and span ids to structured log output (Python and Node).
    #[uniffi(default = false)]
    pub logs_inject_context: bool,
    /// `otlp` or `none`; `OTEL_LOGS_EXPORTER`.
    #[uniffi(default = None)]
    pub logs_exporter: Option<String>,
    /// OTLP logs URL, used as is; `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`.
    #[uniffi(default = None)]
    pub otlp_logs_endpoint: Option<String>,
    /// Protocol of the logs exporter; `OTEL_EXPORTER_OTLP_LOGS_PROTOCOL` (null: `otlp_protocol`).
    #[uniffi(default = None)]
    pub otlp_logs_protocol: Option<String>,
    /// Extra headers of the logs exporter; `OTEL_EXPORTER_OTLP_LOGS_HEADERS`.
    #[uniffi(default)]
    pub otlp_logs_headers: HashMap<String, String>,
    /// Timeout of the logs exporter, ms (null: `otlp_timeout_ms`).
    #[uniffi(default = None)]
    pub otlp_logs_timeout_ms: Option<u64>,
    /// Compression of the logs exporter (null: `otlp_compression`).
    #[uniffi(default = None)]
    pub otlp_logs_compression: Option<String>,
    /// Log record queue capacity; `OTEL_BLRP_MAX_QUEUE_SIZE`.
    #[uniffi(default = 2048)]
    pub logs_queue_size: u64,
    /// A log body or attribute longer than this is cut and marked.
    #[uniffi(default = 16384)]
    pub logs_max_field_bytes: u64,
    /// A log record larger than this is cut, longest fields first.
    #[uniffi(default = 65536)]
    pub logs_max_record_bytes: u64,
    /// Bytes of log records one trace may produce (0: no budget).
    #[uniffi(default = 1048576)]
    pub logs_trace_budget_bytes: u64,
    /// Tool call arguments and results are cut to this, marked.
    #[uniffi(default = 16384)]
    pub max_tool_io_bytes: u64,
    /// Emit `gen_ai.client.inference.operation.details` per model call; `FIVELENS_INFERENCE_EVENTS`.
    #[uniffi(default = false)]
    pub inference_events: bool,
    /// Where the reasoning journal goes: `events` or `logs`; `FIVELENS_AGENT_JOURNAL`.
    #[uniffi(default = "events")]
    pub agent_journal: String,
    /// Intent scores below this count as low confidence.
    #[uniffi(default = 0.5)]
    pub intent_low_confidence_threshold: f64,
    /// A JSON file of golden outputs for drift (null: the local store).
    #[uniffi(default = None)]
    pub drift_goldens_file: Option<String>,
    /// Threads of the evaluation pool (Python and Node evaluators).
    #[uniffi(default = 2)]
    pub evaluation_workers: u64,
    /// Evaluations waiting at most; more are dropped and counted.
    #[uniffi(default = 64)]
    pub evaluation_queue_size: u64,
    /// Snapshot kept model calls for replay (content capture on).
    #[uniffi(default = true)]
    pub snapshots: bool,
    /// Share of ordinary traces whose model calls get a snapshot.
    #[uniffi(default = 0.01)]
    pub snapshot_rate: f64,
    /// Largest snapshot, bytes (before compression).
    #[uniffi(default = 262144)]
    pub snapshot_max_bytes: u64,
    /// The circuit breaker at the tool boundary (Python and Node integrations): `observe`,
    /// `enforce` or `off`; `FIVELENS_TOOL_BREAKER`.
    #[uniffi(default = "observe")]
    pub tool_breaker: String,
    /// Error rate (0 to 1) that opens a tool's breaker; `FIVELENS_TOOL_BREAKER_ERROR_RATE`.
    #[uniffi(default = 0.1)]
    pub tool_breaker_error_rate: f64,
    /// Calls in the window before the rate counts; `FIVELENS_TOOL_BREAKER_MIN_CALLS`.
    #[uniffi(default = 20)]
    pub tool_breaker_min_calls: u64,
    /// The breakers' sliding window, ms; `FIVELENS_TOOL_BREAKER_WINDOW_MS`.
    #[uniffi(default = 60000)]
    pub tool_breaker_window_ms: u64,
    /// How long an open breaker rejects before a probe, ms; `FIVELENS_TOOL_BREAKER_OPEN_MS`.
    #[uniffi(default = 30000)]
    pub tool_breaker_open_ms: u64,
    /// Successful probes that close a half-open breaker;
    /// `FIVELENS_TOOL_BREAKER_HALF_OPEN_CALLS`.
    #[uniffi(default = 1)]
    pub tool_breaker_half_open_calls: u64,
    /// Most agent iterations before model calls are refused; `FIVELENS_MAX_AGENT_ITERATIONS`.
    #[uniffi(default = None)]
    pub max_agent_iterations: Option<u64>,
    /// Tokens a trace's model calls may use; `FIVELENS_TRACE_TOKEN_BUDGET`.
    #[uniffi(default = None)]
    pub trace_token_budget: Option<u64>,
    /// US dollars a trace's model calls may cost; `FIVELENS_TRACE_COST_BUDGET_USD`.
    #[uniffi(default = None)]
    pub trace_cost_budget_usd: Option<f64>,
    /// Tokens a session's model calls may use; `FIVELENS_SESSION_TOKEN_BUDGET`.
    #[uniffi(default = None)]
    pub session_token_budget: Option<u64>,
    /// US dollars a session's model calls may cost; `FIVELENS_SESSION_COST_BUDGET_USD`.
    #[uniffi(default = None)]
    pub session_cost_budget_usd: Option<f64>,
    /// Redact PII in captured content before it leaves the process; `FIVELENS_REDACT`.
    #[uniffi(default = true)]
    pub redact: bool,
    /// Built-in PII types to detect; null: all of them (the core's default);
    /// `FIVELENS_REDACT_TYPES`.
    #[uniffi(default = None)]
    pub redact_types: Option<Vec<String>>,
    /// Action per type: `typed`, `indexed`, `hash` or `remove` (`*` for every other type);
    /// `FIVELENS_REDACT_ACTIONS`.
    #[uniffi(default)]
    pub redact_actions: HashMap<String, String>,
    /// Custom detectors; `FIVELENS_REDACT_RULES`.
    #[uniffi(default)]
    pub redact_rules: Vec<RedactionRule>,
    /// Values always redacted (exact, or `/regex/`); `FIVELENS_REDACT_DENY`.
    #[uniffi(default)]
    pub redact_deny: Vec<String>,
    /// Values never redacted (exact, or `/regex/` matching the whole value);
    /// `FIVELENS_REDACT_ALLOW`.
    #[uniffi(default)]
    pub redact_allow: Vec<String>,
    /// Record agent-framework chain inputs and outputs (Python and Node integrations).
    #[uniffi(default = false)]
    pub capture_chain_io: bool,
    /// Leave out agent-framework plumbing chains (Python and Node integrations).
    #[uniffi(default = false)]
    pub collapse_chains: bool,
    /// Integrations to enable (Python and Node; there are none for Kotlin and Swift).
    #[uniffi(default = None)]
    pub integrations: Option<Vec<String>>,
    /// Keep finished spans in memory (tests of integrations).
    #[uniffi(default = false)]
    pub testing: bool,
}

/// A custom PII detector: matches of `pattern` (Rust `regex` syntax; its `value` group when it
/// has one) are redacted as type `name`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, uniffi::Record)]
pub struct RedactionRule {
    /// The entity type, e.g. `EMPLOYEE_ID`.
    pub name: String,
    /// The regular expression.
    pub pattern: String,
}

/// `prices` travel as JSON text across the FFI and as JSON values to the core.
mod json_texts {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(texts: &[String], s: S) -> Result<S::Ok, S::Error> {
        let values: Vec<serde_json::Value> = texts
            .iter()
            .map(|t| serde_json::from_str(t).unwrap_or(serde_json::Value::String(t.clone())))
            .collect();
        values.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        let values = Vec::<serde_json::Value>::deserialize(d)?;
        Ok(values.iter().map(|v| v.to_string()).collect())
    }
}

impl Config {
    /// The options for the core: every field that differs from the core's default (a null one
    /// stands for the default).
    pub(crate) fn to_options(&self) -> serde_json::Value {
        let defaults = fivelens_core::config::default_config_json();
        let mut options = serde_json::Map::new();
        if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(self) {
            for (name, value) in fields {
                if !value.is_null() && defaults.get(&name) != Some(&value) {
                    options.insert(name, value);
                }
            }
        }
        serde_json::Value::Object(options)
    }

    /// The record of a resolved core configuration.
    pub(crate) fn from_core(config: &fivelens_core::Config) -> Result<Config, FivelensError> {
        serde_json::to_value(config)
            .and_then(serde_json::from_value)
            .map_err(|e| FivelensError::Internal {
                detail: format!("the core's configuration does not fit the record: {e}"),
            })
    }
}

/// The core's default configuration, as JSON (the parity test compares it with `Config()`).
#[uniffi::export]
pub fn default_config_json() -> String {
    fivelens_core::config::default_config_json().to_string()
}

/// `config` as the JSON the core reads (every field, by the core's names).
#[uniffi::export]
pub fn config_json(config: Config) -> String {
    serde_json::to_value(&config)
        .map(|v| v.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_has_the_core_fields_and_reads_the_core_defaults() {
        let core = fivelens_core::Config::default();
        let record = Config::from_core(&core).expect("the defaults fit the record");
        let names: Vec<String> = match serde_json::to_value(&record).expect("serializes") {
            serde_json::Value::Object(map) => map.keys().cloned().collect(),
            _ => Vec::new(),
        };
        let mut expected = fivelens_core::config::field_names();
        expected.sort();
        let mut names = names;
        names.sort();
        assert_eq!(names, expected);
        assert_eq!(
            serde_json::to_value(&record).expect("serializes"),
            fivelens_core::config::default_config_json()
        );
        // The record at the defaults passes no option: the environment stays in force.
        assert_eq!(record.to_options(), serde_json::json!({}));
    }

    #[test]
    fn changed_fields_become_options() {
        let mut record =
            Config::from_core(&fivelens_core::Config::default()).expect("the defaults fit");
        record.otlp_timeout_ms = 1;
        record.redact_types = None;
        record.prices = vec![r#"{"provider":"x"}"#.into()];
        assert_eq!(
            record.to_options(),
            serde_json::json!({"otlp_timeout_ms": 1, "prices": [{"provider": "x"}]})
        );
    }
}
