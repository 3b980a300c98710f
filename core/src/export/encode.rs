//! Span records to OTLP protobuf messages, and the size-based splitting of requests.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue,
};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

use crate::record::SpanRecord;
use crate::resource::Resource;
use crate::semconv;
use crate::value::{Value, ValueRef};

/// The instrumentation scope name of spans that name none.
pub const DEFAULT_SCOPE: &str = "fivelens";

// OTLP span flags: bits 8 and 9 say whether the parent is known to be remote.
const FLAG_HAS_IS_REMOTE: u32 = 0x100;
const FLAG_IS_REMOTE: u32 = 0x200;

/// Converts one attribute value.
pub fn any_value(v: &Value) -> AnyValue {
    use any_value::Value as V;
    let value = match v {
        Value::Str(s) => V::StringValue(s.to_string()),
        Value::Bool(b) => V::BoolValue(*b),
        Value::I64(i) => V::IntValue(*i),
        Value::F64(f) => V::DoubleValue(*f),
        Value::StrArray(a) => array(a.iter().map(|s| V::StringValue(s.to_string()))),
        Value::BoolArray(a) => array(a.iter().map(|b| V::BoolValue(*b))),
        Value::I64Array(a) => array(a.iter().map(|i| V::IntValue(*i))),
        Value::F64Array(a) => array(a.iter().map(|f| V::DoubleValue(*f))),
    };
    AnyValue { value: Some(value) }
}

fn array(items: impl Iterator<Item = any_value::Value>) -> any_value::Value {
    any_value::Value::ArrayValue(ArrayValue {
        values: items.map(|v| AnyValue { value: Some(v) }).collect(),
    })
}

fn key_values<'a>(attrs: impl Iterator<Item = &'a crate::value::KeyValue>) -> Vec<KeyValue> {
    attrs
        .map(|(k, v)| KeyValue {
            key: k.as_str().to_string(),
            value: Some(any_value(v)),
            ..Default::default()
        })
        .collect()
}

fn any_value_ref(v: ValueRef<'_>) -> AnyValue {
    match v {
        ValueRef::Str(s) => AnyValue {
            value: Some(any_value::Value::StringValue(s.to_string())),
        },
        ValueRef::Bool(b) => AnyValue {
            value: Some(any_value::Value::BoolValue(b)),
        },
        ValueRef::I64(i) => AnyValue {
            value: Some(any_value::Value::IntValue(i)),
        },
        ValueRef::F64(f) => AnyValue {
            value: Some(any_value::Value::DoubleValue(f)),
        },
        ValueRef::Array(a) => any_value(a),
    }
}

/// Converts one finished record (already finalized: scope attributes stamped).
pub fn span(r: &SpanRecord) -> Span {
    let mut flags = u32::from(r.trace_flags()) | FLAG_HAS_IS_REMOTE;
    if r.parent_remote {
        flags |= FLAG_IS_REMOTE;
    }
    Span {
        trace_id: r.trace_id.to_bytes().to_vec(),
        span_id: r.span_id.to_bytes().to_vec(),
        trace_state: r.trace_state.as_deref().unwrap_or("").to_string(),
        parent_span_id: if r.parent_span_id.is_valid() {
            r.parent_span_id.to_bytes().to_vec()
        } else {
            Vec::new()
        },
        flags,
        name: r.name().to_string(),
        kind: r.kind as i32,
        start_time_unix_nano: r.start_ns,
        end_time_unix_nano: r.end_ns,
        attributes: r
            .payload
            .iter()
            .map(|(k, v)| KeyValue {
                key: k.as_str().to_string(),
                value: Some(any_value_ref(v)),
                ..Default::default()
            })
            .collect(),
        dropped_attributes_count: r.dropped_attributes,
        events: r
            .events
            .iter()
            .map(|e| span::Event {
                time_unix_nano: e.time_ns,
                name: e.name.to_string(),
                attributes: key_values(e.attributes.iter()),
                dropped_attributes_count: 0,
            })
            .collect(),
        dropped_events_count: r.dropped_events,
        links: r
            .links
            .iter()
            .map(|l| span::Link {
                trace_id: l.trace_id.to_bytes().to_vec(),
                span_id: l.span_id.to_bytes().to_vec(),
                trace_state: String::new(),
                attributes: key_values(l.attributes.iter()),
                dropped_attributes_count: 0,
                flags: FLAG_HAS_IS_REMOTE,
            })
            .collect(),
        dropped_links_count: r.dropped_links,
        status: Some(Status {
            message: match &r.status {
                crate::record::Status::Error(m) => m.to_string(),
                _ => String::new(),
            },
            code: r.status.code(),
        }),
    }
}

/// The resource of every request (spans and log records alike).
pub(super) fn proto_resource(resource: &Resource) -> ProtoResource {
    ProtoResource {
        attributes: key_values(resource.attributes.iter()),
        dropped_attributes_count: 0,
        entity_refs: Vec::new(),
    }
}

/// A request's instrumentation scope: fivelens's own scopes carry the package version.
pub(super) fn instrumentation_scope(name: &str) -> InstrumentationScope {
    InstrumentationScope {
        name: name.to_string(),
        version: if name == DEFAULT_SCOPE || name.starts_with("fivelens.") {
            env!("CARGO_PKG_VERSION").to_string()
        } else {
            String::new()
        },
        attributes: Vec::new(),
        dropped_attributes_count: 0,
    }
}

/// Builds export requests for `records`, grouped by instrumentation scope, each request at most
/// `max_bytes` encoded (a single span larger than that travels alone).
pub fn requests(
    records: &[&SpanRecord],
    resource: &Resource,
    max_bytes: usize,
) -> Vec<(ExportTraceServiceRequest, usize)> {
    let proto_resource = proto_resource(resource);
    batches(
        records.iter().copied(),
        span,
        |r| r.instrumentation.as_ref().map(|k| k.as_str()),
        max_bytes,
    )
    .into_iter()
    .map(|(groups, count)| {
        let scopes = groups
            .into_iter()
            .map(|(name, spans)| ScopeSpans {
                scope: Some(instrumentation_scope(name)),
                spans,
                schema_url: semconv::SCHEMA_URL.to_string(),
            })
            .collect();
        finish(&proto_resource, scopes, count)
    })
    .collect()
}

/// One request's worth of encoded items: per scope name, its items; and how many in all.
pub(crate) type Batch<'a, M> = (Vec<(&'a str, Vec<M>)>, usize);

/// Encodes `items` and groups them by instrumentation scope (in first-seen order), in batches of
/// at most `max_bytes` encoded (a single larger item is a batch of its own); each batch with its
/// item count. Shared by span and log requests.
pub(crate) fn batches<'a, T: 'a, M: Message>(
    items: impl IntoIterator<Item = &'a T>,
    encode: impl Fn(&T) -> M,
    scope: impl Fn(&'a T) -> Option<&'a str>,
    max_bytes: usize,
) -> Vec<Batch<'a, M>> {
    let mut out = Vec::new();
    let mut groups: Vec<(&'a str, Vec<M>)> = Vec::new();
    let (mut size, mut count) = (0usize, 0usize);
    for item in items {
        let encoded = encode(item);
        let len = encoded.encoded_len() + 8;
        if count > 0 && size + len > max_bytes {
            out.push((std::mem::take(&mut groups), count));
            size = 0;
            count = 0;
        }
        let name = scope(item).unwrap_or(DEFAULT_SCOPE);
        match groups.iter_mut().find(|(n, _)| *n == name) {
            Some((_, group)) => group.push(encoded),
            None => groups.push((name, vec![encoded])),
        }
        size += len;
        count += 1;
    }
    if count > 0 {
        out.push((groups, count));
    }
    out
}

fn finish(
    resource: &ProtoResource,
    scope_spans: Vec<ScopeSpans>,
    count: usize,
) -> (ExportTraceServiceRequest, usize) {
    (
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(resource.clone()),
                scope_spans,
                schema_url: String::new(),
            }],
        },
        count,
    )
}

/// Number of spans in a request.
pub fn span_count(req: &ExportTraceServiceRequest) -> usize {
    req.resource_spans
        .iter()
        .flat_map(|rs| rs.scope_spans.iter())
        .map(|ss| ss.spans.len())
        .sum()
}

/// Splits a request into two of about half the encoded size each (for a receiver that answered
/// 413). `None` when it holds a single span, which cannot be split.
pub fn split(
    req: &ExportTraceServiceRequest,
) -> Option<(ExportTraceServiceRequest, ExportTraceServiceRequest)> {
    let total = span_count(req);
    if total < 2 {
        return None;
    }
    let half_bytes = req.encoded_len() / 2;
    let mut first = ExportTraceServiceRequest {
        resource_spans: Vec::new(),
    };
    let mut second = ExportTraceServiceRequest {
        resource_spans: Vec::new(),
    };
    let mut acc = 0usize;
    let mut placed_first = 0usize;
    for rs in &req.resource_spans {
        let mut rs_a = ResourceSpans {
            resource: rs.resource.clone(),
            scope_spans: Vec::new(),
            schema_url: rs.schema_url.clone(),
        };
        let mut rs_b = rs_a.clone();
        for ss in &rs.scope_spans {
            let mut ss_a = ScopeSpans {
                scope: ss.scope.clone(),
                spans: Vec::new(),
                schema_url: ss.schema_url.clone(),
            };
            let mut ss_b = ss_a.clone();
            for s in &ss.spans {
                let len = s.encoded_len();
                // The first half takes spans until it reaches half the bytes, but always at
                // least one and never all of them.
                let to_first =
                    placed_first == 0 || (acc + len <= half_bytes && placed_first + 1 < total);
                if to_first {
                    acc += len;
                    placed_first += 1;
                    ss_a.spans.push(s.clone());
                } else {
                    ss_b.spans.push(s.clone());
                }
            }
            if !ss_a.spans.is_empty() {
                rs_a.scope_spans.push(ss_a);
            }
            if !ss_b.spans.is_empty() {
                rs_b.scope_spans.push(ss_b);
            }
        }
        if !rs_a.scope_spans.is_empty() {
            first.resource_spans.push(rs_a);
        }
        if !rs_b.scope_spans.is_empty() {
            second.resource_spans.push(rs_b);
        }
    }
    Some((first, second))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Key;
    use crate::record::{SpanKind, SpanRecord};

    fn rec(n: usize) -> SpanRecord {
        let mut r = SpanRecord::start(&format!("s{n}"), SpanKind::Internal, None);
        r.set_attribute(Key::new("payload"), Value::from("x".repeat(1000)));
        r.end_at(None);
        r
    }

    #[test]
    fn requests_respect_the_size_bound() {
        let records: Vec<SpanRecord> = (0..10).map(rec).collect();
        let refs: Vec<&SpanRecord> = records.iter().collect();
        let reqs = requests(&refs, &Resource::default(), 3000);
        assert!(reqs.len() >= 4);
        assert_eq!(reqs.iter().map(|(_, n)| n).sum::<usize>(), 10);
        for (r, _) in &reqs {
            assert!(r.encoded_len() < 3000 + 1200, "{}", r.encoded_len());
        }
    }

    #[test]
    fn split_halves_and_keeps_every_span() {
        let records: Vec<SpanRecord> = (0..7).map(rec).collect();
        let refs: Vec<&SpanRecord> = records.iter().collect();
        let (req, _) = requests(&refs, &Resource::default(), usize::MAX).remove(0);
        let (a, b) = split(&req).unwrap();
        assert_eq!(span_count(&a) + span_count(&b), 7);
        assert!(span_count(&a) >= 3 && span_count(&b) >= 3);
        let (single, _) = requests(&refs[..1], &Resource::default(), usize::MAX).remove(0);
        assert!(split(&single).is_none());
    }

    #[test]
    fn remote_parent_flag() {
        let mut r = rec(0);
        r.parent_remote = true;
        let s = span(&r);
        assert_eq!(s.flags & 0x300, 0x300);
    }
}
