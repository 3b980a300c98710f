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
