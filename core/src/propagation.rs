//! Trace context across process boundaries: W3C `traceparent` / `tracestate` (parsed and
//! written by the OpenTelemetry SDK's `TraceContextPropagator`, so the edge cases follow the
//! spec), plus the `fivelens-context` value that carries trace-scoped attributes to downstream
//! fivelens processes.

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceState};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;

use crate::ids::{SpanId, TraceId};
use crate::record::Parent;
use crate::scope::TraceScope;
use crate::semconv;

/// A parent read from a carrier (HTTP headers, MCP `_meta`).
#[derive(Clone, Debug, PartialEq)]
pub struct Incoming {
    /// The remote parent; `None` when `traceparent` was absent or malformed (start a new root).
    pub parent: Option<Parent>,
    /// `tracestate`, when present and valid.
    pub trace_state: Option<String>,
    /// Trace-scoped attributes sent by an upstream fivelens process.
    pub scope: Option<TraceScope>,
}

struct Lookup(Vec<(String, String)>);

impl Extractor for Lookup {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }
}

/// Reads `traceparent`, `tracestate` and `fivelens-context` through `get` (which should match
/// keys case-insensitively for HTTP headers).
pub fn extract(get: &dyn Fn(&str) -> Option<String>) -> Incoming {
    let mut found = Vec::new();
    for key in [semconv::TRACEPARENT, semconv::TRACESTATE] {
        if let Some(v) = get(key) {
            found.push((key.to_string(), v));
        }
    }
    let lookup = Lookup(found);
    let cx = TraceContextPropagator::new().extract(&lookup);
    let span_ref = cx.span();
    let sc = span_ref.span_context();
    let (parent, trace_state) = if sc.is_valid() {
        let state = sc.trace_state().header();
        (
            Some(Parent {
                trace_id: TraceId(u128::from_be_bytes(sc.trace_id().to_bytes())),
                span_id: SpanId(u64::from_be_bytes(sc.span_id().to_bytes())),
                remote: true,
                flags: u8::from(sc.is_sampled()),
            }),
            (!state.is_empty()).then_some(state),
        )
    } else {
        (None, None)
    };
    let scope = get(semconv::FIVELENS_CONTEXT_HEADER)
        .map(|v| TraceScope::from_wire(&v))
        .filter(|s| !s.attributes.is_empty());
    Incoming {
        parent,
        trace_state,
        scope,
    }
}

/// Parses a bare `traceparent` value (and optional `tracestate`).
pub fn parse_traceparent(traceparent: &str, tracestate: Option<&str>) -> Incoming {
    let tp = traceparent.to_string();
    let ts = tracestate.map(str::to_string);
    extract(&move |k: &str| match k {
        semconv::TRACEPARENT => Some(tp.clone()),
        semconv::TRACESTATE => ts.clone(),
        _ => None,
    })
}

struct Sink(Vec<(String, String)>);

impl Injector for Sink {
    fn set(&mut self, key: &str, value: String) {
        if !value.is_empty() {
            self.0.push((key.to_string(), value));
        }
    }
}

/// The carrier entries for a span: `traceparent`, `tracestate` (when set) and, when `scope`
/// has attributes, `fivelens-context`.
pub fn inject(
    trace_id: TraceId,
    span_id: SpanId,
    sampled: bool,
    trace_state: Option<&str>,
    scope: Option<&TraceScope>,
) -> Vec<(String, String)> {
    let mut sink = Sink(Vec::new());
    if trace_id.is_valid() && span_id.is_valid() {
        let state = trace_state
            .and_then(|s| s.parse::<TraceState>().ok())
            .unwrap_or_default();
        let sc = SpanContext::new(
            opentelemetry::trace::TraceId::from_bytes(trace_id.to_bytes()),
            opentelemetry::trace::SpanId::from_bytes(span_id.to_bytes()),
            if sampled {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::default()
            },
            false,
            state,
        );
        let cx = Context::new().with_remote_span_context(sc);
        TraceContextPropagator::new().inject_context(&cx, &mut sink);
    }
    if let Some(scope) = scope {
        let wire = scope.to_wire();
        if !wire.is_empty() {
            sink.0
                .push((semconv::FIVELENS_CONTEXT_HEADER.to_string(), wire));
        }
    }
    sink.0
}

/// `traceparent` for a span.
pub fn traceparent(trace_id: TraceId, span_id: SpanId, sampled: bool) -> String {
    format!(
        "00-{}-{}-{:02x}",
        trace_id.to_hex(),
        span_id.to_hex(),
        u8::from(sampled)
    )
}

/// Case-insensitive lookup over a list of header pairs.
pub fn header_lookup(headers: &HashMap<String, String>) -> impl Fn(&str) -> Option<String> + '_ {
    move |key: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Key;
    use crate::value::Value;

    #[test]
    fn round_trip() {
        let t = TraceId::random();
        let s = SpanId::random();
        let scope = TraceScope::child_of(None, vec![(Key::new("session.id"), Value::from("s1"))]);
        let carrier: HashMap<String, String> = inject(t, s, true, Some("vendor=abc"), Some(&scope))
            .into_iter()
            .collect();
        assert_eq!(carrier["traceparent"], traceparent(t, s, true));
        let got = extract(&header_lookup(&carrier));
        let p = got.parent.unwrap();
        assert_eq!((p.trace_id, p.span_id, p.remote, p.flags), (t, s, true, 1));
        assert_eq!(got.trace_state.as_deref(), Some("vendor=abc"));
        assert_eq!(got.scope, Some(scope));
    }

    #[test]
    fn malformed_traceparent_gives_no_parent() {
        for bad in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        ] {
            assert_eq!(parse_traceparent(bad, None).parent, None, "{bad:?}");
        }
        let ok = parse_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            None,
        );
        assert!(ok.parent.is_some());
    }
}
