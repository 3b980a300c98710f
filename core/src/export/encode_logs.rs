//! Log records to OTLP `ExportLogsServiceRequest`s, and their size-based splitting.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord as ProtoLog, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;

use super::encode::{any_value, batches, instrumentation_scope, proto_resource};
use crate::logs::{structured, LogRecord};
use crate::resource::Resource;
use crate::semconv;

/// A JSON value as an OTLP value (objects become key-value lists).
pub fn json_value(v: &serde_json::Value) -> AnyValue {
    use any_value::Value as V;
    use serde_json::Value as J;
    let value = match v {
        J::Null => return AnyValue { value: None },
        J::Bool(b) => V::BoolValue(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => V::IntValue(i),
            None => V::DoubleValue(n.as_f64().unwrap_or(0.0)),
        },
        J::String(s) => V::StringValue(s.clone()),
        J::Array(a) => V::ArrayValue(ArrayValue {
            values: a.iter().map(json_value).collect(),
        }),
        J::Object(o) => V::KvlistValue(KeyValueList {
            values: o
                .iter()
                .map(|(k, x)| KeyValue {
                    key: k.clone(),
                    value: Some(json_value(x)),
                    ..Default::default()
                })
                .collect(),
        }),
    };
    AnyValue { value: Some(value) }
}

/// Converts one processed record; content attributes holding JSON (messages, instructions,
/// tool definitions) go structured, as the conventions want on events.
pub fn log_record(r: &LogRecord) -> ProtoLog {
    ProtoLog {
        time_unix_nano: r.time_ns,
        observed_time_unix_nano: r.observed_ns,
        severity_number: i32::from(r.severity),
        severity_text: r.severity_text.to_string(),
        body: (!r.body.is_empty() || r.event_name.is_none()).then(|| AnyValue {
            value: Some(any_value::Value::StringValue(r.body.to_string())),
        }),
        attributes: r
            .attributes
            .iter()
            .map(|(k, v)| KeyValue {
                key: k.as_str().to_string(),
                value: Some(match structured(k.as_str(), v) {
                    Some(json) => json_value(&json),
                    None => any_value(v),
                }),
                ..Default::default()
            })
            .collect(),
        dropped_attributes_count: 0,
        flags: u32::from(r.flags & 1),
        trace_id: if r.trace_id.is_valid() {
            r.trace_id.to_bytes().to_vec()
        } else {
            Vec::new()
        },
        span_id: if r.span_id.is_valid() {
            r.span_id.to_bytes().to_vec()
        } else {
            Vec::new()
        },
        event_name: r.event_name.as_deref().unwrap_or("").to_string(),
    }
}

/// Builds export requests for `records`, grouped by instrumentation scope, each at most
/// `max_bytes` encoded (a single larger record travels alone).
pub fn requests(
    records: &[&LogRecord],
    resource: &Resource,
    max_bytes: usize,
) -> Vec<(ExportLogsServiceRequest, usize)> {
    let proto_resource = proto_resource(resource);
    batches(
        records.iter().copied(),
        log_record,
        |r| r.scope.as_ref().map(|k| k.as_str()),
        max_bytes,
    )
    .into_iter()
    .map(|(groups, count)| {
        let scopes = groups
            .into_iter()
            .map(|(name, log_records)| ScopeLogs {
                scope: Some(instrumentation_scope(name)),
                log_records,
                schema_url: semconv::SCHEMA_URL.to_string(),
            })
            .collect();
        finish(&proto_resource, scopes, count)
    })
    .collect()
}

fn finish(
    resource: &ProtoResource,
    scope_logs: Vec<ScopeLogs>,
    count: usize,
) -> (ExportLogsServiceRequest, usize) {
    (
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(resource.clone()),
                scope_logs,
                schema_url: String::new(),
            }],
        },
        count,
    )
}

/// Number of records in a request.
pub fn record_count(req: &ExportLogsServiceRequest) -> usize {
    req.resource_logs
        .iter()
        .flat_map(|r| r.scope_logs.iter())
        .map(|s| s.log_records.len())
        .sum()
}

/// Splits a request in two of about half the records each (for a receiver that answered 413);
/// `None` for a single record.
pub fn split(
    req: &ExportLogsServiceRequest,
) -> Option<(ExportLogsServiceRequest, ExportLogsServiceRequest)> {
    let total = record_count(req);
    if total < 2 {
        return None;
    }
    let half = total / 2;
    let (mut first, mut second) = (req.clone(), req.clone());
    let mut seen = 0usize;
    for (a, b) in first
        .resource_logs
        .iter_mut()
        .zip(second.resource_logs.iter_mut())
    {
        for (sa, sb) in a.scope_logs.iter_mut().zip(b.scope_logs.iter_mut()) {
            let n = sa.log_records.len();
            let to_first = half.saturating_sub(seen).min(n);
            sa.log_records.truncate(to_first);
            sb.log_records.drain(..to_first);
            seen += n;
        }
        a.scope_logs.retain(|s| !s.log_records.is_empty());
        b.scope_logs.retain(|s| !s.log_records.is_empty());
    }
    first.resource_logs.retain(|r| !r.scope_logs.is_empty());
    second.resource_logs.retain(|r| !r.scope_logs.is_empty());
    Some((first, second))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{SpanId, TraceId};
    use crate::key::Key;
    use crate::value::Value;

    #[test]
    fn records_encode_split_and_keep_structure() {
        let records: Vec<LogRecord> = (0..9)
            .map(|i| {
                let mut r =
                    LogRecord::new(9, &format!("m{i}")).in_span(TraceId(3), SpanId(4), true);
                r.scope = Some(Key::new(if i % 2 == 0 { "app" } else { "lib" }));
                r.attributes.push((
                    Key::new(semconv::GEN_AI_INPUT_MESSAGES),
                    Value::from(r#"[{"role":"user","parts":[]}]"#),
                ));
                r
            })
            .collect();
        let refs: Vec<&LogRecord> = records.iter().collect();
        let (req, n) = requests(&refs, &Resource::default(), usize::MAX).remove(0);
        assert_eq!(n, 9);
        let l = &req.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!(l.trace_id.len(), 16);
        assert!(matches!(
            l.attributes[0]
                .value
                .as_ref()
                .and_then(|v| v.value.as_ref()),
            Some(any_value::Value::ArrayValue(_))
        ));
        let (a, b) = split(&req).unwrap();
        assert_eq!(record_count(&a) + record_count(&b), 9);
        assert_eq!(record_count(&a), 4);
    }
}
